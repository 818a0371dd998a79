//! The `filter_consumers` target: see `apiserver_fuzz::filter_consumers`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| apiserver_fuzz::filter_consumers(data));
