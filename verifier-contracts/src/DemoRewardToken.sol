// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title DemoRewardToken
/// @notice A plain fixed-supply ERC-20 (OpenZeppelin) for the local demo and the end-to-end
///         tests: the whole supply goes to `holder` at deployment, who funds the rollup. A
///         production rollup pays in an existing token; nothing in `RewardRollup` depends on
///         this contract.
contract DemoRewardToken is ERC20 {
    constructor(address holder, uint256 supply) ERC20("Merit Demo Reward", "MDR") {
        _mint(holder, supply);
    }
}
