//! Fuzz target `evaluate_expression`: see [`legion_fuzz::evaluate_expression`].
#![no_main]

libfuzzer_sys::fuzz_target!(init: legion_fuzz::contain_jsonata_panics(), |data: &[u8]| legion_fuzz::evaluate_expression(data));
