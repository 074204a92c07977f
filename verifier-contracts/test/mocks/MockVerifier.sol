// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice Stand-in for the generated halo2 verifier: like it, it takes raw calldata (the 8
///         instances, then the proof; no selector) in its fallback, returns nothing on success
///         and reverts on failure. Configurable to accept or reject, and to record the calldata
///         it received so tests can assert the exact instance layout.
/// @dev The setters and getters have selectors; calldata whose first 4 bytes (the top of
///      `prevRoot`) equal one of them would not reach the fallback. Tests use roots whose top
///      bytes are zero or random.
contract MockVerifier {
    enum Mode {
        Accept,
        RevertEmpty, // revert with no data, as the generated verifier does
        RevertWithReason
    }

    Mode public mode;
    bool public recording;
    uint256 public calls;
    bytes public lastInput;

    /// @param recording_ Whether to store the received calldata (costs storage gas; off for gas
    ///        measurements).
    constructor(bool recording_) {
        recording = recording_;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function setRecording(bool recording_) external {
        recording = recording_;
    }

    fallback() external {
        Mode m = mode;
        if (m == Mode.RevertEmpty) {
            assembly {
                revert(0, 0)
            }
        }
        if (m == Mode.RevertWithReason) revert("MockVerifier: invalid proof");
        if (recording) {
            lastInput = msg.data;
            calls += 1;
        }
    }
}
