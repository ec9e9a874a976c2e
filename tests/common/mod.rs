//! Helpers shared by integration tests.
#![allow(dead_code)]

pub mod model;
pub mod npy;
pub mod store;
