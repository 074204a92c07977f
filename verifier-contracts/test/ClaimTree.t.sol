// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {RewardRollup} from "../src/RewardRollup.sol";
import {ClaimTreeRef} from "./utils/ClaimTreeRef.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";
import {TouchedRef} from "./utils/TouchedRef.sol";

/// @notice Fuzz tests of the on-chain claim tree (against the plain-Solidity reference), of the
///         touched-list challenge/evaluation and instance layout, and of claim amounts across
///         batches.
contract ClaimTreeFuzzTest is RollupFixture {
    function _randomTouched(uint256 seed, uint256 n)
        internal
        pure
        returns (uint256[] memory words)
    {
        address[] memory accts = _accounts(n, seed);
        uint256[] memory cum = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            cum[i] = uint256(keccak256(abi.encode(seed, "cum", i))) % (1 << 96);
        }
        return _touched(accts, cum);
    }

    /// The assembly tree equals the reference tree for 1..300 leaves, and every reference proof
    /// verifies with OpenZeppelin against it.
    function testFuzz_claimRootMatchesReference(uint256 seed, uint16 size) public view {
        uint256 n = bound(size, 1, 300);
        uint256[] memory words = _randomTouched(seed, n);
        bytes32[] memory leaves = ClaimTreeRef.leaves(words);
        bytes32 root = rollup.computeClaimRoot(words);
        assertEq(root, ClaimTreeRef.root(leaves));
        // a sample of proofs (all of them for small trees)
        uint256 step = n <= 16 ? 1 : n / 7;
        for (uint256 i; i < n; i += step) {
            assertTrue(MerkleProof.verify(ClaimTreeRef.proof(leaves, i), root, leaves[i]));
            assertEq(
                rollup.claimLeaf(
                    ClaimTreeRef.accountOf(words[i]), ClaimTreeRef.cumulativeOf(words[i])
                ),
                leaves[i]
            );
        }
        assertTrue(MerkleProof.verify(ClaimTreeRef.proof(leaves, n - 1), root, leaves[n - 1]));
    }

    /// Any touched list: submitBatch stores the reference root, sends the exact instances, and
    /// every account can claim its cumulative exactly once.
    function testFuzz_submitAndClaimAll(uint256 seed, uint8 size) public {
        uint256 n = bound(size, 1, 40);
        uint256[] memory words = _randomTouched(seed, n);
        uint256 sum = _sumCumulative(words);
        _fund(sum);
        RewardRollup.BatchHeader memory h = _header(sum);
        bytes memory proof = abi.encodePacked(keccak256(abi.encode(seed)));
        rollup.submitBatch(h, words, proof);

        assertEq(verifier.lastInput(), abi.encodePacked(_expectedInstances(h, words), proof));
        bytes32[] memory leaves = ClaimTreeRef.leaves(words);
        assertEq(rollup.claimRoot(1), ClaimTreeRef.root(leaves));

        for (uint256 i; i < n; ++i) {
            address a = ClaimTreeRef.accountOf(words[i]);
            uint256 c = ClaimTreeRef.cumulativeOf(words[i]);
            bytes32[] memory p = ClaimTreeRef.proof(leaves, i);
            if (c == 0) {
                vm.expectRevert(RewardRollup.NothingToClaim.selector);
                rollup.claim(1, a, c, p);
                continue;
            }
            rollup.claim(1, a, c, p);
            assertEq(token.balanceOf(a), c);
            vm.expectRevert(RewardRollup.NothingToClaim.selector);
            rollup.claim(1, a, c, p);
        }
        assertEq(rollup.totalClaimed(), sum);
        assertEq(token.balanceOf(address(rollup)), 0);
    }

    /// An account touched in two batches, claimed in either order: it never gets more than its
    /// latest cumulative, an older root after a newer one pays nothing.
    function testFuzz_claimAmountsAcrossBatches(
        uint96 first,
        uint96 delta,
        bool newerFirst,
        uint8 others
    ) public {
        uint256 c1 = bound(first, 1, type(uint96).max / 2);
        uint256 c2 = c1 + bound(delta, 0, type(uint96).max / 2);
        uint256 n = bound(others, 0, 6);
        address me = address(0x8000000000000000000000000000000000000000);

        // batch 1: `me` and some others (all addresses below `me`'s)
        uint256[] memory w1 = new uint256[](n + 1);
        for (uint256 i; i < n; ++i) {
            w1[i] = ClaimTreeRef.pack(address(uint160(0x1000 + i)), 5);
        }
        w1[n] = ClaimTreeRef.pack(me, c1);
        // batch 2: only `me`
        uint256[] memory w2 = new uint256[](1);
        w2[0] = ClaimTreeRef.pack(me, c2);

        _fund(c2 + 5 * n);
        _submit(w1, c1 + 5 * n);
        _submit(w2, c2 - c1);
        bytes32[] memory p1 = _proof(w1, n);
        bytes32[] memory p2 = _proof(w2, 0);

        if (newerFirst) {
            rollup.claim(2, me, c2, p2);
            vm.expectRevert(RewardRollup.NothingToClaim.selector);
            rollup.claim(1, me, c1, p1);
        } else {
            rollup.claim(1, me, c1, p1);
            assertEq(token.balanceOf(me), c1);
            if (c2 > c1) {
                rollup.claim(2, me, c2, p2);
            } else {
                vm.expectRevert(RewardRollup.NothingToClaim.selector);
                rollup.claim(2, me, c2, p2);
            }
        }
        assertEq(token.balanceOf(me), c2);
        assertEq(rollup.claimed(me), c2);
        vm.expectRevert(RewardRollup.NothingToClaim.selector);
        rollup.claim(2, me, c2, p2);
    }

    /// A forged amount never verifies.
    function testFuzz_forgedAmountRejected(uint256 seed, uint8 size, uint256 index, uint96 forged)
        public
    {
        uint256 n = bound(size, 1, 20);
        uint256[] memory words = _randomTouched(seed, n);
        uint256 sum = _sumCumulative(words);
        _fund(sum);
        _submit(words, sum);
        index = bound(index, 0, n - 1);
        uint256 real = ClaimTreeRef.cumulativeOf(words[index]);
        vm.assume(forged != real);
        address a = ClaimTreeRef.accountOf(words[index]);
        bytes32[] memory p = _proof(words, index);
        vm.expectRevert(RewardRollup.InvalidClaimProof.selector);
        rollup.claim(1, a, forged, p);
    }

    /// The touched-list challenge r and evaluation h in the instances, for any list and header:
    /// equal to the plain-Solidity reference, both below p.
    function testFuzz_touchedChallengeAndInstances(
        uint256[] calldata raw,
        uint256 reward,
        uint256 batchCommitment
    ) public view {
        RewardRollup.BatchHeader memory h = _header(reward);
        h.batchCommitment = batchCommitment;
        uint256 r = rollup.touchedChallenge(h, raw);
        assertEq(r, TouchedRef.challenge(h, raw));
        assertLt(r, TouchedRef.P);
        uint256 ev = rollup.touchedEvaluation(r, raw);
        assertEq(ev, TouchedRef.evaluation(r, raw));
        assertLt(ev, TouchedRef.P);
        uint256[8] memory ins = rollup.publicInstances(h, raw);
        uint256[8] memory ref = TouchedRef.instances(h, raw);
        for (uint256 i; i < 8; ++i) {
            assertEq(ins[i], ref[i]);
        }
        assertEq(ins[6], r);
        assertEq(ins[7], ev);
        assertEq(ins[5], reward);
        assertEq(ins[2], batchCommitment);
        assertEq(ins[0], h.prevRoot);
    }

    /// Lists with a repeated or decreasing address are refused at the first offending index.
    function testFuzz_unsortedRejected(uint256 seed, uint8 size, uint256 pos) public {
        uint256 n = bound(size, 2, 30);
        uint256[] memory words = _randomTouched(seed, n);
        pos = bound(pos, 1, n - 1);
        words[pos] = words[pos - 1] - 1; // same address (or lower, if cumulative was 0)
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TouchedNotSorted.selector, pos));
        rollup.computeClaimRoot(words);
    }
}
