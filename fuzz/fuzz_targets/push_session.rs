//! The `push_session` target: see `apiserver_fuzz::push_session`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| apiserver_fuzz::push_session(data));
