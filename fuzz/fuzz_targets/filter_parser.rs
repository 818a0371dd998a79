//! Any text: the filter parser never panics, and what it accepts prints to a text that parses
//! back to the same filter.
#![no_main]

use elemental::filter::{Filter, Matcher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = Filter::parse(text) {
        let printed = filter.to_string();
        assert_eq!(Filter::parse(&printed).as_ref(), Ok(&filter), "{printed}");
        let _ = Matcher::new(&filter);
    }
});
