// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RewardRollup} from "../src/RewardRollup.sol";
import {ClaimTreeRef} from "./utils/ClaimTreeRef.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";
import {TouchedRef} from "./utils/TouchedRef.sol";

/// @notice The touched list's binding to the proof: the challenge
///         r = keccak256(header instances ‖ words) mod p and the evaluation
///         h = Σ (address_i + cumulative_i·r)·r^(2i) mod p (instances 6 and 7). Horner against
///         the direct sum, edge cases of the lazy reduction, and that any change of the list
///         (one word, a swap, the last word dropped) changes h at the same r and changes r.
contract TouchedBindingTest is RollupFixture {
    uint256 internal constant P = TouchedRef.P;

    function _copy(uint256[] calldata raw) internal pure returns (uint256[] memory out) {
        out = new uint256[](raw.length);
        for (uint256 i; i < raw.length; ++i) {
            out[i] = raw[i];
        }
    }

    /// @dev The binding of `words` under `h`: (r, h at r).
    function _bind(RewardRollup.BatchHeader memory header, uint256[] memory words)
        internal
        view
        returns (uint256 r, uint256 ev)
    {
        r = rollup.touchedChallenge(header, words);
        ev = rollup.touchedEvaluation(r, words);
    }

    /// @dev Asserts that `changed` has another r and, at the original r, another h.
    function _assertRebinds(
        RewardRollup.BatchHeader memory header,
        uint256[] memory words,
        uint256[] memory changed
    ) internal view {
        (uint256 r, uint256 ev) = _bind(header, words);
        assertTrue(rollup.touchedEvaluation(r, changed) != ev, "h at the same r");
        assertTrue(rollup.touchedChallenge(header, changed) != r, "r");
        (, uint256 ev2) = _bind(header, changed);
        assertTrue(ev2 != ev, "h at its own r");
    }

    // ------------------------------------------------------------ Horner vs. direct sum

    /// Small numbers, checkable by hand: entries (1, 2), (3, 4), (5, 6) at r = 10 give
    /// (1 + 2·10) + (3 + 4·10)·10^2 + (5 + 6·10)·10^4 = 21 + 4,300 + 650,000.
    function test_touchedEvaluation_smallByHand() public view {
        uint256[] memory w = new uint256[](3);
        w[0] = (1 << 96) | 2;
        w[1] = (3 << 96) | 4;
        w[2] = (5 << 96) | 6;
        assertEq(rollup.touchedEvaluation(10, w), 654_321);
        assertEq(TouchedRef.evaluation(10, w), 654_321);
    }

    /// Horner (the contract) equals the sum written out term by term, for a 4-entry list of
    /// real-sized addresses and cumulatives at a full-size r.
    function test_touchedEvaluation_hornerMatchesDirectSum() public view {
        uint256[] memory w = new uint256[](4);
        uint256[4] memory a;
        uint256[4] memory c;
        for (uint256 i; i < 4; ++i) {
            a[i] = uint160(uint256(keccak256(abi.encode("account", i))));
            c[i] = uint256(keccak256(abi.encode("cumulative", i))) % (1 << 96);
            w[i] = (a[i] << 96) | c[i];
        }
        uint256 r = uint256(keccak256("r")) % P;
        uint256 r2 = mulmod(r, r, P);
        uint256 r4 = mulmod(r2, r2, P);
        uint256 r6 = mulmod(r4, r2, P);
        uint256 direct = addmod(a[0], mulmod(c[0], r, P), P);
        direct = addmod(direct, mulmod(addmod(a[1], mulmod(c[1], r, P), P), r2, P), P);
        direct = addmod(direct, mulmod(addmod(a[2], mulmod(c[2], r, P), P), r4, P), P);
        direct = addmod(direct, mulmod(addmod(a[3], mulmod(c[3], r, P), P), r6, P), P);
        assertEq(rollup.touchedEvaluation(r, w), direct);
        assertEq(TouchedRef.evaluation(r, w), direct);
    }

    /// Empty list, one entry, r = 0, r = p - 1, r ≥ p (taken mod p), and the largest words
    /// (the lazy reduction's worst case).
    function test_touchedEvaluation_edgeCases() public view {
        uint256[] memory none = new uint256[](0);
        assertEq(rollup.touchedEvaluation(12_345, none), 0);

        uint256[] memory one = new uint256[](1);
        one[0] = ClaimTreeRef.pack(address(0xBEEF), 7);
        assertEq(rollup.touchedEvaluation(3, one), 0xBEEF + 21);
        assertEq(rollup.touchedEvaluation(0, one), 0xBEEF);

        uint256[] memory w = new uint256[](5);
        for (uint256 i; i < 5; ++i) {
            w[i] = type(uint256).max - i;
        }
        // r = 0: only address_0 remains
        assertEq(rollup.touchedEvaluation(0, w), w[0] >> 96);
        uint256[5] memory rs = [P - 1, P, P + 1, type(uint256).max, uint256(1)];
        for (uint256 k; k < rs.length; ++k) {
            uint256 ev = rollup.touchedEvaluation(rs[k], w);
            assertEq(ev, TouchedRef.evaluation(rs[k], w));
            assertEq(ev, rollup.touchedEvaluation(rs[k] % P, w));
            assertLt(ev, P);
        }
        // r = 1: Σ (address_i + cumulative_i) mod p
        uint256 sum;
        for (uint256 i; i < 5; ++i) {
            sum = addmod(sum, (w[i] >> 96) + (w[i] & ((1 << 96) - 1)), P);
        }
        assertEq(rollup.touchedEvaluation(1, w), sum);
    }

    /// For any list and any r the contract's Horner equals the reference direct sum.
    function testFuzz_touchedEvaluationMatchesDirectSum(uint256[] calldata raw, uint256 r)
        public
        view
    {
        uint256 ev = rollup.touchedEvaluation(r, raw);
        assertEq(ev, TouchedRef.evaluation(r, raw));
        assertLt(ev, P);
    }

    // ------------------------------------------------------------ the challenge

    /// r hashes exactly the six instance fields and the words, as 32-byte words, mod p; the
    /// batch id is not hashed.
    function testFuzz_touchedChallengeDefinition(
        RewardRollup.BatchHeader calldata header,
        uint256[] calldata raw
    ) public view {
        uint256 r = rollup.touchedChallenge(header, raw);
        bytes memory packed = abi.encodePacked(
            header.prevRoot,
            header.newRoot,
            header.batchCommitment,
            header.modelCommitment,
            header.policyCommitment,
            header.totalReward
        );
        assertEq(packed.length, 6 * 32);
        assertEq(r, uint256(keccak256(bytes.concat(packed, abi.encodePacked(raw)))) % P);
        RewardRollup.BatchHeader memory other = header;
        other.batchId = header.batchId ^ 1;
        assertEq(rollup.touchedChallenge(other, raw), r);
    }

    /// Changing any one instance field of the header changes r.
    function testFuzz_touchedChallengeBindsHeader(uint256 seed, uint8 field, uint256 delta)
        public
        view
    {
        uint256[] memory w = _sorted(seed, 5);
        RewardRollup.BatchHeader memory h = _header(123);
        uint256 r = rollup.touchedChallenge(h, w);
        delta = bound(delta, 1, type(uint256).max);
        field = uint8(bound(field, 0, 5));
        if (field == 0) h.prevRoot ^= delta;
        else if (field == 1) h.newRoot ^= delta;
        else if (field == 2) h.batchCommitment ^= delta;
        else if (field == 3) h.modelCommitment ^= delta;
        else if (field == 4) h.policyCommitment ^= delta;
        else h.totalReward ^= delta;
        assertTrue(rollup.touchedChallenge(h, w) != r);
    }

    // ------------------------------------------------------------ any change rebinds

    function _sorted(uint256 seed, uint256 n) internal pure returns (uint256[] memory words) {
        address[] memory accts = _accounts(n, seed);
        uint256[] memory cum = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            cum[i] = uint256(keccak256(abi.encode(seed, "cum", i))) % (1 << 96);
        }
        return _touched(accts, cum);
    }

    /// One word replaced by any other value: h at the same r changes, and r changes.
    function testFuzz_changedWordRebinds(
        uint256[] calldata raw,
        uint256 index,
        uint256 replacement,
        uint256 reward
    ) public view {
        vm.assume(raw.length > 0);
        index = bound(index, 0, raw.length - 1);
        vm.assume(replacement != raw[index]);
        uint256[] memory changed = _copy(raw);
        changed[index] = replacement;
        _assertRebinds(_header(reward), _copy(raw), changed);
    }

    /// A change of one cumulative in a real (sorted) list, e.g. one unit more: rebinds.
    function testFuzz_changedCumulativeRebinds(uint256 seed, uint8 size, uint256 index, uint96 c)
        public
        view
    {
        uint256 n = bound(size, 1, 64);
        uint256[] memory w = _sorted(seed, n);
        index = bound(index, 0, n - 1);
        vm.assume(c != ClaimTreeRef.cumulativeOf(w[index]));
        uint256[] memory changed = _sorted(seed, n);
        changed[index] = ClaimTreeRef.pack(ClaimTreeRef.accountOf(w[index]), c);
        _assertRebinds(_header(_sumCumulative(w)), w, changed);
    }

    /// Two distinct words swapped: h at the same r changes, and r changes.
    function testFuzz_swappedWordsRebind(uint256[] calldata raw, uint256 i, uint256 j) public view {
        vm.assume(raw.length > 1);
        i = bound(i, 0, raw.length - 1);
        j = bound(j, 0, raw.length - 1);
        vm.assume(raw[i] != raw[j]); // also excludes i == j
        uint256[] memory swapped = _copy(raw);
        (swapped[i], swapped[j]) = (swapped[j], swapped[i]);
        _assertRebinds(_header(1), _copy(raw), swapped);
    }

    /// Two neighbours of a real (sorted) list swapped: rebinds.
    function testFuzz_swappedNeighboursRebind(uint256 seed, uint8 size, uint256 i) public view {
        uint256 n = bound(size, 2, 64);
        uint256[] memory w = _sorted(seed, n);
        i = bound(i, 0, n - 2);
        uint256[] memory swapped = _sorted(seed, n);
        (swapped[i], swapped[i + 1]) = (swapped[i + 1], swapped[i]);
        _assertRebinds(_header(_sumCumulative(w)), w, swapped);
    }

    /// The last word dropped: h at the same r changes, and r changes, unless that word is 0
    /// (address 0, cumulative 0 adds nothing to h; see the next test).
    function testFuzz_droppedLastWordRebinds(uint256[] calldata raw, uint256 reward) public view {
        vm.assume(raw.length > 0 && raw[raw.length - 1] != 0);
        uint256[] memory dropped = new uint256[](raw.length - 1);
        for (uint256 i; i < dropped.length; ++i) {
            dropped[i] = raw[i];
        }
        _assertRebinds(_header(reward), _copy(raw), dropped);
    }

    /// The last entry of a real (sorted) list dropped: rebinds (its address is never 0).
    function testFuzz_droppedLastEntryRebinds(uint256 seed, uint8 size) public view {
        uint256 n = bound(size, 1, 64);
        uint256[] memory w = _sorted(seed, n);
        vm.assume(w[n - 1] >> 96 != 0);
        uint256[] memory dropped = _sorted(seed, n);
        assembly {
            mstore(dropped, sub(n, 1)) // keep the first n - 1 entries
        }
        _assertRebinds(_header(_sumCumulative(w)), w, dropped);
    }

    /// The one list change h cannot see is a trailing all-zero word (address 0, cumulative 0).
    /// Strictly increasing addresses allow it only as the sole entry, i.e. [0] against the empty
    /// list, which `submitBatch` refuses; r still differs (the list length is hashed).
    function test_trailingZeroWordOnlyAsSoleEntry() public {
        RewardRollup.BatchHeader memory h = _header(0);
        uint256[] memory zero = new uint256[](1);
        uint256[] memory none = new uint256[](0);
        (uint256 r, uint256 ev) = _bind(h, zero);
        assertEq(ev, 0);
        assertEq(rollup.touchedEvaluation(r, none), 0);
        assertTrue(rollup.touchedChallenge(h, none) != r);
        vm.expectRevert(RewardRollup.EmptyTouchedList.selector);
        rollup.submitBatch(h, none, "");
        // a zero word after any other entry breaks the order
        uint256[] memory two = new uint256[](2);
        two[0] = ClaimTreeRef.pack(address(1), 1);
        vm.expectRevert(abi.encodeWithSelector(RewardRollup.TouchedNotSorted.selector, 1));
        rollup.computeClaimRoot(two);
    }

    // ------------------------------------------------------------ submitBatch

    /// submitBatch hands the verifier the header instances, then r and h of its calldata list
    /// (equal to the view helpers and to the reference), then the proof.
    function testFuzz_submitBatchPassesChallengeAndEvaluation(uint256 seed, uint8 size) public {
        uint256 n = bound(size, 1, 64);
        uint256[] memory w = _sorted(seed, n);
        uint256 sum = _sumCumulative(w);
        _fund(sum);
        RewardRollup.BatchHeader memory h = _header(sum);
        bytes memory proof = abi.encodePacked(keccak256(abi.encode(seed)), uint8(n));
        rollup.submitBatch(h, w, proof);

        bytes memory got = verifier.lastInput();
        assertEq(got.length, 8 * 32 + proof.length);
        uint256 r;
        uint256 ev;
        assembly {
            r := mload(add(got, add(0x20, mul(6, 0x20))))
            ev := mload(add(got, add(0x20, mul(7, 0x20))))
        }
        assertEq(r, TouchedRef.challenge(h, w), "instance 6 = r");
        assertEq(ev, TouchedRef.evaluation(r, w), "instance 7 = h");
        assertEq(r, rollup.touchedChallenge(h, w));
        assertEq(ev, rollup.touchedEvaluation(r, w));
        assertEq(got, abi.encodePacked(rollup.publicInstances(h, w), proof));
    }
}
