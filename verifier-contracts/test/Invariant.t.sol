// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {RewardRollup} from "../src/RewardRollup.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";
import {MockERC20} from "./mocks/MockERC20.sol";
import {ClaimTreeRef} from "./utils/ClaimTreeRef.sol";

/// @notice Drives RewardRollup with random funding, consistent batches (what a sound proof
///         guarantees: totalReward = sum of the cumulative increments), claims against any past
///         batch, rejected proofs and pauses. Records ghost state for the invariants.
contract RollupHandler is Test {
    uint256 internal constant ACTORS = 8;
    uint256 internal constant MODEL = 11;
    uint256 internal constant POLICY = 22;

    RewardRollup public rollup;
    MockERC20 public token;
    MockVerifier public verifier;
    address public owner = address(0xA11CE);

    address[ACTORS] public actors;
    uint256[ACTORS] public earned; // latest proven cumulative per actor
    uint256[ACTORS] public lastClaimed; // ghost of claimed[actor], checked to never decrease
    uint256[][] internal batchWords; // touched words of batch id (index + 1)

    uint256 public decreases; // times claimed[actor] went down (must stay 0)
    uint256 public overpaid; // times a claim paid more than earned - claimed (must stay 0)
    uint256 public calls;
    uint256 public paidClaims;

    constructor() {
        token = new MockERC20();
        verifier = new MockVerifier(false);
        rollup = new RewardRollup(
            IERC20(address(token)), address(verifier), MODEL, POLICY, 1, 0, owner, owner
        );
        for (uint256 i; i < ACTORS; ++i) {
            actors[i] = address(uint160(0x10000 * (i + 1))); // sorted
        }
    }

    modifier tracked() {
        ++calls;
        _;
        for (uint256 i; i < ACTORS; ++i) {
            uint256 c = rollup.claimed(actors[i]);
            if (c < lastClaimed[i]) ++decreases;
            lastClaimed[i] = c;
        }
    }

    function batchCount() external view returns (uint256) {
        return batchWords.length;
    }

    function fund(uint256 amount) external tracked {
        amount = bound(amount, 1, 1e24);
        token.mint(address(this), amount);
        token.approve(address(rollup), amount);
        rollup.fund(amount);
    }

    function submit(uint256 mask, uint256 seed, bool rejectProof) external tracked {
        mask = bound(mask, 1, (1 << ACTORS) - 1);
        uint256 available = rollup.totalFunded() - rollup.totalRewarded();
        uint256 n;
        for (uint256 i; i < ACTORS; ++i) {
            if (mask & (1 << i) != 0) ++n;
        }
        uint256[] memory words = new uint256[](n);
        uint256[ACTORS] memory next = earned;
        uint256 total;
        uint256 k;
        for (uint256 i; i < ACTORS; ++i) {
            if (mask & (1 << i) == 0) continue;
            uint256 inc = uint256(keccak256(abi.encode(seed, i))) % (available / n + 1);
            next[i] = earned[i] + inc;
            total += inc;
            words[k++] = ClaimTreeRef.pack(actors[i], next[i]);
        }
        RewardRollup.BatchHeader memory h = RewardRollup.BatchHeader({
            batchId: rollup.lastBatchId() + 1,
            prevRoot: rollup.stateRoot(),
            newRoot: uint256(keccak256(abi.encode("root", seed))) >> 8,
            batchCommitment: seed,
            modelCommitment: MODEL,
            policyCommitment: POLICY,
            totalReward: total
        });
        if (rollup.paused()) {
            vm.expectRevert(RewardRollup.ContractPaused.selector);
            rollup.submitBatch(h, words, "");
            return;
        }
        if (rejectProof) {
            verifier.setMode(MockVerifier.Mode.RevertEmpty);
            vm.expectRevert(RewardRollup.InvalidProof.selector);
            rollup.submitBatch(h, words, "");
            verifier.setMode(MockVerifier.Mode.Accept);
            return;
        }
        rollup.submitBatch(h, words, "");
        earned = next;
        batchWords.push(words);
    }

    function claim(uint256 actorSeed, uint256 batchSeed) external tracked {
        if (batchWords.length == 0) return;
        uint256 b = bound(batchSeed, 0, batchWords.length - 1);
        uint256[] memory words = batchWords[b];
        uint256 index = bound(actorSeed, 0, words.length - 1);
        address account = ClaimTreeRef.accountOf(words[index]);
        uint256 cumulative = ClaimTreeRef.cumulativeOf(words[index]);
        bytes32[] memory proof = ClaimTreeRef.proof(ClaimTreeRef.leaves(words), index);
        uint64 batchId = uint64(b + 1);

        uint256 already = rollup.claimed(account);
        if (rollup.paused()) {
            vm.expectRevert(RewardRollup.ContractPaused.selector);
            rollup.claim(batchId, account, cumulative, proof);
            return;
        }
        if (cumulative <= already) {
            vm.expectRevert(RewardRollup.NothingToClaim.selector);
            rollup.claim(batchId, account, cumulative, proof);
            return;
        }
        uint256 balanceBefore = token.balanceOf(account);
        rollup.claim(batchId, account, cumulative, proof);
        ++paidClaims;
        uint256 paid = token.balanceOf(account) - balanceBefore;
        uint256 actor = _actorIndex(account);
        if (paid != cumulative - already || rollup.claimed(account) > earned[actor]) ++overpaid;
    }

    function claimForged(uint256 actorSeed, uint256 extra) external tracked {
        if (batchWords.length == 0 || rollup.paused()) return;
        uint256[] memory words = batchWords[batchWords.length - 1];
        uint256 index = bound(actorSeed, 0, words.length - 1);
        extra = bound(extra, 1, 1e24);
        bytes32[] memory proof = ClaimTreeRef.proof(ClaimTreeRef.leaves(words), index);
        address account = ClaimTreeRef.accountOf(words[index]);
        uint256 forged = ClaimTreeRef.cumulativeOf(words[index]) + extra;
        vm.expectRevert(RewardRollup.InvalidClaimProof.selector);
        rollup.claim(uint64(batchWords.length), account, forged, proof);
    }

    /// Unpauses when paused; pauses one time in four otherwise (so most sequences settle and claim).
    function togglePause(uint256 dice) external tracked {
        bool paused = rollup.paused();
        if (!paused && dice % 4 != 0) return;
        vm.prank(owner);
        if (paused) rollup.unpause();
        else rollup.pause();
    }

    function _actorIndex(address a) internal view returns (uint256) {
        for (uint256 i; i < ACTORS; ++i) {
            if (actors[i] == a) return i;
        }
        revert("not an actor");
    }
}

/// @notice Invariants: total claimed ≤ total proven ≤ total funded; the contract holds what
///         is funded and not yet claimed; a claimed amount never decreases and never exceeds
///         what was proven for the account; claimed amounts sum to totalClaimed.
contract RewardRollupInvariantTest is Test {
    RollupHandler internal handler;
    RewardRollup internal rollup;

    function setUp() public {
        handler = new RollupHandler();
        rollup = handler.rollup();
        targetContract(address(handler));
    }

    function invariant_claimedLeProvenLeFunded() public view {
        assertLe(rollup.totalClaimed(), rollup.totalRewarded());
        assertLe(rollup.totalRewarded(), rollup.totalFunded());
    }

    function invariant_solvent() public view {
        assertEq(
            handler.token().balanceOf(address(rollup)),
            uint256(rollup.totalFunded()) - rollup.totalClaimed()
        );
    }

    function invariant_claimedNeverDecreasesNorExceedsEarned() public view {
        assertEq(handler.decreases(), 0);
        assertEq(handler.overpaid(), 0);
        uint256 sum;
        for (uint256 i; i < 8; ++i) {
            address a = handler.actors(i);
            uint256 c = rollup.claimed(a);
            assertGe(c, handler.lastClaimed(i));
            assertLe(c, handler.earned(i));
            assertEq(handler.token().balanceOf(a), c);
            sum += c;
        }
        assertEq(sum, rollup.totalClaimed());
    }

    function invariant_batchIdsMatchHistory() public view {
        assertEq(rollup.lastBatchId(), handler.batchCount());
    }
}
