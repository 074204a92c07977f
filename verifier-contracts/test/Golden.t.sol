// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {RewardRollup} from "../src/RewardRollup.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";
import {MockERC20} from "./mocks/MockERC20.sol";
import {ClaimTreeRef} from "./utils/ClaimTreeRef.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";
import {TouchedRef} from "./utils/TouchedRef.sol";

/// @notice Golden vectors written by merit-core (`fixtures/golden/`): the contract must agree
///         with the Rust implementation bit for bit on claim trees, the touched-list challenge
///         and evaluation, and the public-instance layout.
contract GoldenTest is RollupFixture {
    string internal constant CLAIM_TREES = "/../fixtures/golden/claim_trees.json";

    function _read(string memory rel) internal view returns (string memory) {
        return vm.readFile(string.concat(vm.projectRoot(), rel));
    }

    function _touchedFrom(string memory json, string memory path)
        internal
        view
        returns (uint256[] memory words, uint256 sum)
    {
        uint256 n;
        while (vm.keyExistsJson(json, string.concat(path, "[", vm.toString(n), "]"))) {
            ++n;
        }
        words = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            string memory entry = string.concat(path, "[", vm.toString(i), "]");
            address account = vm.parseJsonAddress(json, string.concat(entry, ".address"));
            // decimal string: may exceed 2^64, is < 2^96
            uint256 c = vm.parseUint(vm.parseJsonString(json, string.concat(entry, ".cumulative")));
            assertLt(c, 1 << 96);
            words[i] = ClaimTreeRef.pack(account, c);
            sum += c;
        }
    }

    /// Every claim tree of `claim_trees.json` (1–9 and 64 leaves) is rebuilt on-chain by
    /// `submitBatch`; its root, leaves and proofs match; every proof verifies with OpenZeppelin
    /// and pays the account through `claim`.
    function test_golden_claimTrees() public {
        string memory json = _read(CLAIM_TREES);
        uint256 count;
        uint256[] memory expectedSizes = new uint256[](10);
        for (uint256 k; k < 9; ++k) {
            expectedSizes[k] = k + 1;
        }
        expectedSizes[9] = 64;

        for (uint256 t; t < 10; ++t) {
            string memory base = string.concat("$[", vm.toString(t), "]");
            (uint256[] memory words, uint256 sum) =
                _touchedFrom(json, string.concat(base, ".touched"));
            assertEq(words.length, expectedSizes[t], "tree size");
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, string.concat(base, ".leaves"));
            bytes32 root = vm.parseJsonBytes32(json, string.concat(base, ".root"));

            // a fresh rollup per tree (trees reuse accounts with unrelated cumulatives)
            token = new MockERC20();
            rollup = _deploy(IERC20(address(token)), address(verifier));
            _fund(sum);
            _submit(words, sum);
            assertEq(rollup.claimRoot(1), root, "on-chain claim root");
            assertEq(rollup.computeClaimRoot(words), root, "view claim root");
            assertEq(ClaimTreeRef.root(ClaimTreeRef.leaves(words)), root, "reference claim root");

            for (uint256 i; i < words.length; ++i) {
                address account = ClaimTreeRef.accountOf(words[i]);
                uint256 cumulative = ClaimTreeRef.cumulativeOf(words[i]);
                assertEq(rollup.claimLeaf(account, cumulative), leaves[i], "leaf");
                bytes32[] memory proof = vm.parseJsonBytes32Array(
                    json, string.concat(base, ".proofs[", vm.toString(i), "]")
                );
                assertEq(
                    keccak256(abi.encode(proof)), keccak256(abi.encode(_proof(words, i))), "proof"
                );
                assertTrue(MerkleProof.verify(proof, root, leaves[i]), "OZ verify");
                assertTrue(rollup.verifyClaim(1, account, cumulative, proof));
                rollup.claim(1, account, cumulative, proof);
                assertEq(token.balanceOf(account), cumulative, "paid");
                ++count;
            }
            assertEq(rollup.totalClaimed(), sum);
            assertEq(token.balanceOf(address(rollup)), 0);
        }
        assertEq(count, 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 64);
    }

    struct Batch {
        RewardRollup.BatchHeader header;
        uint256[] words;
        uint256 touchedChallenge;
        uint256 touchedEvaluation;
        bytes32 claimRoot;
        uint256[] instances;
    }

    function _batch(string memory file) internal view returns (Batch memory b) {
        string memory json = _read(string.concat("/../fixtures/golden/", file));
        b.header.batchId = uint64(vm.parseJsonUint(json, ".batch.batch_id"));
        b.header.prevRoot = uint256(vm.parseJsonBytes32(json, ".output.prev_root"));
        b.header.newRoot = uint256(vm.parseJsonBytes32(json, ".output.new_root"));
        b.header.batchCommitment = uint256(vm.parseJsonBytes32(json, ".output.batch_commitment"));
        b.header.modelCommitment = uint256(vm.parseJsonBytes32(json, ".output.model_commitment"));
        b.header.policyCommitment = uint256(vm.parseJsonBytes32(json, ".output.policy_commitment"));
        b.header.totalReward = vm.parseUint(vm.parseJsonString(json, ".output.total_reward"));
        (b.words,) = _touchedFrom(json, ".output.touched");
        assertFalse(vm.keyExistsJson(json, ".output.touched_hash"), "stale fixture");
        b.touchedChallenge = uint256(vm.parseJsonBytes32(json, ".output.touched_challenge"));
        b.touchedEvaluation = uint256(vm.parseJsonBytes32(json, ".output.touched_evaluation"));
        b.claimRoot = vm.parseJsonBytes32(json, ".output.claim_root");
        bytes32[] memory ins = vm.parseJsonBytes32Array(json, ".public_instances");
        b.instances = new uint256[](ins.length);
        for (uint256 i; i < ins.length; ++i) {
            b.instances[i] = uint256(ins[i]);
        }
    }

    function _checkAndSubmit(Batch memory b, bytes memory proof) internal {
        assertEq(b.instances.length, 8);
        uint256 r = rollup.touchedChallenge(b.header, b.words);
        assertEq(r, b.touchedChallenge, "touched challenge");
        assertEq(r, TouchedRef.challenge(b.header, b.words), "touched challenge (reference)");
        uint256 ev = rollup.touchedEvaluation(r, b.words);
        assertEq(ev, b.touchedEvaluation, "touched evaluation");
        assertEq(ev, TouchedRef.evaluation(r, b.words), "touched evaluation (reference)");
        assertEq(b.instances[6], b.touchedChallenge, "fixture instance 6");
        assertEq(b.instances[7], b.touchedEvaluation, "fixture instance 7");
        uint256[8] memory ins = rollup.publicInstances(b.header, b.words);
        for (uint256 i; i < 8; ++i) {
            assertEq(ins[i], b.instances[i], "public instance");
        }
        assertEq(rollup.computeClaimRoot(b.words), b.claimRoot, "claim root (view)");

        rollup.submitBatch(b.header, b.words, proof);

        bytes memory expected = abi.encodePacked(b.instances, proof);
        assertEq(verifier.lastInput(), expected, "verifier calldata");
        assertEq(rollup.claimRoot(b.header.batchId), b.claimRoot, "claim root (stored)");
        assertEq(rollup.stateRoot(), b.header.newRoot);
        assertEq(rollup.lastBatchId(), b.header.batchId);
    }

    function _rollupFor(Batch memory b) internal returns (RewardRollup r) {
        token = new MockERC20();
        r = new RewardRollup(
            IERC20(address(token)),
            address(verifier),
            b.header.modelCommitment,
            b.header.policyCommitment,
            b.header.prevRoot,
            DELAY,
            owner,
            guardian
        );
    }

    /// batch_d8_1 then batch_d8_2 (the batch after it) settle in sequence with merit-core's
    /// touched challenge and evaluation, instance array and claim root; then every account
    /// claims everything.
    function test_golden_batchesD8() public {
        Batch memory b1 = _batch("batch_d8_1.json");
        Batch memory b2 = _batch("batch_d8_2.json");
        assertEq(b1.header.batchId, 1);
        assertEq(b2.header.batchId, 2);
        assertEq(b2.header.prevRoot, b1.header.newRoot);

        rollup = _rollupFor(b1);
        _fund(b1.header.totalReward + b2.header.totalReward);
        _checkAndSubmit(b1, hex"0123456789abcdef");
        _checkAndSubmit(b2, new bytes(1152)); // a real proof's size at k=10

        // claim: batch 1 first for its accounts, then batch 2 pays the rest
        for (uint256 i; i < b1.words.length; ++i) {
            address a = ClaimTreeRef.accountOf(b1.words[i]);
            rollup.claim(1, a, ClaimTreeRef.cumulativeOf(b1.words[i]), _proof(b1.words, i));
        }
        for (uint256 i; i < b2.words.length; ++i) {
            address a = ClaimTreeRef.accountOf(b2.words[i]);
            uint256 c = ClaimTreeRef.cumulativeOf(b2.words[i]);
            bytes32[] memory p = _proof(b2.words, i);
            if (c > rollup.claimed(a)) {
                rollup.claim(2, a, c, p);
            } else {
                vm.expectRevert(RewardRollup.NothingToClaim.selector);
                rollup.claim(2, a, c, p);
            }
            assertEq(token.balanceOf(a), c);
        }
        // every proven wei is claimed exactly once
        assertEq(rollup.totalClaimed(), rollup.totalRewarded());
        assertEq(token.balanceOf(address(rollup)), 0);
    }

    function test_golden_batchD24() public {
        Batch memory b = _batch("batch_d24_tanh.json");
        rollup = _rollupFor(b);
        _fund(b.header.totalReward);
        _checkAndSubmit(b, hex"aa");
    }
}
