//! The `filter_parser` target: see `apiserver_fuzz::filter_parser`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| apiserver_fuzz::filter_parser(data));
