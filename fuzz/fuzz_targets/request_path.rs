//! The `request_path` target: see `apiserver_fuzz::request_path`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| apiserver_fuzz::request_path(data));
