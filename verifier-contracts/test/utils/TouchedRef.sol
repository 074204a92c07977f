// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RewardRollup} from "../../src/RewardRollup.sol";

/// @notice Plain-Solidity reference of the touched-list binding (challenge r and evaluation h),
///         written independently of RewardRollup's assembly: `abi.encodePacked` and `%` for r,
///         a direct sum with running powers of r (not Horner) for h.
library TouchedRef {
    /// @dev The BN254 scalar field modulus.
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @dev `uint256(keccak256(abi.encodePacked(prevRoot, newRoot, batchCommitment,
    ///      modelCommitment, policyCommitment, totalReward, words))) % p`.
    function challenge(RewardRollup.BatchHeader memory h, uint256[] memory words)
        internal
        pure
        returns (uint256)
    {
        bytes32 digest = keccak256(
            abi.encodePacked(
                h.prevRoot,
                h.newRoot,
                h.batchCommitment,
                h.modelCommitment,
                h.policyCommitment,
                h.totalReward,
                words
            )
        );
        return uint256(digest) % P;
    }

    /// @dev `Σ_i (address_i + cumulative_i · r) · r^(2i) mod p`, term by term.
    function evaluation(uint256 r, uint256[] memory words) internal pure returns (uint256 sum) {
        r %= P;
        uint256 power = 1; // r^(2i)
        for (uint256 i; i < words.length; ++i) {
            uint256 account = words[i] >> 96;
            uint256 cumulative = words[i] & ((1 << 96) - 1);
            uint256 entry = addmod(account, mulmod(cumulative, r, P), P);
            sum = addmod(sum, mulmod(entry, power, P), P);
            power = mulmod(power, mulmod(r, r, P), P);
        }
    }

    /// @dev The 8 public instances of a batch.
    function instances(RewardRollup.BatchHeader memory h, uint256[] memory words)
        internal
        pure
        returns (uint256[8] memory ins)
    {
        uint256 r = challenge(h, words);
        ins = [
            h.prevRoot,
            h.newRoot,
            h.batchCommitment,
            h.modelCommitment,
            h.policyCommitment,
            h.totalReward,
            r,
            evaluation(r, words)
        ];
    }
}
