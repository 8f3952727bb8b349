//! The Amazon States Language: parse and validate definitions into typed models, and evaluate
//! paths, payload templates, intrinsic functions, Choice rules and JSONata expressions.
//!
//! This crate is pure: no I/O, no clock, no async runtime.

pub mod choice;
pub mod diagnostic;
pub mod error;
pub mod integrations;
pub mod intrinsics;
pub mod jsonata;
pub mod model;
pub mod parse;
pub mod path;
pub mod template;
pub mod timestamp;
