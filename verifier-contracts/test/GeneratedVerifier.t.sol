// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {RewardRollup} from "../src/RewardRollup.sol";
import {MockERC20} from "./mocks/MockERC20.sol";

/// @notice The generated verifiers (`src/generated/`, made by `merit verifier generate`) against
///         real proofs: `fixtures/proofs/NAME.cuda.submit.json` holds a proof made by the CUDA
///         prover on an H100 and the `submitBatch`/`claim` arguments that go with it (written by
///         merit-prover's `evm` test from that proof and merit-core). The verifiers are deployed
///         from their artifacts (they are compiled without the optimizer, see foundry.toml).
contract GeneratedVerifierTest is Test {
    /// EIP-170: the largest runtime code a contract may have.
    uint256 internal constant MAX_CODE_SIZE = 24_576;

    struct Fixture {
        bytes32[] instances;
        bytes proof;
        RewardRollup.BatchHeader header;
        uint256[] touched;
        string json;
    }

    function _fixture(string memory config) internal view returns (Fixture memory f) {
        f.json = vm.readFile(
            string.concat(vm.projectRoot(), "/../fixtures/proofs/", config, ".cuda.submit.json")
        );
        f.instances = vm.parseJsonBytes32Array(f.json, ".instances");
        f.proof = vm.parseJsonBytes(f.json, ".proof");
        f.touched = vm.parseJsonUintArray(f.json, ".touched");
        f.header.batchId = uint64(vm.parseJsonUint(f.json, ".header.batchId"));
        f.header.prevRoot = vm.parseJsonUint(f.json, ".header.prevRoot");
        f.header.newRoot = vm.parseJsonUint(f.json, ".header.newRoot");
        f.header.batchCommitment = vm.parseJsonUint(f.json, ".header.batchCommitment");
        f.header.modelCommitment = vm.parseJsonUint(f.json, ".header.modelCommitment");
        f.header.policyCommitment = vm.parseJsonUint(f.json, ".header.policyCommitment");
        f.header.totalReward = vm.parseJsonUint(f.json, ".header.totalReward");
    }

    /// Deploys `NAMEBatchVerifierPart2`, then `NAMEBatchVerifier` pointing at it.
    function _verifier(string memory contractName) internal returns (address verifier) {
        string memory file = string.concat(contractName, ".sol:");
        address part2 = deployCode(string.concat(file, contractName, "Part2"));
        verifier = deployCode(string.concat(file, contractName), abi.encode(part2));
        assertLe(part2.code.length, MAX_CODE_SIZE, "part 2 exceeds EIP-170");
        assertLe(verifier.code.length, MAX_CODE_SIZE, "verifier exceeds EIP-170");
    }

    function _verify(address verifier, bytes32[] memory instances, bytes memory proof)
        internal
        returns (bool ok, uint256 gasUsed)
    {
        uint256 before = gasleft();
        (ok,) = verifier.call(abi.encodePacked(instances, proof));
        gasUsed = before - gasleft();
    }

    function test_cudaProofsVerify() public {
        string[2] memory configs = ["tiny", "n16"];
        string[2] memory names = ["TinyBatchVerifier", "N16BatchVerifier"];
        for (uint256 c; c < 2; ++c) {
            Fixture memory f = _fixture(configs[c]);
            address verifier = _verifier(names[c]);
            (bool ok, uint256 gasUsed) = _verify(verifier, f.instances, f.proof);
            assertTrue(ok, configs[c]);
            emit log_named_uint(string.concat(configs[c], ": verification gas"), gasUsed);
            emit log_named_uint(string.concat(configs[c], ": verifier code"), verifier.code.length);
        }
    }

    function test_changedInstanceIsRejected() public {
        Fixture memory f = _fixture("tiny");
        address verifier = _verifier("TinyBatchVerifier");
        for (uint256 i; i < f.instances.length; ++i) {
            bytes32[] memory changed = new bytes32[](f.instances.length);
            for (uint256 j; j < changed.length; ++j) {
                changed[j] = f.instances[j];
            }
            changed[i] = bytes32(uint256(changed[i]) ^ 1);
            (bool ok,) = _verify(verifier, changed, f.proof);
            assertFalse(ok, "a changed instance verified");
        }
    }

    function test_changedProofByteIsRejected() public {
        Fixture memory f = _fixture("tiny");
        address verifier = _verifier("TinyBatchVerifier");
        // a commitment (first half) and an evaluation or opening (second half)
        uint256[4] memory offsets = [uint256(5), 200, f.proof.length / 2, f.proof.length - 40];
        for (uint256 k; k < offsets.length; ++k) {
            bytes memory changed = bytes.concat(f.proof);
            changed[offsets[k]] = changed[offsets[k]] ^ 0x01;
            (bool ok,) = _verify(verifier, f.instances, changed);
            assertFalse(ok, "a changed proof byte verified");
        }
        (bool truncated,) = _verify(verifier, f.instances, bytes(""));
        assertFalse(truncated, "an empty proof verified");
    }

    /// The whole settlement path with a real proof: RewardRollup (registered with the proof's
    /// genesis root and commitments) verifies the CUDA proof of the n16 sample batch through
    /// the generated verifier, builds the claim root from the touched list, and pays every
    /// account its cumulative reward exactly once.
    function test_realProofSettlesAndEveryAccountClaimsOnce() public {
        Fixture memory f = _fixture("n16");
        address verifier = _verifier("N16BatchVerifier");
        MockERC20 token = new MockERC20();
        RewardRollup rollup = new RewardRollup(
            IERC20(address(token)),
            verifier,
            f.header.modelCommitment,
            f.header.policyCommitment,
            f.header.prevRoot,
            1 days,
            address(this),
            address(0)
        );
        token.mint(address(this), f.header.totalReward);
        token.approve(address(rollup), f.header.totalReward);
        rollup.fund(f.header.totalReward);

        // One changed touched word changes the challenge and the evaluation: rejected.
        uint256[] memory forged = new uint256[](f.touched.length);
        for (uint256 i; i < forged.length; ++i) {
            forged[i] = f.touched[i];
        }
        forged[0] += 1;
        vm.expectRevert(RewardRollup.InvalidProof.selector);
        rollup.submitBatch(f.header, forged, f.proof);

        uint256 before = gasleft();
        rollup.submitBatch(f.header, f.touched, f.proof);
        emit log_named_uint("n16: submitBatch gas (4 touched, real verifier)", before - gasleft());
        assertEq(rollup.stateRoot(), f.header.newRoot);
        assertEq(rollup.claimRoot(f.header.batchId), vm.parseJsonBytes32(f.json, ".claimRoot"));

        uint256 paid;
        for (uint256 i; i < f.touched.length; ++i) {
            string memory claim = string.concat(".claims[", vm.toString(i), "]");
            address account = vm.parseJsonAddress(f.json, string.concat(claim, ".account"));
            uint256 cumulative =
                vm.parseUint(vm.parseJsonString(f.json, string.concat(claim, ".cumulative")));
            bytes32[] memory proof =
                vm.parseJsonBytes32Array(f.json, string.concat(claim, ".proof"));
            rollup.claim(f.header.batchId, account, cumulative, proof);
            assertEq(token.balanceOf(account), cumulative);
            paid += cumulative;
            vm.expectRevert(RewardRollup.NothingToClaim.selector);
            rollup.claim(f.header.batchId, account, cumulative, proof);
        }
        assertEq(paid, f.header.totalReward);
        assertEq(token.balanceOf(address(rollup)), 0);
    }
}
