//! Fuzz target `run_execution`: see [`legion_fuzz::run_execution`].
#![no_main]

libfuzzer_sys::fuzz_target!(init: legion_fuzz::contain_jsonata_panics(), |data: &[u8]| legion_fuzz::run_execution(data));
