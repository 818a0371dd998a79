//! Object ids like MongoDB's: 24 hex digits, increasing within a process.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Makes object ids: 4 bytes of seconds, 5 bytes fixed per process, 3 bytes of counter.
pub struct ObjectIds {
    process: u64,
    counter: AtomicU32,
}

impl ObjectIds {
    /// A generator seeded from the clock and the process id.
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let process = (nanos ^ (u64::from(std::process::id()) << 20)) & 0xff_ffff_ffff;
        Self {
            process,
            counter: AtomicU32::new((nanos as u32) & 0x00ff_ffff),
        }
    }

    /// The next id: 24 lowercase hex digits.
    pub fn next_id(&self) -> String {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        let count = self.counter.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        id_text(seconds, self.process, count)
    }
}

/// The id's 24 digits: `seconds` in 8, the low 40 bits of `process` in 10, the low 24 bits of
/// `count` in 6 (the bytes in hex, without the formatter's padding machinery).
fn id_text(seconds: u32, process: u64, count: u32) -> String {
    let mut bytes = [0; 12];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4..9].copy_from_slice(&process.to_be_bytes()[3..]);
    bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    elemental::hex(&bytes)
}

impl Default for ObjectIds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_text_is_the_three_numbers_zero_padded_in_hex() {
        let cases = [
            (0, 0, 0),
            (1, 1, 1),
            (0x6752_a1f0, 0x12_3456_789a, 0x00ab_cdef),
            (u32::MAX, 0xff_ffff_ffff, 0x00ff_ffff),
            (0x0000_00ff, 0x00_0000_0100, 0x0000_1000),
        ];
        for (seconds, process, count) in cases {
            assert_eq!(
                id_text(seconds, process, count),
                format!("{seconds:08x}{process:010x}{count:06x}")
            );
        }
    }

    #[test]
    fn ids_are_24_lowercase_hex_distinct_and_increasing() {
        let ids = ObjectIds::new();
        let (a, b) = (ids.next_id(), ids.next_id());
        assert_eq!(a.len(), 24);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        // Increasing, but when the 3-byte counter wraps.
        assert!(a < b || a[18..] == *"ffffff");
    }
}
