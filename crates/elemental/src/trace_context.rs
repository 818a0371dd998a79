//! W3C Trace Context: the `traceparent` header that carries a distributed trace across
//! services (<https://www.w3.org/TR/trace-context/>).

use std::fmt;

/// The header that carries a [`TraceContext`].
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// A position in a distributed trace: the trace, the span that is the parent of the next
/// one, and whether the trace is sampled.
///
/// ```
/// use elemental::TraceContext;
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let parent = TraceContext::parse(header).unwrap();
/// assert_eq!(parent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(parent.to_string(), header);
///
/// // A server's span inside that trace: same trace, a new span id.
/// let child = TraceContext::child_of(Some(&parent));
/// assert_eq!(child.trace_id, parent.trace_id);
/// assert_ne!(child.span_id, parent.span_id);
/// assert!(TraceContext::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace id (never all zeros).
    pub trace_id: [u8; 16],
    /// The span id (never all zeros).
    pub span_id: [u8; 8],
    /// The `sampled` flag.
    pub sampled: bool,
}

impl TraceContext {
    /// Reads a `traceparent` value; `None` when it is not a valid one (the header is then
    /// ignored, as the specification asks). Versions above `00` are read by their first four
    /// fields.
    pub fn parse(value: &str) -> Option<Self> {
        let mut fields = value.split('-');
        let version = fields.next()?;
        let trace = fields.next()?;
        let span = fields.next()?;
        let flags = fields.next()?;
        let rest = fields.next();
        if version.len() != 2 || version == "ff" || (version == "00" && rest.is_some()) {
            return None;
        }
        hex_array::<1>(version)?;
        let trace_id = hex_array::<16>(trace)?;
        let span_id = hex_array::<8>(span)?;
        let [flags] = hex_array::<1>(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The context in the `traceparent` header of `headers`, if valid.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        // A constant name: the map is searched without parsing the name first.
        static NAME: http::HeaderName = http::HeaderName::from_static(TRACEPARENT_HEADER);
        Self::from_value(headers.get(&NAME)?)
    }

    /// The context in a `traceparent` header's value, if valid.
    pub fn from_value(value: &http::HeaderValue) -> Option<Self> {
        Self::parse(value.to_str().ok()?.trim())
    }

    /// A new span: in the trace of `parent` (keeping its sampled flag), or at the root of a
    /// new sampled trace.
    pub fn child_of(parent: Option<&Self>) -> Self {
        let random = crate::random::random_bytes();
        let mut span_id = [0; 8];
        span_id.copy_from_slice(&random[..8]);
        if span_id == [0; 8] {
            span_id[7] = 1;
        }
        match parent {
            Some(parent) => Self {
                trace_id: parent.trace_id,
                span_id,
                sampled: parent.sampled,
            },
            None => Self {
                trace_id: crate::random::random_bytes(),
                span_id,
                sampled: true,
            },
        }
    }

    /// The trace id in lowercase hex (32 characters).
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id in lowercase hex (16 characters).
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }
}

/// The `traceparent` value: `00-<trace id>-<span id>-<flags>`.
impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = u8::from(self.sampled);
        write!(
            f,
            "00-{}-{}-{flags:02x}",
            Hex(&self.trace_id),
            Hex(&self.span_id)
        )
    }
}

/// Lowercase hex of `bytes` (trace and span ids, certificate fingerprints).
///
/// ```
/// assert_eq!(elemental::hex(&[0x00, 0xf0, 0x67]), "00f067");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// The digits of lowercase hex.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` in lowercase hex when displayed, without building a `String` first: the
/// request span's trace and span ids are formatted this way on every request.
///
/// ```
/// assert_eq!(elemental::Hex(&[0x00, 0xf0, 0x67]).to_string(), "00f067");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 32 bytes at a time: a trace id is written in one piece.
        for chunk in self.0.chunks(32) {
            let mut text = [0u8; 64];
            for (pair, byte) in text.chunks_exact_mut(2).zip(chunk) {
                pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
                pair[1] = HEX_DIGITS[usize::from(byte & 0xf)];
            }
            let text = std::str::from_utf8(&text[..2 * chunk.len()]).map_err(|_| fmt::Error)?;
            f.write_str(text)?;
        }
        Ok(())
    }
}

/// `N` bytes from exactly `2 * N` lowercase hex digits.
fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (value(pair[0])? << 4) | value(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn hex_writes_every_byte_value_as_two_lowercase_digits_past_one_chunk_too() {
        let bytes: Vec<u8> = (0..=255).collect();
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(Hex(&bytes).to_string(), expected);
        assert_eq!(hex(&bytes[..33]), expected[..66]);
        assert_eq!(Hex(&[]).to_string(), "");
    }

    #[test]
    fn reads_and_prints_a_valid_header() {
        let context = TraceContext::parse(VALID).unwrap();
        assert_eq!(context.span_id_hex(), "00f067aa0ba902b7");
        assert!(context.sampled);
        assert_eq!(context.to_string(), VALID);
        let unsampled = TraceContext::parse(&VALID.replace("-01", "-00")).unwrap();
        assert!(!unsampled.sampled);
    }

    #[test]
    fn refuses_invalid_headers() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_first_fields() {
        let later = format!("{}-extra", VALID.replacen("00", "01", 1));
        let context = TraceContext::parse(&later).unwrap();
        assert_eq!(context.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn a_root_span_starts_a_sampled_trace() {
        let root = TraceContext::child_of(None);
        assert_ne!(root.trace_id, [0; 16]);
        assert!(root.sampled);
        assert_eq!(TraceContext::parse(&root.to_string()), Some(root));
    }
}
