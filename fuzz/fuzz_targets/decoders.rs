//! The `decoders` target: see `apiserver_fuzz::decoders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| apiserver_fuzz::decoders(data));
