//! Random identifiers for requests and traces, from a per-thread generator seeded once from the
//! operating system: a request needs several (its id, its span id, a trace id), and asking the
//! kernel for each one cost a system call per identifier. The generator is xoshiro256++ (256 bits
//! of state, so 128-bit trace ids do not collide sooner than true random ones would in
//! practice). The identifiers are unique, not secret: nothing here makes keys or tokens.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<[u64; 4]> = Cell::new(seed());
}

/// 32 bytes from the operating system (through `uuid`'s v4, which asks the kernel).
fn seed() -> [u64; 4] {
    let (a, b) = (
        uuid::Uuid::new_v4().as_u64_pair(),
        uuid::Uuid::new_v4().as_u64_pair(),
    );
    let state = [a.0, a.1, b.0, b.1];
    // xoshiro's state must not be all zeros.
    if state == [0; 4] { [1, 2, 3, 4] } else { state }
}

/// The next 64 bits of the thread's xoshiro256++ generator.
fn next_u64() -> u64 {
    STATE.with(|cell| {
        let mut s = cell.get();
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        cell.set(s);
        result
    })
}

/// 16 random bytes.
pub fn random_bytes() -> [u8; 16] {
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&next_u64().to_le_bytes());
    bytes
}

/// A random (version 4) UUID, as its 36-character text: encoded into a buffer of that size
/// (`to_string` goes through the formatter and grows its `String` as it writes).
pub fn random_uuid() -> String {
    let uuid = uuid::Builder::from_random_bytes(random_bytes()).into_uuid();
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    uuid.hyphenated().encode_lower(&mut text).to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let ids: BTreeSet<String> = (0..10_000).map(|_| random_uuid()).collect();
        assert_eq!(ids.len(), 10_000);
        let first = ids.first().unwrap();
        let parsed = uuid::Uuid::parse_str(first).unwrap();
        // The hyphenated lowercase form, as `Uuid`'s `Display` writes it.
        assert_eq!(*first, parsed.to_string());
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn threads_have_their_own_sequences() {
        let here = random_bytes();
        let there = std::thread::spawn(random_bytes).join().unwrap();
        assert_ne!(here, there);
        assert_ne!(here, [0; 16]);
    }
}
