// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Reference claim tree in plain Solidity, written from merit-core's `ClaimTree`
///         (independently of RewardRollup's assembly): leaves in order, neighbours (0,1), (2,3),
///         … hashed with OpenZeppelin's commutative keccak, an odd last node moves up unchanged.
library ClaimTreeRef {
    uint256 internal constant CUMULATIVE_MASK = (1 << 96) - 1;

    function leaf(address who, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(who, amount))));
    }

    function pack(address who, uint256 amount) internal pure returns (uint256) {
        require(amount <= CUMULATIVE_MASK, "cumulative >= 2^96");
        return (uint256(uint160(who)) << 96) | amount;
    }

    function accountOf(uint256 word) internal pure returns (address) {
        return address(uint160(word >> 96));
    }

    function cumulativeOf(uint256 word) internal pure returns (uint256) {
        return word & CUMULATIVE_MASK;
    }

    function leaves(uint256[] memory touched) internal pure returns (bytes32[] memory out) {
        out = new bytes32[](touched.length);
        for (uint256 i; i < touched.length; ++i) {
            out[i] = leaf(accountOf(touched[i]), cumulativeOf(touched[i]));
        }
    }

    /// @dev The next level up.
    function up(bytes32[] memory level) internal pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 j; j < next.length; ++j) {
            next[j] = 2 * j + 1 < level.length
                ? Hashes.commutativeKeccak256(level[2 * j], level[2 * j + 1])
                : level[2 * j];
        }
    }

    function root(bytes32[] memory level) internal pure returns (bytes32) {
        if (level.length == 0) return bytes32(0);
        while (level.length > 1) {
            level = up(level);
        }
        return level[0];
    }

    /// @dev Sibling hashes of leaf `index`, leaf-up (merit-core `ClaimTree::proof`).
    function proof(bytes32[] memory level, uint256 index) internal pure returns (bytes32[] memory) {
        bytes32[] memory buf = new bytes32[](256);
        uint256 len;
        while (level.length > 1) {
            if ((index ^ 1) < level.length) buf[len++] = level[index ^ 1];
            index >>= 1;
            level = up(level);
        }
        bytes32[] memory out = new bytes32[](len);
        for (uint256 i; i < len; ++i) {
            out[i] = buf[i];
        }
        return out;
    }
}
