//! merit-core integration tests: the state-transition function, signatures and golden vectors.

mod batch;
mod golden;
mod signature;
