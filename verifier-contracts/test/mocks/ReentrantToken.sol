// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A malicious ERC-20 that, once armed, calls back into `target` with `payload` in the
///         middle of a transfer that involves `target` (a `claim` payout, or the pull of `fund`).
///         With `swallow`, a failed re-entry is recorded and the transfer goes on; otherwise the
///         re-entry's revert data bubbles up.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public swallow;
    bool public armed;
    bool public attempted;
    bool public reentrySucceeded;
    bytes public reentryError;

    constructor() ERC20("Reentrant Token", "EVIL") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata payload_, bool swallow_) external {
        target = target_;
        payload = payload_;
        swallow = swallow_;
        armed = true;
        attempted = false;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (!armed || attempted || (from != target && to != target)) return;
        attempted = true;
        (bool ok, bytes memory ret) = target.call(payload);
        if (ok) {
            reentrySucceeded = true;
            return;
        }
        reentryError = ret;
        if (!swallow) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
