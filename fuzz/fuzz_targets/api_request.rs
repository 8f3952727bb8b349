//! Fuzz target `api_request`: see [`legion_fuzz::api_request`].
#![no_main]

libfuzzer_sys::fuzz_target!(init: legion_fuzz::contain_jsonata_panics(), |data: &[u8]| legion_fuzz::api_request(data));
