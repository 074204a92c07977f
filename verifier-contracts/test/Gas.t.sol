// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {console} from "forge-std/console.sol";

import {RewardRollup} from "../src/RewardRollup.sol";
import {MockVerifier} from "./mocks/MockVerifier.sol";
import {ClaimTreeRef} from "./utils/ClaimTreeRef.sol";
import {RollupFixture} from "./utils/RollupFixture.sol";

/// @notice Gas of `submitBatch` (4/64/256 touched accounts) and `claim` (first claim, repeat
///         claim that reverts). Run with `scripts/gas.sh`. Before each measured call every
///         contract is cooled (`vm.cool`: accounts and storage cold, as at the start of a real
///         transaction). The numbers are execution gas of the call (`vm.lastCallGas`): they
///         exclude the 21,000 base cost and the calldata cost (printed separately for
///         `submitBatch`), and `submitBatch`'s include only a trivial mock verifier — the real
///         halo2 verifier adds its own cost (~265k+ gas at k=10) on top.
/// @dev Each test also asserts a budget, so a gas regression fails the suite.
contract GasTest is RollupFixture {
    function setUp() public override {
        super.setUp();
        verifier.setRecording(false); // no storage writes in the mock
    }

    /// @dev Everything cold, as at the start of a transaction.
    function _cold() internal {
        vm.cool(address(rollup));
        vm.cool(address(token));
        vm.cool(address(verifier));
    }

    function _batch(uint256 n, uint256 seed) internal pure returns (uint256[] memory words) {
        address[] memory accts = _accounts(n, seed);
        uint256[] memory cum = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            cum[i] = 1e18 + uint256(keccak256(abi.encode(seed, i))) % 1e21;
        }
        return _touched(accts, cum);
    }

    /// @dev Gas of settling a batch of `n` touched accounts. Batch 1 (one account) is settled
    ///      first, so the measured batch is a steady-state one: the very first batch also pays
    ///      the zero-to-nonzero write of the `lastBatchId` slot (+17,100 gas).
    function _submitGas(uint256 n) internal returns (uint256 gasUsed) {
        uint256[] memory words = _batch(n, n);
        uint256 sum = _sumCumulative(words);
        _fund(sum + 1);
        uint256[] memory first = new uint256[](1);
        first[0] = ClaimTreeRef.pack(address(1), 1);
        _submit(first, 1);

        RewardRollup.BatchHeader memory h = _header(sum);
        bytes memory proof = new bytes(1152); // a k=10 proof's size (only calldata cost)
        _cold();
        rollup.submitBatch(h, words, proof);
        gasUsed = vm.lastCallGas().gasTotalUsed;
        assertEq(rollup.claimRoot(2), ClaimTreeRef.root(ClaimTreeRef.leaves(words)));

        // intrinsic cost of the same transaction (Prague): 21,000 + 16/nonzero + 4/zero byte,
        // or the EIP-7623 floor 21,000 + 10 * (zero + 4 * nonzero bytes) if that is higher
        bytes memory data = abi.encodeCall(RewardRollup.submitBatch, (h, words, proof));
        uint256 zeros;
        for (uint256 i; i < data.length; ++i) {
            if (data[i] == 0) ++zeros;
        }
        uint256 nonzeros = data.length - zeros;
        console.log("submitBatch touched=%d execution gas=%d (mock verifier)", n, gasUsed);
        console.log(
            "  + intrinsic %d (21000 + %d calldata bytes); EIP-7623 floor of the whole tx %d",
            21_000 + 4 * zeros + 16 * nonzeros,
            data.length,
            21_000 + 10 * (zeros + 4 * nonzeros)
        );
    }

    function test_gas_submitBatch_4() public {
        assertLt(_submitGas(4), 65_000);
    }

    function test_gas_submitBatch_64() public {
        assertLt(_submitGas(64), 90_000);
    }

    function test_gas_submitBatch_256() public {
        assertLt(_submitGas(256), 180_000);
    }

    function test_gas_submitBatch_firstBatch() public {
        uint256[] memory words = _batch(4, 4);
        uint256 sum = _sumCumulative(words);
        _fund(sum);
        RewardRollup.BatchHeader memory h = _header(sum);
        _cold();
        rollup.submitBatch(h, words, new bytes(1152));
        uint256 gasUsed = vm.lastCallGas().gasTotalUsed;
        console.log("submitBatch (first batch ever) touched=4 execution gas=%d", gasUsed);
        assertLt(gasUsed, 85_000);
    }

    function _claimSetup() internal returns (uint256[] memory words, uint256 index) {
        words = _batch(256, 7); // a 256-leaf tree: 8-level proofs
        _fund(_sumCumulative(words));
        _submit(words);
        index = 100;
    }

    function test_gas_claim_first() public {
        (uint256[] memory words, uint256 i) = _claimSetup();
        address a = ClaimTreeRef.accountOf(words[i]);
        uint256 c = ClaimTreeRef.cumulativeOf(words[i]);
        bytes32[] memory p = _proof(words, i);
        assertEq(p.length, 8);
        _cold();
        rollup.claim(1, a, c, p);
        uint256 first = vm.lastCallGas().gasTotalUsed;
        console.log("claim (first, recipient had no tokens, 8-level proof) gas=%d", first);
        assertEq(token.balanceOf(a), c);
        assertLt(first, 70_000);
    }

    function test_gas_claim_firstRecipientHoldsTokens() public {
        (uint256[] memory words, uint256 i) = _claimSetup();
        address a = ClaimTreeRef.accountOf(words[i]);
        uint256 c = ClaimTreeRef.cumulativeOf(words[i]);
        token.mint(a, 1);
        bytes32[] memory p = _proof(words, i);
        _cold();
        rollup.claim(1, a, c, p);
        uint256 first = vm.lastCallGas().gasTotalUsed;
        console.log("claim (first, recipient already held tokens, 8-level proof) gas=%d", first);
        assertLt(first, 50_000);
    }

    function test_gas_claim_second() public {
        _fund(1e30);
        (uint256[] memory words, uint256 i) = _claimSetup();
        address a = ClaimTreeRef.accountOf(words[i]);
        rollup.claim(1, a, ClaimTreeRef.cumulativeOf(words[i]), _proof(words, i));
        // a later batch raises the account's cumulative: the next claim pays the difference
        uint256[] memory w2 = new uint256[](1);
        w2[0] = ClaimTreeRef.pack(a, ClaimTreeRef.cumulativeOf(words[i]) + 1e18);
        _submit(w2, 1e18);
        _cold();
        rollup.claim(2, a, ClaimTreeRef.cumulativeOf(w2[0]), new bytes32[](0));
        uint256 second = vm.lastCallGas().gasTotalUsed;
        console.log("claim (second, from a later batch, 1-leaf tree) gas=%d", second);
        assertLt(second, 35_000);
    }

    function test_gas_claim_repeatReverts() public {
        (uint256[] memory words, uint256 i) = _claimSetup();
        address a = ClaimTreeRef.accountOf(words[i]);
        uint256 c = ClaimTreeRef.cumulativeOf(words[i]);
        bytes32[] memory p = _proof(words, i);
        rollup.claim(1, a, c, p);
        _cold();
        (bool ok, bytes memory ret) =
            address(rollup).call(abi.encodeCall(RewardRollup.claim, (1, a, c, p)));
        assertFalse(ok);
        assertEq(ret, abi.encodeWithSelector(RewardRollup.NothingToClaim.selector));
        uint256 repeat = vm.lastCallGas().gasTotalUsed;
        console.log("claim (repeat, reverts NothingToClaim) gas=%d", repeat);
        assertLt(repeat, 15_000);
    }

    function test_gas_fund() public {
        token.mint(funder, 1e18);
        vm.prank(funder);
        token.approve(address(rollup), 1e18);
        _cold();
        vm.prank(funder);
        rollup.fund(1e18);
        console.log("fund (first) gas=%d", vm.lastCallGas().gasTotalUsed);
    }
}
