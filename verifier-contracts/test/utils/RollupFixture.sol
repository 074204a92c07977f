// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {RewardRollup} from "../../src/RewardRollup.sol";
import {MockVerifier} from "../mocks/MockVerifier.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {ClaimTreeRef} from "./ClaimTreeRef.sol";
import {TouchedRef} from "./TouchedRef.sol";

/// @notice Deploys a RewardRollup with a mock verifier and a plain ERC-20, and builds batches.
abstract contract RollupFixture is Test {
    uint256 internal constant MODEL =
        0x116e240a0deb6dd1e1ea91cb25a9267d9aab041537748e512c5cac22b775f6d3;
    uint256 internal constant POLICY =
        0x2601262e68833d4f10b11ab99de1f8f0ece24961232037b0c509055461ac07a2;
    uint256 internal constant GENESIS =
        0x0000000022deacddccd693f24562d095c680d77520edc6f2d11a69cba530147b;
    uint256 internal constant DELAY = 2 days;

    address internal owner = makeAddr("owner");
    address internal guardian = makeAddr("guardian");
    address internal funder = makeAddr("funder");
    address internal stranger = makeAddr("stranger");

    MockERC20 internal token;
    MockVerifier internal verifier;
    RewardRollup internal rollup;

    function setUp() public virtual {
        token = new MockERC20();
        verifier = new MockVerifier(true);
        rollup = _deploy(IERC20(address(token)), address(verifier));
    }

    function _deploy(IERC20 token_, address verifier_) internal returns (RewardRollup) {
        return new RewardRollup(token_, verifier_, MODEL, POLICY, GENESIS, DELAY, owner, guardian);
    }

    function _fund(uint256 amount) internal {
        token.mint(funder, amount);
        vm.startPrank(funder);
        token.approve(address(rollup), amount);
        rollup.fund(amount);
        vm.stopPrank();
    }

    /// @dev The next valid header for `rollup`, with a new root derived from the batch id.
    function _header(uint256 totalReward)
        internal
        view
        returns (RewardRollup.BatchHeader memory h)
    {
        return _headerFor(rollup, totalReward);
    }

    function _headerFor(RewardRollup r, uint256 totalReward)
        internal
        view
        returns (RewardRollup.BatchHeader memory h)
    {
        h.batchId = r.lastBatchId() + 1;
        h.prevRoot = r.stateRoot();
        h.newRoot = uint256(keccak256(abi.encode("root", h.batchId))) >> 8;
        h.batchCommitment = uint256(keccak256(abi.encode("batch", h.batchId))) >> 8;
        h.modelCommitment = r.modelCommitment();
        h.policyCommitment = r.policyCommitment();
        h.totalReward = totalReward;
    }

    /// @dev `n` distinct accounts derived from `seed`, sorted by address.
    function _accounts(uint256 n, uint256 seed) internal pure returns (address[] memory a) {
        a = new address[](n);
        for (uint256 i; i < n; ++i) {
            a[i] = address(uint160(uint256(keccak256(abi.encode(seed, i)))));
        }
        for (uint256 i = 1; i < n; ++i) {
            address x = a[i];
            uint256 j = i;
            while (j > 0 && a[j - 1] > x) {
                a[j] = a[j - 1];
                --j;
            }
            a[j] = x;
        }
    }

    function _touched(address[] memory accounts, uint256[] memory cumulatives)
        internal
        pure
        returns (uint256[] memory words)
    {
        words = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            words[i] = ClaimTreeRef.pack(accounts[i], cumulatives[i]);
        }
    }

    function _sumCumulative(uint256[] memory words) internal pure returns (uint256 sum) {
        for (uint256 i; i < words.length; ++i) {
            sum += ClaimTreeRef.cumulativeOf(words[i]);
        }
    }

    /// @dev Submits the next batch with `words` (fresh accounts: totalReward = sum of cumulatives)
    ///      and an arbitrary proof.
    function _submit(uint256[] memory words) internal returns (RewardRollup.BatchHeader memory h) {
        return _submit(words, _sumCumulative(words));
    }

    function _submit(uint256[] memory words, uint256 totalReward)
        internal
        returns (RewardRollup.BatchHeader memory h)
    {
        h = _header(totalReward);
        rollup.submitBatch(h, words, hex"c0ffee");
    }

    function _proof(uint256[] memory words, uint256 index)
        internal
        pure
        returns (bytes32[] memory)
    {
        return ClaimTreeRef.proof(ClaimTreeRef.leaves(words), index);
    }

    /// @dev The instances computed by the plain-Solidity reference (`TouchedRef`).
    function _expectedInstances(RewardRollup.BatchHeader memory h, uint256[] memory words)
        internal
        pure
        returns (uint256[8] memory ins)
    {
        return TouchedRef.instances(h, words);
    }
}
