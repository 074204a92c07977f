// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {RewardRollup} from "../src/RewardRollup.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";
import {MockERC20} from "./mocks/MockERC20.sol";
import {FeeOnTransferToken} from "./mocks/FeeOnTransferToken.sol";
import {ReentrantToken} from "./mocks/ReentrantToken.sol";
import {ClaimTreeRef} from "./utils/ClaimTreeRef.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";
import {TouchedRef} from "./utils/TouchedRef.sol";

/// @notice Unit tests: every path and every custom error of RewardRollup.
contract RewardRollupTest is RollupFixture {
    // events re-declared for expectEmit
    event RollupInitialized(
        IERC20 indexed token,
        address indexed verifier,
        uint256 modelCommitment,
        uint256 policyCommitment,
        uint256 genesisRoot,
        uint256 timelockDelay
    );
    event BatchSettled(
        uint64 indexed batchId,
        uint256 prevRoot,
        uint256 newRoot,
        bytes32 claimRoot,
        uint256 totalReward,
        uint256 challenge,
        uint256 touchedCount
    );
    event Claimed(
        address indexed account, uint64 indexed batchId, uint256 amount, uint256 cumulative
    );
    event Funded(address indexed from, uint256 amount, uint256 totalFunded);
    event VerifierChangeProposed(address indexed verifier, uint256 eta);
    event VerifierChanged(address indexed previousVerifier, address indexed newVerifier);
    event VerifierChangeCancelled(address indexed verifier);
    event ModelCommitmentChangeProposed(uint256 commitment, uint256 eta);
    event ModelCommitmentChanged(uint256 previousCommitment, uint256 newCommitment);
    event ModelCommitmentChangeCancelled(uint256 commitment);
    event PolicyCommitmentChangeProposed(uint256 commitment, uint256 eta);
    event PolicyCommitmentChanged(uint256 previousCommitment, uint256 newCommitment);
    event PolicyCommitmentChangeCancelled(uint256 commitment);
    event GuardianChanged(address indexed previousGuardian, address indexed newGuardian);
    event Paused(address account);
    event Unpaused(address account);

    address internal alice = address(0x1000000000000000000000000000000000000001);
    address internal bob = address(0x2000000000000000000000000000000000000002);
    address internal carol = address(0x3000000000000000000000000000000000000003);

    function _abc(uint256 a, uint256 b, uint256 c) internal view returns (uint256[] memory w) {
        w = new uint256[](3);
        w[0] = ClaimTreeRef.pack(alice, a);
        w[1] = ClaimTreeRef.pack(bob, b);
        w[2] = ClaimTreeRef.pack(carol, c);
    }

    // ------------------------------------------------------------ constructor

    function test_constructor_setsState() public {
        vm.expectEmit(true, true, true, true);
        emit RollupInitialized(
            IERC20(address(token)), address(verifier), MODEL, POLICY, GENESIS, DELAY
        );
        vm.expectEmit(true, true, true, true);
        emit GuardianChanged(address(0), guardian);
        RewardRollup r = _deploy(IERC20(address(token)), address(verifier));
        assertEq(address(r.token()), address(token));
        assertEq(r.verifier(), address(verifier));
        assertEq(r.modelCommitment(), MODEL);
        assertEq(r.policyCommitment(), POLICY);
        assertEq(r.stateRoot(), GENESIS);
        assertEq(r.timelockDelay(), DELAY);
        assertEq(r.owner(), owner);
        assertEq(r.guardian(), guardian);
        assertEq(r.lastBatchId(), 0);
        assertFalse(r.paused());
        assertEq(r.totalFunded(), 0);
        assertEq(r.totalRewarded(), 0);
        assertEq(r.totalClaimed(), 0);
        assertEq(r.NUM_INSTANCES(), 8);
    }

    function test_constructor_revertsZeroToken() public {
        vm.expectRevert(RewardRollup.ZeroAddress.selector);
        _deploy(IERC20(address(0)), address(verifier));
    }

    function test_constructor_revertsVerifierWithoutCode() public {
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.VerifierHasNoCode.selector, stranger));
        _deploy(IERC20(address(token)), stranger);
    }

    function test_constructor_revertsLongDelay() public {
        uint256 max = 30 days;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.TimelockDelayTooLong.selector, max + 1, max)
        );
        new RewardRollup(
            IERC20(address(token)),
            address(verifier),
            MODEL,
            POLICY,
            GENESIS,
            max + 1,
            owner,
            guardian
        );
    }

    function test_constructor_revertsZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new RewardRollup(
            IERC20(address(token)),
            address(verifier),
            MODEL,
            POLICY,
            GENESIS,
            DELAY,
            address(0),
            guardian
        );
    }

    // ------------------------------------------------------------ submitBatch

    function test_submitBatch_settles() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        bytes32 root = ClaimTreeRef.root(ClaimTreeRef.leaves(w));
        uint256 r = TouchedRef.challenge(h, w);

        vm.expectEmit(true, true, true, true, address(rollup));
        emit BatchSettled(1, GENESIS, h.newRoot, root, 600, r, 3);
        vm.prank(stranger); // anyone may submit a proven batch
        rollup.submitBatch(h, w, hex"01020304");

        assertEq(rollup.claimRoot(1), root);
        assertEq(rollup.stateRoot(), h.newRoot);
        assertEq(rollup.lastBatchId(), 1);
        assertEq(rollup.totalRewarded(), 600);
        assertEq(verifier.calls(), 1);
    }

    /// @dev r and h of `_abc(100, 200, 300)` under `h`, written out from their definitions.
    function _bindAbcByHand(RewardRollup.BatchHeader memory h, uint256[] memory w)
        internal
        view
        returns (uint256 r, uint256 ev)
    {
        assertEq(w.length, 3);
        uint256 p = TouchedRef.P;
        bytes memory header = abi.encodePacked(
            h.prevRoot,
            h.newRoot,
            h.batchCommitment,
            h.modelCommitment,
            h.policyCommitment,
            h.totalReward
        );
        r = uint256(keccak256(abi.encodePacked(header, w[0], w[1], w[2]))) % p;
        uint256 r2 = mulmod(r, r, p);
        // (alice + 100 r) + (bob + 200 r) r^2 + (carol + 300 r) r^4
        uint256 e0 = addmod(uint160(alice), mulmod(100, r, p), p);
        uint256 e1 = addmod(uint160(bob), mulmod(200, r, p), p);
        uint256 e2 = addmod(uint160(carol), mulmod(300, r, p), p);
        ev = addmod(e0, addmod(mulmod(e1, r2, p), mulmod(e2, mulmod(r2, r2, p), p), p), p);
    }

    function test_submitBatch_verifierCalldataIsInstancesThenProof() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        bytes memory proof =
            hex"deadbeef00112233445566778899aabbccddeeff0102030405060708090a0b0c0d0e0f1011";
        rollup.submitBatch(h, w, proof);

        uint256[8] memory ins = _expectedInstances(h, w);
        bytes memory expected = abi.encodePacked(ins, proof);
        bytes memory got = verifier.lastInput();
        assertEq(got.length, 8 * 32 + proof.length);
        assertEq(got, expected);
        // word by word, in the protocol order: r and h written out from their definitions
        (uint256 r, uint256 ev) = _bindAbcByHand(h, w);
        uint256[8] memory order = [
            h.prevRoot,
            h.newRoot,
            h.batchCommitment,
            h.modelCommitment,
            h.policyCommitment,
            h.totalReward,
            r,
            ev
        ];
        for (uint256 i; i < 8; ++i) {
            uint256 word;
            assembly {
                word := mload(add(add(got, 0x20), mul(i, 0x20)))
            }
            assertEq(word, order[i]);
        }
        // the view helpers agree
        uint256[8] memory viewIns = rollup.publicInstances(h, w);
        for (uint256 i; i < 8; ++i) {
            assertEq(viewIns[i], ins[i]);
        }
        assertEq(rollup.touchedChallenge(h, w), r);
        assertEq(rollup.touchedEvaluation(r, w), ev);
    }

    /// The proof's instances 6 and 7 change with the list (and r with any header field), so the
    /// verifier sees a different statement for any other list.
    function test_submitBatch_instancesBindListAndHeader() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        uint256[8] memory ins = rollup.publicInstances(h, w);

        uint256[] memory w2 = _abc(100, 201, 299); // same total, one unit moved
        uint256[8] memory ins2 = rollup.publicInstances(h, w2);
        assertTrue(ins2[6] != ins[6], "r binds the list");
        assertTrue(ins2[7] != ins[7], "h binds the list");
        assertTrue(rollup.touchedEvaluation(ins[6], w2) != ins[7], "h at the same r");

        RewardRollup.BatchHeader memory h2 = _header(600);
        h2.batchCommitment ^= 1;
        assertTrue(rollup.touchedChallenge(h2, w) != ins[6], "r binds the header");
        h2 = _header(600);
        h2.batchId = 77; // not an instance: r ignores it
        assertEq(rollup.touchedChallenge(h2, w), ins[6], "batchId not hashed");

        rollup.submitBatch(h, w2, hex"00");
        assertEq(verifier.lastInput(), abi.encodePacked(ins2, hex"00"));
    }

    function test_submitBatch_emptyProofStillCallsVerifier() public {
        _fund(10);
        uint256[] memory w = _abc(1, 2, 3);
        RewardRollup.BatchHeader memory h = _header(6);
        rollup.submitBatch(h, w, "");
        assertEq(verifier.lastInput(), abi.encodePacked(_expectedInstances(h, w)));
    }

    function test_submitBatch_chainsBatches() public {
        _fund(10_000);
        RewardRollup.BatchHeader memory h1 = _submit(_abc(100, 200, 300));
        assertEq(rollup.stateRoot(), h1.newRoot);
        RewardRollup.BatchHeader memory h2 = _submit(_abc(150, 200, 1300), 1050);
        assertEq(h2.batchId, 2);
        assertEq(h2.prevRoot, h1.newRoot);
        assertEq(rollup.lastBatchId(), 2);
        assertEq(rollup.totalRewarded(), 1650);
        assertTrue(rollup.claimRoot(1) != rollup.claimRoot(2));
    }

    function test_submitBatch_zeroRewardAllowed() public {
        uint256[] memory w = _abc(0, 0, 0);
        _submit(w, 0);
        assertEq(rollup.lastBatchId(), 1);
        assertEq(rollup.totalRewarded(), 0);
    }

    function test_submitBatch_exactFundingAllowed() public {
        _fund(600);
        _submit(_abc(100, 200, 300));
        assertEq(rollup.totalRewarded(), rollup.totalFunded());
    }

    function test_submitBatch_revertsWhenPaused() public {
        _fund(1000);
        vm.prank(guardian);
        rollup.pause();
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        vm.expectRevert(RewardRollup.ContractPaused.selector);
        rollup.submitBatch(h, w, "");
    }

    function test_submitBatch_revertsWrongBatchId() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        h.batchId = 2;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.UnexpectedBatchId.selector, uint64(1), uint64(2))
        );
        rollup.submitBatch(h, w, "");
        h.batchId = 0;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.UnexpectedBatchId.selector, uint64(1), uint64(0))
        );
        rollup.submitBatch(h, w, "");
        // a replay of a settled batch
        h.batchId = 1;
        rollup.submitBatch(h, w, "");
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.UnexpectedBatchId.selector, uint64(2), uint64(1))
        );
        rollup.submitBatch(h, w, "");
    }

    function test_submitBatch_revertsStaleRoot() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        h.prevRoot = GENESIS + 1;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.StateRootMismatch.selector, GENESIS, GENESIS + 1)
        );
        rollup.submitBatch(h, w, "");
    }

    function test_submitBatch_revertsWrongModel() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        h.modelCommitment = 7;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.ModelCommitmentMismatch.selector, MODEL, 7)
        );
        rollup.submitBatch(h, w, "");
    }

    function test_submitBatch_revertsWrongPolicy() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        h.policyCommitment = 9;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.PolicyCommitmentMismatch.selector, POLICY, 9)
        );
        rollup.submitBatch(h, w, "");
    }

    function test_submitBatch_revertsInsufficientFunding() public {
        _fund(599);
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.InsufficientFunding.selector, 599, 600));
        rollup.submitBatch(h, w, "");
        // across batches: the second batch only has what the first left
        _fund(1);
        rollup.submitBatch(h, w, "");
        _fund(50);
        RewardRollup.BatchHeader memory h2 = _header(51);
        uint256[] memory w2 = _abc(151, 200, 300);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.InsufficientFunding.selector, 50, 51));
        rollup.submitBatch(h2, w2, "");
        // a huge totalReward does not overflow
        h2.totalReward = type(uint256).max;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.InsufficientFunding.selector, 50, type(uint256).max)
        );
        rollup.submitBatch(h2, w2, "");
    }

    function test_submitBatch_revertsEmptyTouched() public {
        RewardRollup.BatchHeader memory h = _header(0);
        vm.expectRevert(RewardRollup.EmptyTouchedList.selector);
        rollup.submitBatch(h, new uint256[](0), "");
    }

    function test_submitBatch_revertsUnsortedOrDuplicate() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        (w[1], w[2]) = (w[2], w[1]);
        RewardRollup.BatchHeader memory h = _header(600);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TouchedNotSorted.selector, 2));
        rollup.submitBatch(h, w, "");
        // the same account twice
        w = _abc(100, 200, 300);
        w[1] = ClaimTreeRef.pack(alice, 5);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TouchedNotSorted.selector, 1));
        rollup.submitBatch(h, w, "");
    }

    function test_submitBatch_rejectedProofChangesNothing() public {
        _fund(1000);
        _submit(_abc(100, 200, 300));
        bytes32 root1 = rollup.claimRoot(1);
        uint256 state = rollup.stateRoot();

        uint256[] memory w = _abc(150, 250, 350);
        RewardRollup.BatchHeader memory h = _header(150);
        verifier.setMode(MockVerifier.Mode.RevertEmpty);
        vm.expectRevert(RewardRollup.InvalidProof.selector);
        rollup.submitBatch(h, w, hex"bad0");
        verifier.setMode(MockVerifier.Mode.RevertWithReason);
        vm.expectRevert(RewardRollup.InvalidProof.selector);
        rollup.submitBatch(h, w, hex"bad0");

        assertEq(rollup.stateRoot(), state);
        assertEq(rollup.lastBatchId(), 1);
        assertEq(rollup.totalRewarded(), 600);
        assertEq(rollup.claimRoot(1), root1);
        assertEq(rollup.claimRoot(2), bytes32(0));
        assertEq(verifier.calls(), 1);
    }

    function test_submitBatch_revertsVerifierWithoutCode() public {
        _fund(1000);
        vm.etch(address(verifier), "");
        uint256[] memory w = _abc(100, 200, 300);
        RewardRollup.BatchHeader memory h = _header(600);
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.VerifierHasNoCode.selector, address(verifier))
        );
        rollup.submitBatch(h, w, "");
    }

    function test_computeClaimRoot_viewMatchesReference() public view {
        uint256[] memory w = _abc(100, 200, 300);
        assertEq(rollup.computeClaimRoot(w), ClaimTreeRef.root(ClaimTreeRef.leaves(w)));
        assertEq(rollup.packTouched(alice, 100), w[0]);
        assertEq(rollup.claimLeaf(alice, 100), ClaimTreeRef.leaf(alice, 100));
    }

    function test_computeClaimRoot_revertsEmpty() public {
        vm.expectRevert(RewardRollup.EmptyTouchedList.selector);
        rollup.computeClaimRoot(new uint256[](0));
    }

    // ------------------------------------------------------------ claim

    function test_claim_paysAndRecords() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        _submit(w);
        bytes32[] memory p = _proof(w, 1);
        assertTrue(rollup.verifyClaim(1, bob, 200, p));
        assertEq(rollup.claimable(bob, 200), 200);

        vm.expectEmit(true, true, true, true, address(rollup));
        emit Claimed(bob, 1, 200, 200);
        vm.prank(stranger); // anyone may claim for an account; funds go to the account
        rollup.claim(1, bob, 200, p);

        assertEq(token.balanceOf(bob), 200);
        assertEq(token.balanceOf(stranger), 0);
        assertEq(rollup.claimed(bob), 200);
        assertEq(rollup.totalClaimed(), 200);
        assertEq(token.balanceOf(address(rollup)), 800);
        assertEq(rollup.claimable(bob, 200), 0);
    }

    function test_claim_allAccounts() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        _submit(w);
        rollup.claim(1, alice, 100, _proof(w, 0));
        rollup.claim(1, bob, 200, _proof(w, 1));
        rollup.claim(1, carol, 300, _proof(w, 2));
        assertEq(rollup.totalClaimed(), 600);
        assertEq(token.balanceOf(address(rollup)), 400);
    }

    function test_claim_singleLeafTreeEmptyProof() public {
        _fund(1000);
        uint256[] memory w = new uint256[](1);
        w[0] = ClaimTreeRef.pack(alice, 77);
        _submit(w);
        assertEq(rollup.claimRoot(1), ClaimTreeRef.leaf(alice, 77));
        rollup.claim(1, alice, 77, new bytes32[](0));
        assertEq(token.balanceOf(alice), 77);
    }

    function test_claim_revertsDoubleClaim() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        _submit(w);
        bytes32[] memory p = _proof(w, 0);
        rollup.claim(1, alice, 100, p);
        vm.expectRevert(RewardRollup.NothingToClaim.selector);
        rollup.claim(1, alice, 100, p);
        assertEq(token.balanceOf(alice), 100);
    }

    function test_claim_zeroCumulativeReverts() public {
        uint256[] memory w = _abc(0, 0, 0);
        _submit(w, 0);
        vm.expectRevert(RewardRollup.NothingToClaim.selector);
        rollup.claim(1, alice, 0, _proof(w, 0));
    }

    function test_claim_olderRootAfterNewerReverts() public {
        _fund(10_000);
        uint256[] memory w1 = _abc(100, 200, 300);
        _submit(w1);
        uint256[] memory w2 = _abc(180, 200, 1300);
        _submit(w2, 1080);
        // claim the newer root first: everything so far
        rollup.claim(2, alice, 180, _proof(w2, 0));
        assertEq(token.balanceOf(alice), 180);
        // the older root pays nothing more
        bytes32[] memory p1 = _proof(w1, 0);
        vm.expectRevert(RewardRollup.NothingToClaim.selector);
        rollup.claim(1, alice, 100, p1);
        assertEq(rollup.claimable(alice, 100), 0);
    }

    function test_claim_olderThenNewerPaysDifference() public {
        _fund(10_000);
        uint256[] memory w1 = _abc(100, 200, 300);
        _submit(w1);
        uint256[] memory w2 = _abc(180, 200, 1300);
        _submit(w2, 1080);
        rollup.claim(1, carol, 300, _proof(w1, 2));
        vm.expectEmit(true, true, true, true, address(rollup));
        emit Claimed(carol, 2, 1000, 1300);
        rollup.claim(2, carol, 1300, _proof(w2, 2));
        assertEq(token.balanceOf(carol), 1300);
        assertEq(rollup.claimed(carol), 1300);
        // bob's cumulative did not change between the batches: one claim only
        rollup.claim(1, bob, 200, _proof(w1, 1));
        bytes32[] memory pb = _proof(w2, 1);
        vm.expectRevert(RewardRollup.NothingToClaim.selector);
        rollup.claim(2, bob, 200, pb);
    }

    function test_claim_revertsWhenPaused() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        _submit(w);
        vm.prank(guardian);
        rollup.pause();
        bytes32[] memory p = _proof(w, 0);
        vm.expectRevert(RewardRollup.ContractPaused.selector);
        rollup.claim(1, alice, 100, p);
        vm.prank(owner);
        rollup.unpause();
        rollup.claim(1, alice, 100, p);
        assertEq(token.balanceOf(alice), 100);
    }

    function test_claim_revertsUnknownBatch() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        _submit(w);
        bytes32[] memory p = _proof(w, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.UnknownBatch.selector, uint64(2)));
        rollup.claim(2, alice, 100, p);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.UnknownBatch.selector, uint64(0)));
        rollup.claim(0, alice, 100, p);
        assertFalse(rollup.verifyClaim(2, alice, 100, p));
    }

    function test_claim_revertsInvalidProof() public {
        _fund(1000);
        uint256[] memory w = _abc(100, 200, 300);
        _submit(w);
        bytes32[] memory p = _proof(w, 0);
        // inflated amount
        vm.expectRevert(RewardRollup.InvalidClaimProof.selector);
        rollup.claim(1, alice, 101, p);
        // someone else's proof
        vm.expectRevert(RewardRollup.InvalidClaimProof.selector);
        rollup.claim(1, bob, 100, p);
        // tampered sibling
        p[0] = bytes32(uint256(p[0]) ^ 1);
        vm.expectRevert(RewardRollup.InvalidClaimProof.selector);
        rollup.claim(1, alice, 100, p);
        // no proof at all (three leaves: the leaf is not the root)
        bytes32[] memory empty = new bytes32[](0);
        vm.expectRevert(RewardRollup.InvalidClaimProof.selector);
        rollup.claim(1, alice, 100, empty);
        assertFalse(rollup.verifyClaim(1, alice, 101, _proof(w, 0)));
    }

    // ------------------------------------------------------------ fund

    function test_fund_pullsAndCounts() public {
        token.mint(funder, 500);
        vm.startPrank(funder);
        token.approve(address(rollup), 500);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit Funded(funder, 300, 300);
        rollup.fund(300);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit Funded(funder, 200, 500);
        rollup.fund(200);
        vm.stopPrank();
        assertEq(rollup.totalFunded(), 500);
        assertEq(token.balanceOf(address(rollup)), 500);
        assertEq(token.balanceOf(funder), 0);
    }

    function test_fund_revertsZero() public {
        vm.expectRevert(RewardRollup.ZeroAmount.selector);
        rollup.fund(0);
    }

    function test_fund_revertsWithoutAllowance() public {
        token.mint(funder, 500);
        vm.prank(funder);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(rollup), 0, 500
            )
        );
        rollup.fund(500);
    }

    function test_fund_revertsOverflow() public {
        _fund(type(uint128).max);
        token.mint(funder, 1);
        vm.startPrank(funder);
        token.approve(address(rollup), 1);
        vm.expectRevert(RewardRollup.FundingOverflow.selector);
        rollup.fund(1);
        vm.stopPrank();
    }

    function test_fund_allowedWhilePaused() public {
        vm.prank(owner);
        rollup.pause();
        _fund(10);
        assertEq(rollup.totalFunded(), 10);
    }

    function test_fund_directTransferNotCounted() public {
        token.mint(address(rollup), 1000);
        assertEq(rollup.totalFunded(), 0);
        uint256[] memory w = _abc(1, 2, 3);
        RewardRollup.BatchHeader memory h = _header(6);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.InsufficientFunding.selector, 0, 6));
        rollup.submitBatch(h, w, "");
    }

    function test_fund_feeOnTransferCountsReceived() public {
        FeeOnTransferToken fot = new FeeOnTransferToken(100); // 1%
        RewardRollup r = _deploy(IERC20(address(fot)), address(verifier));
        fot.mint(funder, 10_000);
        vm.startPrank(funder);
        fot.approve(address(r), 10_000);
        vm.expectEmit(true, true, true, true, address(r));
        emit Funded(funder, 9_900, 9_900);
        r.fund(10_000);
        vm.stopPrank();
        assertEq(r.totalFunded(), 9_900);
        assertEq(fot.balanceOf(address(r)), 9_900);

        // a batch may not commit more than what arrived
        uint256[] memory w = _abc(5000, 4900, 1);
        RewardRollup.BatchHeader memory h = _headerFor(r, 9_901);
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.InsufficientFunding.selector, 9_900, 9_901)
        );
        r.submitBatch(h, w, "");
        h.totalReward = 9_900;
        w[2] = ClaimTreeRef.pack(carol, 0);
        r.submitBatch(h, w, "");
        // claims stay solvent: the contract's balance drops by the amount, the fee is the payee's
        r.claim(1, alice, 5000, _proof(w, 0));
        r.claim(1, bob, 4900, _proof(w, 1));
        assertEq(fot.balanceOf(alice), 4950);
        assertEq(fot.balanceOf(address(r)), 0);
        assertEq(r.totalClaimed(), 9_900);
    }

    function test_fund_fullFeeReceivesNothingReverts() public {
        FeeOnTransferToken fot = new FeeOnTransferToken(10_000); // 100%
        RewardRollup r = _deploy(IERC20(address(fot)), address(verifier));
        fot.mint(funder, 100);
        vm.startPrank(funder);
        fot.approve(address(r), 100);
        vm.expectRevert(RewardRollup.ZeroAmount.selector);
        r.fund(100);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ reentrancy

    function _evilRollup()
        internal
        returns (ReentrantToken evil, RewardRollup r, uint256[] memory w)
    {
        evil = new ReentrantToken();
        r = _deploy(IERC20(address(evil)), address(verifier));
        evil.mint(funder, 1000);
        vm.startPrank(funder);
        evil.approve(address(r), 1000);
        r.fund(1000);
        vm.stopPrank();
        w = _abc(100, 200, 300);
        r.submitBatch(_headerFor(r, 600), w, "");
    }

    function test_reentrancy_claimDuringPayoutSwallowed() public {
        (ReentrantToken evil, RewardRollup r, uint256[] memory w) = _evilRollup();
        bytes32[] memory p = _proof(w, 0);
        evil.arm(address(r), abi.encodeCall(RewardRollup.claim, (1, alice, 100, p)), true);
        r.claim(1, alice, 100, p);
        assertTrue(evil.attempted());
        assertFalse(evil.reentrySucceeded());
        assertEq(
            evil.reentryError(),
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)
        );
        assertEq(evil.balanceOf(alice), 100); // paid once
        assertEq(r.claimed(alice), 100);
        assertEq(r.totalClaimed(), 100);
    }

    function test_reentrancy_claimDuringPayoutPropagated() public {
        (ReentrantToken evil, RewardRollup r, uint256[] memory w) = _evilRollup();
        bytes32[] memory p = _proof(w, 0);
        evil.arm(address(r), abi.encodeCall(RewardRollup.claim, (1, alice, 100, p)), false);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        r.claim(1, alice, 100, p);
        assertEq(evil.balanceOf(alice), 0);
        assertEq(r.claimed(alice), 0);
    }

    function test_reentrancy_fundDuringFundBlocked() public {
        ReentrantToken evil = new ReentrantToken();
        RewardRollup r = _deploy(IERC20(address(evil)), address(verifier));
        evil.mint(funder, 1000);
        vm.prank(funder);
        evil.approve(address(r), 1000);
        // during the pull, the token re-enters fund(): the balance delta would count twice
        evil.arm(address(r), abi.encodeCall(RewardRollup.fund, (10)), false);
        vm.prank(funder);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        r.fund(100);
        assertEq(r.totalFunded(), 0);
    }

    function test_reentrancy_submitDuringPayoutBlocked() public {
        (ReentrantToken evil, RewardRollup r, uint256[] memory w) = _evilRollup();
        bytes32[] memory p = _proof(w, 0);
        uint256[] memory w2 = _abc(100, 200, 300);
        evil.arm(
            address(r), abi.encodeCall(RewardRollup.submitBatch, (_headerFor(r, 0), w2, "")), true
        );
        r.claim(1, alice, 100, p);
        assertFalse(evil.reentrySucceeded());
        assertEq(r.lastBatchId(), 1);
    }

    // ------------------------------------------------------------ governance: timelock

    function test_verifierChange_fullCycle() public {
        MockVerifier v2 = new MockVerifier(true);
        uint256 eta = block.timestamp + DELAY;
        vm.expectEmit(true, true, true, true, address(rollup));
        emit VerifierChangeProposed(address(v2), eta);
        vm.prank(owner);
        rollup.proposeVerifier(address(v2));
        (address pending, uint256 pendingEta) = rollup.pendingVerifier();
        assertEq(pending, address(v2));
        assertEq(pendingEta, eta);

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TimelockNotExpired.selector, eta));
        rollup.executeVerifier();

        vm.warp(eta - 1);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TimelockNotExpired.selector, eta));
        rollup.executeVerifier();

        vm.warp(eta);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit VerifierChanged(address(verifier), address(v2));
        vm.prank(owner);
        rollup.executeVerifier();
        assertEq(rollup.verifier(), address(v2));
        (, pendingEta) = rollup.pendingVerifier();
        assertEq(pendingEta, 0);

        // the new verifier is the one called
        _fund(10);
        _submit(_abc(1, 2, 3));
        assertEq(v2.calls(), 1);
        assertEq(verifier.calls(), 0);
    }

    function test_verifierChange_cancel() public {
        MockVerifier v2 = new MockVerifier(true);
        vm.startPrank(owner);
        rollup.proposeVerifier(address(v2));
        vm.expectEmit(true, true, true, true, address(rollup));
        emit VerifierChangeCancelled(address(v2));
        rollup.cancelVerifier();
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(RewardRollup.NoPendingChange.selector);
        rollup.executeVerifier();
        vm.expectRevert(RewardRollup.NoPendingChange.selector);
        rollup.cancelVerifier();
        vm.stopPrank();
        assertEq(rollup.verifier(), address(verifier));
    }

    function test_verifierChange_reverts() public {
        MockVerifier v2 = new MockVerifier(true);
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.VerifierHasNoCode.selector, stranger));
        rollup.proposeVerifier(stranger);
        rollup.proposeVerifier(address(v2));
        uint256 eta = block.timestamp + DELAY;
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.ChangeAlreadyPending.selector, eta));
        rollup.proposeVerifier(address(v2));
        // code gone by execution time
        vm.etch(address(v2), "");
        vm.warp(eta);
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.VerifierHasNoCode.selector, address(v2))
        );
        rollup.executeVerifier();
        vm.stopPrank();
    }

    function test_modelChange_fullCycle() public {
        uint256 eta = block.timestamp + DELAY;
        vm.startPrank(owner);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit ModelCommitmentChangeProposed(42, eta);
        rollup.proposeModelCommitment(42);
        (uint256 c, uint256 e) = rollup.pendingModelCommitment();
        assertEq(c, 42);
        assertEq(e, eta);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.ChangeAlreadyPending.selector, eta));
        rollup.proposeModelCommitment(43);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TimelockNotExpired.selector, eta));
        rollup.executeModelCommitment();
        vm.warp(eta);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit ModelCommitmentChanged(MODEL, 42);
        rollup.executeModelCommitment();
        vm.stopPrank();
        assertEq(rollup.modelCommitment(), 42);

        // a batch proven for the old model is refused, one for the new model settles
        _fund(10);
        uint256[] memory w = _abc(1, 2, 3);
        RewardRollup.BatchHeader memory h = _header(6);
        h.modelCommitment = MODEL;
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.ModelCommitmentMismatch.selector, 42, MODEL)
        );
        rollup.submitBatch(h, w, "");
        h.modelCommitment = 42;
        rollup.submitBatch(h, w, "");
    }

    function test_modelChange_cancel() public {
        vm.startPrank(owner);
        vm.expectRevert(RewardRollup.NoPendingChange.selector);
        rollup.cancelModelCommitment();
        vm.expectRevert(RewardRollup.NoPendingChange.selector);
        rollup.executeModelCommitment();
        rollup.proposeModelCommitment(42);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit ModelCommitmentChangeCancelled(42);
        rollup.cancelModelCommitment();
        vm.stopPrank();
        assertEq(rollup.modelCommitment(), MODEL);
        (, uint256 e) = rollup.pendingModelCommitment();
        assertEq(e, 0);
    }

    function test_policyChange_fullCycle() public {
        uint256 eta = block.timestamp + DELAY;
        vm.startPrank(owner);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit PolicyCommitmentChangeProposed(99, eta);
        rollup.proposePolicyCommitment(99);
        (uint256 c, uint256 e) = rollup.pendingPolicyCommitment();
        assertEq(c, 99);
        assertEq(e, eta);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.ChangeAlreadyPending.selector, eta));
        rollup.proposePolicyCommitment(98);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TimelockNotExpired.selector, eta));
        rollup.executePolicyCommitment();
        vm.warp(eta + 100 days); // no expiry
        vm.expectEmit(true, true, true, true, address(rollup));
        emit PolicyCommitmentChanged(POLICY, 99);
        rollup.executePolicyCommitment();
        vm.stopPrank();
        assertEq(rollup.policyCommitment(), 99);
        RewardRollup.BatchHeader memory h = _header(0);
        assertEq(h.policyCommitment, 99);
        h.policyCommitment = POLICY;
        uint256[] memory w = _abc(0, 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(RewardRollup.PolicyCommitmentMismatch.selector, 99, POLICY)
        );
        rollup.submitBatch(h, w, "");
    }

    function test_policyChange_cancel() public {
        vm.startPrank(owner);
        vm.expectRevert(RewardRollup.NoPendingChange.selector);
        rollup.cancelPolicyCommitment();
        vm.expectRevert(RewardRollup.NoPendingChange.selector);
        rollup.executePolicyCommitment();
        rollup.proposePolicyCommitment(99);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit PolicyCommitmentChangeCancelled(99);
        rollup.cancelPolicyCommitment();
        // a fresh proposal after a cancel gets a fresh eta
        vm.warp(block.timestamp + 1 days);
        rollup.proposePolicyCommitment(100);
        vm.stopPrank();
        (uint256 c, uint256 e) = rollup.pendingPolicyCommitment();
        assertEq(c, 100);
        assertEq(e, block.timestamp + DELAY);
    }

    function test_zeroDelayTimelockExecutesAtOnce() public {
        RewardRollup r = new RewardRollup(
            IERC20(address(token)), address(verifier), MODEL, POLICY, GENESIS, 0, owner, guardian
        );
        vm.startPrank(owner);
        r.proposeModelCommitment(5);
        r.executeModelCommitment();
        vm.stopPrank();
        assertEq(r.modelCommitment(), 5);
    }

    function test_governance_onlyOwner() public {
        bytes memory unauthorized =
            abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, guardian);
        vm.startPrank(guardian);
        vm.expectRevert(unauthorized);
        rollup.proposeVerifier(address(verifier));
        vm.expectRevert(unauthorized);
        rollup.executeVerifier();
        vm.expectRevert(unauthorized);
        rollup.cancelVerifier();
        vm.expectRevert(unauthorized);
        rollup.proposeModelCommitment(1);
        vm.expectRevert(unauthorized);
        rollup.executeModelCommitment();
        vm.expectRevert(unauthorized);
        rollup.cancelModelCommitment();
        vm.expectRevert(unauthorized);
        rollup.proposePolicyCommitment(1);
        vm.expectRevert(unauthorized);
        rollup.executePolicyCommitment();
        vm.expectRevert(unauthorized);
        rollup.cancelPolicyCommitment();
        vm.expectRevert(unauthorized);
        rollup.setGuardian(stranger);
        vm.expectRevert(unauthorized);
        rollup.unpause();
        vm.expectRevert(unauthorized);
        rollup.transferOwnership(guardian);
        vm.expectRevert(unauthorized);
        rollup.renounceOwnership();
        vm.stopPrank();
    }

    // ------------------------------------------------------------ governance: pause, guardian, owner

    function test_pause_byGuardianAndOwner() public {
        vm.expectEmit(true, true, true, true, address(rollup));
        emit Paused(guardian);
        vm.prank(guardian);
        rollup.pause();
        assertTrue(rollup.paused());

        vm.prank(guardian);
        vm.expectRevert(RewardRollup.ContractPaused.selector);
        rollup.pause();

        vm.expectEmit(true, true, true, true, address(rollup));
        emit Unpaused(owner);
        vm.prank(owner);
        rollup.unpause();
        assertFalse(rollup.paused());

        vm.prank(owner);
        rollup.pause();
        assertTrue(rollup.paused());
    }

    function test_pause_revertsStranger() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.NotOwnerOrGuardian.selector, stranger));
        rollup.pause();
    }

    function test_unpause_revertsWhenNotPaused() public {
        vm.prank(owner);
        vm.expectRevert(RewardRollup.ContractNotPaused.selector);
        rollup.unpause();
    }

    function test_setGuardian() public {
        vm.expectEmit(true, true, true, true, address(rollup));
        emit GuardianChanged(guardian, stranger);
        vm.prank(owner);
        rollup.setGuardian(stranger);
        assertEq(rollup.guardian(), stranger);
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.NotOwnerOrGuardian.selector, guardian));
        rollup.pause();
        vm.prank(stranger);
        rollup.pause();
        // removing the guardian
        vm.prank(owner);
        rollup.setGuardian(address(0));
        vm.prank(owner);
        rollup.unpause();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.NotOwnerOrGuardian.selector, stranger));
        rollup.pause();
    }

    function test_renounceOwnership_disabled() public {
        vm.prank(owner);
        vm.expectRevert(RewardRollup.RenounceOwnershipDisabled.selector);
        rollup.renounceOwnership();
        assertEq(rollup.owner(), owner);
    }

    function test_ownership_twoStep() public {
        address newOwner = makeAddr("newOwner");
        vm.prank(owner);
        rollup.transferOwnership(newOwner);
        assertEq(rollup.owner(), owner);
        assertEq(rollup.pendingOwner(), newOwner);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger)
        );
        rollup.acceptOwnership();
        vm.prank(newOwner);
        rollup.acceptOwnership();
        assertEq(rollup.owner(), newOwner);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        rollup.proposeModelCommitment(1);
        vm.prank(newOwner);
        rollup.proposeModelCommitment(1);
    }

    // ------------------------------------------------------------ proofs from the reference tree

    function test_proofsVerifyWithOpenZeppelin() public {
        _fund(100_000);
        address[] memory accts = _accounts(9, 1);
        uint256[] memory cum = new uint256[](9);
        for (uint256 i; i < 9; ++i) {
            cum[i] = 1000 + i;
        }
        uint256[] memory w = _touched(accts, cum);
        _submit(w);
        bytes32 root = rollup.claimRoot(1);
        for (uint256 i; i < 9; ++i) {
            bytes32[] memory p = _proof(w, i);
            assertTrue(MerkleProof.verify(p, root, ClaimTreeRef.leaf(accts[i], cum[i])));
            rollup.claim(1, accts[i], cum[i], p);
            assertEq(token.balanceOf(accts[i]), cum[i]);
        }
    }
}
