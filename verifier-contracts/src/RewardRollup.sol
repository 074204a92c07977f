// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/*
 * Merit RewardRollup — settles zero-knowledge-proven reward batches and pays contributors.
 *
 * Protocol (fixed by merit-core; every encoding below must match it bit for bit):
 *
 *  - Off-chain, a sequencer seals signed contributions into batch `n` (ids start at 1). A prover
 *    shows with a halo2/KZG proof over BN254 that the registered model scored every contribution
 *    and that the registered policy turned the scores into rewards, added to each contributor's
 *    *cumulative* reward in the Poseidon account tree (`prevRoot` → `newRoot`).
 *  - The batch publishes its `touched` list: one 32-byte word per updated account,
 *    `word = uint256(uint160(account)) << 96 | cumulative` (cumulative < 2^96), sorted by
 *    strictly increasing address.
 *  - The list is bound to the proof by a challenge and an evaluation (p = the BN254 scalar
 *    field modulus, all values uint256):
 *      r = uint256(keccak256(abi.encodePacked(prevRoot, newRoot, batchCommitment,
 *              modelCommitment, policyCommitment, totalReward, touched))) % p
 *      h = Σ_i (address_i + cumulative_i · r) · r^(2i)  mod p
 *    (`touchedChallenge`, `touchedEvaluation`; see there for why this binds the list).
 *  - The proof has 8 public instances, in this order:
 *      [prevRoot, newRoot, batchCommitment, modelCommitment, policyCommitment, totalReward,
 *       r, h]
 *    and the generated verifier is called with `abi.encodePacked(instances, proof)` (no
 *    selector); it returns on success and reverts otherwise.
 *  - After verification this contract builds the batch's *claim root* on-chain from `touched`:
 *    leaf_i = keccak256(bytes.concat(keccak256(abi.encode(account_i, uint256(cumulative_i)))))
 *    in touched order; each level hashes neighbours (0,1), (2,3), … with OpenZeppelin's
 *    commutative (sorted-pair) keccak; an odd last node moves up unchanged; a single leaf is the
 *    root. The tree equals merit-core's `ClaimTree`, so OpenZeppelin's `MerkleProof` and the
 *    usual claim tooling verify its proofs.
 *  - Claims are pull payments of *cumulative* amounts: `claim` pays
 *    `cumulative - claimed[account]` and records `claimed[account] = cumulative`. Cumulative
 *    amounts only grow, so a proof against any batch in which the account was touched is valid;
 *    the latest pays the most, and an older root pays nothing once a newer one was claimed.
 *
 * Trust: the state root and claim roots change only through a verified proof; total claimed ≤
 * total proven (totalRewarded) ≤ total funded. The contract does not re-check that
 * `totalReward` equals the sum of the touched accounts' increments: the proof binds the two.
 *
 * Governance: a two-step owner (Ownable2Step; renouncing is disabled, it would freeze the pause
 * and the timelock). Verifier, model commitment and policy commitment change only through
 * propose → wait `timelockDelay` → execute (or cancel). The owner or a guardian can pause; only
 * the owner can unpause. Pausing stops `submitBatch` *and* `claim`: if a bug is found in the
 * circuit, the verifier or this contract, freezing payouts is what protects the funds. Funding
 * stays open while paused (it cannot hurt and lets the owner top up before unpausing).
 *
 * Funding counts only what arrives through `fund` (balance delta, so fee-on-transfer tokens are
 * accounted correctly); tokens sent directly to the contract are not counted as funding.
 */

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title RewardRollup
/// @notice Verifies Merit batch proofs, stores one claim root per batch and pays cumulative
///         rewards in one ERC-20 token against those roots.
/// @dev Storage is packed so that `claim` touches three slots of its own (the packed
///      claim/pause slot, the batch's claim root, the account's claimed amount).
contract RewardRollup is Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------- types and constants

    /// @notice The batch header submitted with a proof; each field but `batchId` is a public
    ///         instance of the proof.
    /// @param batchId Must be `lastBatchId + 1` (the first batch is 1).
    /// @param prevRoot Account-tree root before the batch; must equal `stateRoot`.
    /// @param newRoot Account-tree root after the batch.
    /// @param batchCommitment Poseidon chain over every contribution of the batch.
    /// @param modelCommitment Must equal the registered `modelCommitment`.
    /// @param policyCommitment Must equal the registered `policyCommitment`.
    /// @param totalReward Sum of the rewards of the batch, in reward-token units.
    struct BatchHeader {
        uint64 batchId;
        uint256 prevRoot;
        uint256 newRoot;
        uint256 batchCommitment;
        uint256 modelCommitment;
        uint256 policyCommitment;
        uint256 totalReward;
    }

    /// @dev A timelocked change: `eta == 0` means none is pending.
    struct PendingChange {
        uint256 value;
        uint256 eta;
    }

    /// @notice Number of public instances of the batch proof.
    uint256 public constant NUM_INSTANCES = 8;
    /// @notice Upper bound of `timelockDelay`, so governance can never lock itself out.
    uint256 public constant MAX_TIMELOCK_DELAY = 30 days;
    /// @dev The low 96 bits of a touched word: the cumulative reward.
    uint256 private constant CUMULATIVE_MASK = (1 << 96) - 1;
    /// @dev The BN254 scalar field modulus p (the field of the proof's public instances).
    uint256 private constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    // ---------------------------------------------------------------- state

    /// @notice The reward token.
    IERC20 public immutable token;
    /// @notice Seconds between proposing and executing a verifier/model/policy change.
    uint256 public immutable timelockDelay;

    // slot: read by both claim and submitBatch
    /// @notice Total amount paid out by `claim`.
    uint128 public totalClaimed;
    /// @notice Id of the last settled batch (0 before the first).
    uint64 public lastBatchId;
    /// @notice Whether `submitBatch` and `claim` are paused.
    bool public paused;

    // slot: funding and proven rewards
    /// @notice Total reward tokens received through `fund`.
    uint128 public totalFunded;
    /// @notice Total rewards of all settled batches (proven rewards).
    uint128 public totalRewarded;

    /// @notice Current account-tree (Poseidon) root; the genesis root before the first batch.
    uint256 public stateRoot;
    /// @notice Registered commitment of the quality-scoring model.
    uint256 public modelCommitment;
    /// @notice Registered commitment of the reward policy.
    uint256 public policyCommitment;
    /// @notice The halo2 verifier contract (generated from the verifying key).
    address public verifier;
    /// @notice The guardian, who may pause (address(0): none).
    address public guardian;

    /// @notice Claim root of each settled batch (zero for unknown batches).
    mapping(uint64 batchId => bytes32 root) public claimRoot;
    /// @notice Cumulative amount already paid to each account.
    mapping(address account => uint256 cumulative) public claimed;

    PendingChange private _pendingVerifier;
    PendingChange private _pendingModelCommitment;
    PendingChange private _pendingPolicyCommitment;

    // ---------------------------------------------------------------- events

    /// @notice Emitted once at deployment with the initial configuration.
    event RollupInitialized(
        IERC20 indexed token,
        address indexed verifier,
        uint256 modelCommitment,
        uint256 policyCommitment,
        uint256 genesisRoot,
        uint256 timelockDelay
    );
    /// @notice A batch was verified and settled. The touched list itself is in the transaction's
    ///         calldata; `challenge` (the proof's touched-list challenge r, a keccak of the
    ///         header and the list, see `touchedChallenge`) authenticates it.
    event BatchSettled(
        uint64 indexed batchId,
        uint256 prevRoot,
        uint256 newRoot,
        bytes32 claimRoot,
        uint256 totalReward,
        uint256 challenge,
        uint256 touchedCount
    );
    /// @notice `amount` was paid to `account`, whose claimed cumulative is now `cumulative`.
    event Claimed(
        address indexed account, uint64 indexed batchId, uint256 amount, uint256 cumulative
    );
    /// @notice `amount` tokens (as received) were added to the funding by `from`.
    event Funded(address indexed from, uint256 amount, uint256 totalFunded);
    /// @notice A verifier change was proposed; executable from `eta`.
    event VerifierChangeProposed(address indexed verifier, uint256 eta);
    /// @notice The verifier changed.
    event VerifierChanged(address indexed previousVerifier, address indexed newVerifier);
    /// @notice A pending verifier change was cancelled.
    event VerifierChangeCancelled(address indexed verifier);
    /// @notice A model-commitment change was proposed; executable from `eta`.
    event ModelCommitmentChangeProposed(uint256 commitment, uint256 eta);
    /// @notice The model commitment changed.
    event ModelCommitmentChanged(uint256 previousCommitment, uint256 newCommitment);
    /// @notice A pending model-commitment change was cancelled.
    event ModelCommitmentChangeCancelled(uint256 commitment);
    /// @notice A policy-commitment change was proposed; executable from `eta`.
    event PolicyCommitmentChangeProposed(uint256 commitment, uint256 eta);
    /// @notice The policy commitment changed.
    event PolicyCommitmentChanged(uint256 previousCommitment, uint256 newCommitment);
    /// @notice A pending policy-commitment change was cancelled.
    event PolicyCommitmentChangeCancelled(uint256 commitment);
    /// @notice The guardian changed.
    event GuardianChanged(address indexed previousGuardian, address indexed newGuardian);
    /// @notice `account` paused the rollup.
    event Paused(address account);
    /// @notice `account` unpaused the rollup.
    event Unpaused(address account);

    // ---------------------------------------------------------------- errors

    /// @notice The rollup is paused.
    error ContractPaused();
    /// @notice `unpause` while not paused.
    error ContractNotPaused();
    /// @notice Only the owner or the guardian may pause.
    error NotOwnerOrGuardian(address caller);
    /// @notice The batch id is not `lastBatchId + 1`.
    error UnexpectedBatchId(uint64 expected, uint64 got);
    /// @notice `header.prevRoot` is not the current state root.
    error StateRootMismatch(uint256 expected, uint256 got);
    /// @notice `header.modelCommitment` is not the registered model.
    error ModelCommitmentMismatch(uint256 expected, uint256 got);
    /// @notice `header.policyCommitment` is not the registered policy.
    error PolicyCommitmentMismatch(uint256 expected, uint256 got);
    /// @notice The batch would reward more than the funding not yet committed to batches.
    error InsufficientFunding(uint256 available, uint256 requested);
    /// @notice A batch must touch at least one account.
    error EmptyTouchedList();
    /// @notice Touched words must have strictly increasing addresses; `index` breaks it.
    error TouchedNotSorted(uint256 index);
    /// @notice The verifier rejected the proof (or the call failed).
    error InvalidProof();
    /// @notice The verifier address has no code.
    error VerifierHasNoCode(address verifier);
    /// @notice No batch with this id was settled.
    error UnknownBatch(uint64 batchId);
    /// @notice The Merkle proof does not prove `(account, cumulative)` in the batch's claim root.
    error InvalidClaimProof();
    /// @notice `cumulative` is not above what the account was already paid.
    error NothingToClaim();
    /// @notice A zero amount (or nothing received) was funded.
    error ZeroAmount();
    /// @notice Total funding would exceed 2^128 - 1 token units.
    error FundingOverflow();
    /// @notice A zero address where one is required.
    error ZeroAddress();
    /// @notice The constructor's timelock delay exceeds `MAX_TIMELOCK_DELAY`.
    error TimelockDelayTooLong(uint256 delay, uint256 max);
    /// @notice A change of this parameter is already pending; cancel it first.
    error ChangeAlreadyPending(uint256 eta);
    /// @notice No change of this parameter is pending.
    error NoPendingChange();
    /// @notice The pending change is executable only from `eta`.
    error TimelockNotExpired(uint256 eta);
    /// @notice Renouncing ownership is disabled.
    error RenounceOwnershipDisabled();

    // ---------------------------------------------------------------- constructor

    /// @notice Deploys the rollup.
    /// @param token_ The reward ERC-20.
    /// @param verifier_ The generated halo2 verifier (must have code).
    /// @param modelCommitment_ The registered model commitment.
    /// @param policyCommitment_ The registered policy commitment.
    /// @param genesisRoot The root of the empty account tree (the first batch's `prevRoot`).
    /// @param timelockDelay_ Seconds a governance change waits (≤ `MAX_TIMELOCK_DELAY`).
    /// @param owner_ The initial owner.
    /// @param guardian_ The initial guardian (address(0) for none).
    constructor(
        IERC20 token_,
        address verifier_,
        uint256 modelCommitment_,
        uint256 policyCommitment_,
        uint256 genesisRoot,
        uint256 timelockDelay_,
        address owner_,
        address guardian_
    ) Ownable(owner_) {
        if (address(token_) == address(0)) revert ZeroAddress();
        if (verifier_.code.length == 0) revert VerifierHasNoCode(verifier_);
        if (timelockDelay_ > MAX_TIMELOCK_DELAY) {
            revert TimelockDelayTooLong(timelockDelay_, MAX_TIMELOCK_DELAY);
        }
        token = token_;
        verifier = verifier_;
        modelCommitment = modelCommitment_;
        policyCommitment = policyCommitment_;
        stateRoot = genesisRoot;
        timelockDelay = timelockDelay_;
        guardian = guardian_;
        emit RollupInitialized(
            token_, verifier_, modelCommitment_, policyCommitment_, genesisRoot, timelockDelay_
        );
        emit GuardianChanged(address(0), guardian_);
    }

    // ---------------------------------------------------------------- batches

    /// @notice Verifies a batch proof and settles the batch: stores its claim root, advances the
    ///         state root and the batch id, and commits `header.totalReward` of the funding.
    /// @dev Reverts unless not paused, `header.batchId == lastBatchId + 1`,
    ///      `header.prevRoot == stateRoot`, the commitments are the registered ones, the reward
    ///      fits in the uncommitted funding, `touched` is non-empty and sorted by strictly
    ///      increasing address, and the verifier accepts `abi.encodePacked(instances, proof)`.
    /// @param header The batch header (public instances but `batchId`).
    /// @param touched Packed touched words `address << 96 | cumulative`, sorted by address.
    /// @param proof The halo2 proof bytes, passed to the verifier after the instances.
    function submitBatch(
        BatchHeader calldata header,
        uint256[] calldata touched,
        bytes calldata proof
    ) external nonReentrant {
        uint256 rewarded = _checkBatch(header, touched.length);
        uint256 r = _touchedChallenge(header, touched);
        _verifyProof(_instances(header, r, _touchedEvaluation(r, touched)), proof);
        _settle(header, _claimRoot(touched), r, touched.length, rewarded);
    }

    // ---------------------------------------------------------------- claims

    /// @notice Pays `account` its cumulative reward minus what it was already paid, proven
    ///         against the claim root of batch `batchId`. Anyone may call; funds go to `account`.
    /// @dev Checks-effects-interactions: `claimed` and `totalClaimed` are updated before the
    ///      transfer (and the function is non-reentrant). Reverts `NothingToClaim` when
    ///      `cumulative <= claimed[account]` (a repeat claim, or an older root after a newer one).
    /// @param batchId A settled batch in which `account` was touched.
    /// @param account The account paid.
    /// @param cumulative The account's cumulative reward in that batch's touched list.
    /// @param proof Sibling hashes from the leaf up (OpenZeppelin `MerkleProof` format).
    function claim(uint64 batchId, address account, uint256 cumulative, bytes32[] calldata proof)
        external
        nonReentrant
    {
        if (paused) revert ContractPaused();
        bytes32 root = claimRoot[batchId];
        if (root == bytes32(0)) revert UnknownBatch(batchId);
        if (!MerkleProof.verifyCalldata(proof, root, claimLeaf(account, cumulative))) {
            revert InvalidClaimProof();
        }
        uint256 already = claimed[account];
        if (cumulative <= already) revert NothingToClaim();
        uint256 amount = cumulative - already;

        claimed[account] = cumulative;
        // casting to 'uint128' is safe because amount <= cumulative < 2^96 (a proven leaf)
        // forge-lint: disable-next-line(unsafe-typecast)
        totalClaimed += uint128(amount);

        token.safeTransfer(account, amount);
        emit Claimed(account, batchId, amount, cumulative);
    }

    // ---------------------------------------------------------------- funding

    /// @notice Pulls `amount` reward tokens from the caller (who must have approved them) and
    ///         adds what actually arrived to `totalFunded`. Allowed while paused.
    /// @param amount Tokens to transfer from the caller.
    function fund(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        uint256 funded = uint256(totalFunded) + received;
        if (funded > type(uint128).max) revert FundingOverflow();
        // casting to 'uint128' is safe because of the check above
        // forge-lint: disable-next-line(unsafe-typecast)
        totalFunded = uint128(funded);
        emit Funded(msg.sender, received, funded);
    }

    // ---------------------------------------------------------------- governance: timelock

    /// @notice Proposes a new verifier (owner); executable after `timelockDelay`.
    /// @param newVerifier The new verifier contract (must have code).
    function proposeVerifier(address newVerifier) external onlyOwner {
        if (newVerifier.code.length == 0) revert VerifierHasNoCode(newVerifier);
        uint256 eta = _propose(_pendingVerifier, uint256(uint160(newVerifier)));
        emit VerifierChangeProposed(newVerifier, eta);
    }

    /// @notice Applies the pending verifier change once its eta has passed (owner).
    function executeVerifier() external onlyOwner {
        address newVerifier = address(uint160(_execute(_pendingVerifier)));
        if (newVerifier.code.length == 0) revert VerifierHasNoCode(newVerifier);
        emit VerifierChanged(verifier, newVerifier);
        verifier = newVerifier;
    }

    /// @notice Cancels the pending verifier change (owner).
    function cancelVerifier() external onlyOwner {
        emit VerifierChangeCancelled(address(uint160(_cancel(_pendingVerifier))));
    }

    /// @notice Proposes a new model commitment (owner); executable after `timelockDelay`.
    /// @param newCommitment The new model commitment.
    function proposeModelCommitment(uint256 newCommitment) external onlyOwner {
        uint256 eta = _propose(_pendingModelCommitment, newCommitment);
        emit ModelCommitmentChangeProposed(newCommitment, eta);
    }

    /// @notice Applies the pending model-commitment change once its eta has passed (owner).
    function executeModelCommitment() external onlyOwner {
        uint256 newCommitment = _execute(_pendingModelCommitment);
        emit ModelCommitmentChanged(modelCommitment, newCommitment);
        modelCommitment = newCommitment;
    }

    /// @notice Cancels the pending model-commitment change (owner).
    function cancelModelCommitment() external onlyOwner {
        emit ModelCommitmentChangeCancelled(_cancel(_pendingModelCommitment));
    }

    /// @notice Proposes a new policy commitment (owner); executable after `timelockDelay`.
    /// @param newCommitment The new policy commitment.
    function proposePolicyCommitment(uint256 newCommitment) external onlyOwner {
        uint256 eta = _propose(_pendingPolicyCommitment, newCommitment);
        emit PolicyCommitmentChangeProposed(newCommitment, eta);
    }

    /// @notice Applies the pending policy-commitment change once its eta has passed (owner).
    function executePolicyCommitment() external onlyOwner {
        uint256 newCommitment = _execute(_pendingPolicyCommitment);
        emit PolicyCommitmentChanged(policyCommitment, newCommitment);
        policyCommitment = newCommitment;
    }

    /// @notice Cancels the pending policy-commitment change (owner).
    function cancelPolicyCommitment() external onlyOwner {
        emit PolicyCommitmentChangeCancelled(_cancel(_pendingPolicyCommitment));
    }

    /// @notice The pending verifier change (`eta == 0`: none).
    /// @return newVerifier The proposed verifier.
    /// @return eta The earliest execution time.
    function pendingVerifier() external view returns (address newVerifier, uint256 eta) {
        return (address(uint160(_pendingVerifier.value)), _pendingVerifier.eta);
    }

    /// @notice The pending model-commitment change (`eta == 0`: none).
    /// @return commitment The proposed commitment.
    /// @return eta The earliest execution time.
    function pendingModelCommitment() external view returns (uint256 commitment, uint256 eta) {
        return (_pendingModelCommitment.value, _pendingModelCommitment.eta);
    }

    /// @notice The pending policy-commitment change (`eta == 0`: none).
    /// @return commitment The proposed commitment.
    /// @return eta The earliest execution time.
    function pendingPolicyCommitment() external view returns (uint256 commitment, uint256 eta) {
        return (_pendingPolicyCommitment.value, _pendingPolicyCommitment.eta);
    }

    // ---------------------------------------------------------------- governance: pause

    /// @notice Sets the guardian, who may pause (owner; address(0) removes it).
    /// @param newGuardian The new guardian.
    function setGuardian(address newGuardian) external onlyOwner {
        emit GuardianChanged(guardian, newGuardian);
        guardian = newGuardian;
    }

    /// @notice Pauses `submitBatch` and `claim` (owner or guardian).
    function pause() external {
        if (msg.sender != owner() && msg.sender != guardian) revert NotOwnerOrGuardian(msg.sender);
        if (paused) revert ContractPaused();
        paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Lifts the pause (owner only).
    function unpause() external onlyOwner {
        if (!paused) revert ContractNotPaused();
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Disabled: without an owner the pause could never be lifted.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceOwnershipDisabled();
    }

    // ---------------------------------------------------------------- views and pure helpers

    /// @notice What `claim` would pay for `(account, cumulative)` now (ignores proof and pause).
    /// @param account The account.
    /// @param cumulative Its cumulative reward in some batch's touched list.
    /// @return amount `cumulative - claimed[account]`, or 0.
    function claimable(address account, uint256 cumulative) external view returns (uint256 amount) {
        uint256 already = claimed[account];
        return cumulative > already ? cumulative - already : 0;
    }

    /// @notice Whether `proof` proves `(account, cumulative)` in batch `batchId`'s claim root.
    /// @param batchId The batch.
    /// @param account The account.
    /// @param cumulative The cumulative reward.
    /// @param proof Sibling hashes, leaf-up.
    /// @return valid True when the batch exists and the proof is valid.
    function verifyClaim(
        uint64 batchId,
        address account,
        uint256 cumulative,
        bytes32[] calldata proof
    ) external view returns (bool valid) {
        bytes32 root = claimRoot[batchId];
        return root != bytes32(0)
            && MerkleProof.verifyCalldata(proof, root, claimLeaf(account, cumulative));
    }

    /// @notice The claim-tree leaf `keccak256(bytes.concat(keccak256(abi.encode(account,
    ///         cumulative))))` (OpenZeppelin StandardMerkleTree encoding).
    /// @param account The account.
    /// @param cumulative Its cumulative reward.
    /// @return leaf The leaf hash.
    function claimLeaf(address account, uint256 cumulative) public pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore(0x00, and(account, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(0x20, cumulative)
            mstore(0x00, keccak256(0x00, 0x40))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @notice Packs a touched word `address << 96 | cumulative`.
    /// @param account The account.
    /// @param cumulative Its cumulative reward (96 bits).
    /// @return word The touched word.
    function packTouched(address account, uint96 cumulative) external pure returns (uint256 word) {
        return (uint256(uint160(account)) << 96) | cumulative;
    }

    /// @notice The touched-list challenge, public instance 6 of the proof:
    ///         `r = uint256(keccak256(abi.encodePacked(header.prevRoot, header.newRoot,
    ///         header.batchCommitment, header.modelCommitment, header.policyCommitment,
    ///         header.totalReward, touched))) % p` (every value a 32-byte word; `batchId` is not
    ///         hashed), p the BN254 scalar field modulus.
    /// @dev Why a challenge and an evaluation bind the list (instead of keccak in the circuit,
    ///      ~285k cells per 136 bytes): the circuit evaluates the polynomial of
    ///      `touchedEvaluation` over the touched list it proves, at the instance r, and exposes
    ///      the result as instance 7; the contract evaluates the same polynomial over its
    ///      calldata list. The proven list is determined by the other instances (the circuit
    ///      derives it from the contributions under `batchCommitment`, the account tree at
    ///      `prevRoot`, the model and the policy) and is therefore fixed before r exists, while
    ///      r hashes those instances together with the calldata list. If the two lists differ, their
    ///      polynomials (degree < 2M in r, M entries) differ, and they agree at r with
    ///      probability ≤ 2M/p per keccak query (Schwartz–Zippel, keccak as a random oracle;
    ///      p ≈ 2^254). The one exception is an all-zero trailing entry (address 0, cumulative
    ///      0), which adds nothing to h: strictly increasing addresses allow it only as the sole
    ///      entry, and r still differs because the calldata length is hashed.
    /// @param header The batch header (its `batchId` is ignored).
    /// @param touched Packed touched words.
    /// @return r The challenge, below p.
    function touchedChallenge(BatchHeader calldata header, uint256[] calldata touched)
        external
        pure
        returns (uint256 r)
    {
        return _touchedChallenge(header, touched);
    }

    /// @notice The touched list evaluated at `r`, public instance 7 of the proof:
    ///         `h = Σ_i (address_i + cumulative_i · r) · r^(2i) mod p`, with
    ///         `address_i = touched[i] >> 96` and `cumulative_i = touched[i] & (2^96 - 1)`
    ///         (two coefficients per entry, so distinct lists give distinct polynomials).
    ///         See `touchedChallenge` for why this binds the list.
    /// @param r The challenge (taken mod p); `submitBatch` uses `touchedChallenge`.
    /// @param touched Packed touched words (any list; the empty list gives 0).
    /// @return h The evaluation, below p.
    function touchedEvaluation(uint256 r, uint256[] calldata touched)
        external
        pure
        returns (uint256 h)
    {
        return _touchedEvaluation(r, touched);
    }

    /// @notice The 8 public instances `submitBatch` passes to the verifier for this batch.
    /// @param header The batch header.
    /// @param touched Packed touched words.
    /// @return instances `[prevRoot, newRoot, batchCommitment, modelCommitment,
    ///         policyCommitment, totalReward, r, h]` with `r = touchedChallenge(header,
    ///         touched)` and `h = touchedEvaluation(r, touched)`.
    function publicInstances(BatchHeader calldata header, uint256[] calldata touched)
        external
        pure
        returns (uint256[NUM_INSTANCES] memory instances)
    {
        uint256 r = _touchedChallenge(header, touched);
        return _instances(header, r, _touchedEvaluation(r, touched));
    }

    /// @notice The claim root `submitBatch` would store for `touched` (same checks: non-empty,
    ///         strictly increasing addresses).
    /// @param touched Packed touched words.
    /// @return root The claim root.
    function computeClaimRoot(uint256[] calldata touched) external pure returns (bytes32 root) {
        if (touched.length == 0) revert EmptyTouchedList();
        return _claimRoot(touched);
    }

    // ---------------------------------------------------------------- internals

    function _instances(BatchHeader calldata header, uint256 r, uint256 h)
        private
        pure
        returns (uint256[NUM_INSTANCES] memory instances)
    {
        instances[0] = header.prevRoot;
        instances[1] = header.newRoot;
        instances[2] = header.batchCommitment;
        instances[3] = header.modelCommitment;
        instances[4] = header.policyCommitment;
        instances[5] = header.totalReward;
        instances[6] = r;
        instances[7] = h;
    }

    /// @dev `keccak256(prevRoot ‖ … ‖ totalReward ‖ touched) % p`. The header is a static
    ///      calldata struct: its six hashed fields are the 32-byte words at offsets 0x20..0xe0
    ///      (after `batchId`), so they and the list are copied as they are into scratch memory
    ///      past the free-memory pointer (not advanced), as `abi.encodePacked` would lay them out.
    function _touchedChallenge(BatchHeader calldata header, uint256[] calldata touched)
        private
        pure
        returns (uint256 r)
    {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            calldatacopy(buf, add(header, 0x20), 0xc0) // prevRoot, …, totalReward
            let size := shl(5, touched.length)
            calldatacopy(add(buf, 0xc0), touched.offset, size)
            r := mod(keccak256(buf, add(0xc0, size)), P)
        }
    }

    /// @dev Horner from the last entry: `h = h·r² + address_i + cumulative_i·r` for i = n-1..0
    ///      (an odd last entry first, then two entries per iteration: ~93 gas an entry instead
    ///      of ~119 one at a time). The reduction mod p is lazy: each step adds two mulmods
    ///      (each below p) and an address (below 2^160), so h < 2p + 2^160 < 2^256 throughout
    ///      (mulmod takes any 256-bit operand); one `mod` at the end.
    function _touchedEvaluation(uint256 r, uint256[] calldata touched)
        private
        pure
        returns (uint256 h)
    {
        assembly ("memory-safe") {
            let r2 := mulmod(r, r, P)
            let start := touched.offset
            let ptr := add(start, shl(5, touched.length)) // one past the last word
            if and(touched.length, 1) {
                ptr := sub(ptr, 0x20)
                let word := calldataload(ptr)
                // shr(96, word): account; and(word, CUMULATIVE_MASK): cumulative
                h := add(shr(96, word), mulmod(and(word, 0xffffffffffffffffffffffff), r, P))
            }
            for {} gt(ptr, start) {} {
                ptr := sub(ptr, 0x40)
                let word := calldataload(add(ptr, 0x20)) // entry i + 1
                h := add(
                    mulmod(h, r2, P),
                    add(shr(96, word), mulmod(and(word, 0xffffffffffffffffffffffff), r, P))
                )
                word := calldataload(ptr) // entry i
                h := add(
                    mulmod(h, r2, P),
                    add(shr(96, word), mulmod(and(word, 0xffffffffffffffffffffffff), r, P))
                )
            }
            h := mod(h, P)
        }
    }

    /// @dev The checks of `submitBatch` before the proof; returns `totalRewarded`.
    function _checkBatch(BatchHeader calldata header, uint256 touchedCount)
        private
        view
        returns (uint256 rewarded)
    {
        if (paused) revert ContractPaused();
        uint64 expectedId = lastBatchId + 1;
        if (header.batchId != expectedId) revert UnexpectedBatchId(expectedId, header.batchId);
        uint256 root = stateRoot;
        if (header.prevRoot != root) revert StateRootMismatch(root, header.prevRoot);
        if (header.modelCommitment != modelCommitment) {
            revert ModelCommitmentMismatch(modelCommitment, header.modelCommitment);
        }
        if (header.policyCommitment != policyCommitment) {
            revert PolicyCommitmentMismatch(policyCommitment, header.policyCommitment);
        }
        rewarded = totalRewarded;
        uint256 available = uint256(totalFunded) - rewarded; // totalRewarded <= totalFunded
        if (header.totalReward > available) {
            revert InsufficientFunding(available, header.totalReward);
        }
        if (touchedCount == 0) revert EmptyTouchedList();
    }

    /// @dev The effects of `submitBatch` once the proof is verified.
    function _settle(
        BatchHeader calldata header,
        bytes32 root,
        uint256 challenge,
        uint256 touchedCount,
        uint256 rewarded
    ) private {
        claimRoot[header.batchId] = root;
        stateRoot = header.newRoot;
        lastBatchId = header.batchId;
        // casting to 'uint128' is safe because rewarded + totalReward <= totalFunded < 2^128
        // forge-lint: disable-next-line(unsafe-typecast)
        totalRewarded = uint128(rewarded + header.totalReward);
        emit BatchSettled(
            header.batchId,
            header.prevRoot,
            header.newRoot,
            root,
            header.totalReward,
            challenge,
            touchedCount
        );
    }

    /// @dev Calls the verifier with `abi.encodePacked(instances, proof)`; any revert or failed
    ///      call is `InvalidProof`. A verifier without code would "succeed", hence the check.
    function _verifyProof(uint256[NUM_INSTANCES] memory instances, bytes calldata proof) private {
        address v = verifier;
        if (v.code.length == 0) revert VerifierHasNoCode(v);
        (bool ok,) = v.call(abi.encodePacked(instances, proof));
        if (!ok) revert InvalidProof();
    }

    /// @dev Builds the claim root in memory past the free-memory pointer (not advanced: the
    ///      buffer is scratch). Layout: level L keeps its node j at buf + 32·2^L·j.
    ///      - Leaves are hashed two by two and their parent is written at once (level 1, node j
    ///        at buf + 64·j); an odd last leaf is written where its level-1 node goes, i.e. it
    ///        moves up unchanged.
    ///      - Each further pass with stride s = 32·2^L hashes the pairs (p, p + s) for p = buf,
    ///        buf + 2s, … while p + s is inside the level, writing over the left child; a node
    ///        without a right sibling stays where it is, i.e. moves up unchanged.
    ///      This is exactly merit-core's level-by-level tree. The pair order is picked without a
    ///      branch (as in Solady's MerkleProofLib). Strictly increasing addresses are checked
    ///      on the way, with one branch after the loop. `touched` must be non-empty.
    function _claimRoot(uint256[] calldata touched) private pure returns (bytes32 root) {
        bool unsorted;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            let size := shl(5, touched.length)
            let src := touched.offset
            let dst := buf
            let minAccount := 0 // previous account + 1 (addresses are 160-bit: no overflow)
            for { let pairsEnd := add(src, shl(6, shr(1, touched.length))) } lt(src, pairsEnd) {
                src := add(src, 0x40)
                dst := add(dst, 0x40)
            } {
                // left leaf
                let word := calldataload(src)
                let account := shr(96, word)
                unsorted := or(unsorted, lt(account, minAccount))
                mstore(0x00, account)
                mstore(0x20, and(word, 0xffffffffffffffffffffffff)) // CUMULATIVE_MASK
                mstore(0x00, keccak256(0x00, 0x40))
                let left := keccak256(0x00, 0x20)
                // right leaf
                word := calldataload(add(src, 0x20))
                minAccount := shr(96, word)
                unsorted := or(unsorted, iszero(gt(minAccount, account)))
                mstore(0x00, minAccount)
                mstore(0x20, and(word, 0xffffffffffffffffffffffff))
                mstore(0x00, keccak256(0x00, 0x40))
                let right := keccak256(0x00, 0x20)
                minAccount := add(minAccount, 1)
                // parent: commutative keccak, hash(min, max)
                let slot := shl(5, gt(left, right))
                mstore(slot, left)
                mstore(xor(slot, 0x20), right)
                mstore(dst, keccak256(0x00, 0x40))
            }
            if and(touched.length, 1) {
                let word := calldataload(src)
                let account := shr(96, word)
                unsorted := or(unsorted, lt(account, minAccount))
                mstore(0x00, account)
                mstore(0x20, and(word, 0xffffffffffffffffffffffff))
                mstore(0x00, keccak256(0x00, 0x40))
                mstore(dst, keccak256(0x00, 0x20))
            }
            for { let stride := 0x40 } lt(stride, size) { stride := shl(1, stride) } {
                let step := shl(1, stride)
                let last := sub(add(buf, size), stride) // pairs start below this
                for { let p := buf } lt(p, last) { p := add(p, step) } {
                    let a := mload(p)
                    let b := mload(add(p, stride))
                    let slot := shl(5, gt(a, b))
                    mstore(slot, a)
                    mstore(xor(slot, 0x20), b)
                    mstore(p, keccak256(0x00, 0x40))
                }
            }
            root := mload(buf)
        }
        if (unsorted) revert TouchedNotSorted(_firstUnsorted(touched));
    }

    /// @dev The first index whose address is not above the previous one (slow path).
    function _firstUnsorted(uint256[] calldata touched) private pure returns (uint256 i) {
        for (i = 1; i < touched.length; ++i) {
            if (touched[i] >> 96 <= touched[i - 1] >> 96) return i;
        }
    }

    /// @dev Stores a pending change, returns its eta.
    function _propose(PendingChange storage pending, uint256 value) private returns (uint256 eta) {
        if (pending.eta != 0) revert ChangeAlreadyPending(pending.eta);
        eta = block.timestamp + timelockDelay;
        pending.value = value;
        pending.eta = eta;
    }

    /// @dev Clears a pending change whose eta has passed, returns its value.
    function _execute(PendingChange storage pending) private returns (uint256 value) {
        uint256 eta = pending.eta;
        if (eta == 0) revert NoPendingChange();
        // a timelock of hours or days is insensitive to validators' timestamp drift
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < eta) revert TimelockNotExpired(eta);
        value = pending.value;
        delete pending.value;
        delete pending.eta;
    }

    /// @dev Clears a pending change, returns its value.
    function _cancel(PendingChange storage pending) private returns (uint256 value) {
        if (pending.eta == 0) revert NoPendingChange();
        value = pending.value;
        delete pending.value;
        delete pending.eta;
    }
}
