//! The Legion interpreter.
