//! Fuzz target `parse_definition`: see [`legion_fuzz::parse_definition`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| legion_fuzz::parse_definition(data));
