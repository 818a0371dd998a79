//! Incoming frames of a msgpack push session: the Go push client writes its msgpack push
//! configs in TEXT frames, which a websocket reader refuses as invalid UTF-8. For msgpack
//! sessions, the socket is read through [`TextAsBinary`], which marks each incoming TEXT frame as
//! BINARY before the websocket layer sees it (the frame's payload is untouched).

use crate::observed_io::{ObservedIo, ReadObserver};

const OPCODE_TEXT: u8 = 0x1;
const OPCODE_BINARY: u8 = 0x2;

/// Where the reader is in the frame being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The first byte: FIN, RSV and opcode.
    Start,
    /// The second byte: mask bit and 7-bit length.
    Length,
    /// The extended length: `left` more bytes.
    ExtendedLength { left: u8, length: u64, masked: bool },
    /// The masking key: `left` more bytes, then `length` bytes of payload.
    Mask { left: u8, length: u64 },
    /// The payload: `left` more bytes.
    Payload { left: u64 },
}

/// Follows the frames of a byte stream (client to server) and rewrites TEXT opcodes to BINARY.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpcodeRewriter {
    position: Position,
}

impl OpcodeRewriter {
    pub(crate) fn new() -> Self {
        Self {
            position: Position::Start,
        }
    }

    fn after_length(length: u64, masked: bool) -> Position {
        match (masked, length) {
            (true, _) => Position::Mask { left: 4, length },
            (false, 0) => Position::Start,
            (false, left) => Position::Payload { left },
        }
    }

    /// Rewrites the bytes just read, in place.
    pub(crate) fn rewrite(&mut self, bytes: &mut [u8]) {
        let mut i = 0;
        while i < bytes.len() {
            self.position = match self.position {
                Position::Start => {
                    if bytes[i] & 0x0f == OPCODE_TEXT {
                        bytes[i] = (bytes[i] & 0xf0) | OPCODE_BINARY;
                    }
                    i += 1;
                    Position::Length
                }
                Position::Length => {
                    let (masked, length) = (bytes[i] & 0x80 != 0, bytes[i] & 0x7f);
                    i += 1;
                    match length {
                        126 => Position::ExtendedLength {
                            left: 2,
                            length: 0,
                            masked,
                        },
                        127 => Position::ExtendedLength {
                            left: 8,
                            length: 0,
                            masked,
                        },
                        n => Self::after_length(u64::from(n), masked),
                    }
                }
                Position::ExtendedLength {
                    left,
                    length,
                    masked,
                } => {
                    let length = (length << 8) | u64::from(bytes[i]);
                    i += 1;
                    match left {
                        1 => Self::after_length(length, masked),
                        _ => Position::ExtendedLength {
                            left: left - 1,
                            length,
                            masked,
                        },
                    }
                }
                Position::Mask { left, length } => {
                    i += 1;
                    match (left, length) {
                        (1, 0) => Position::Start,
                        (1, length) => Position::Payload { left: length },
                        (left, length) => Position::Mask {
                            left: left - 1,
                            length,
                        },
                    }
                }
                Position::Payload { left } => {
                    let available = (bytes.len() - i) as u64;
                    let skipped = left.min(available);
                    i += skipped as usize;
                    match left - skipped {
                        0 => Position::Start,
                        left => Position::Payload { left },
                    }
                }
            };
        }
    }
}

impl ReadObserver for OpcodeRewriter {
    fn observe(&mut self, bytes: &mut [u8]) {
        self.rewrite(bytes);
    }
}

/// A push session's socket: for msgpack sessions (`Some` rewriter), incoming TEXT frames read as
/// BINARY (see the module documentation).
pub(crate) type TextAsBinary<S> = ObservedIo<S, Option<OpcodeRewriter>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
        );
        out
    }

    #[test]
    fn text_frames_become_binary_whatever_the_read_sizes() {
        let mut stream = frame(OPCODE_TEXT, &[0xc0; 5]);
        stream.extend(frame(0x9, b"ping"));
        stream.extend(frame(OPCODE_TEXT, &vec![0x83; 300]));
        stream.extend(frame(OPCODE_BINARY, &[]));
        stream.extend(frame(OPCODE_TEXT, &vec![0x90; 70_000]));
        let mut expected = frame(OPCODE_BINARY, &[0xc0; 5]);
        expected.extend(frame(0x9, b"ping"));
        expected.extend(frame(OPCODE_BINARY, &vec![0x83; 300]));
        expected.extend(frame(OPCODE_BINARY, &[]));
        expected.extend(frame(OPCODE_BINARY, &vec![0x90; 70_000]));
        for chunk in [1, 2, 3, 7, 1000, stream.len()] {
            let mut rewriter = OpcodeRewriter::new();
            let mut seen = stream.clone();
            for piece in seen.chunks_mut(chunk) {
                rewriter.rewrite(piece);
            }
            assert_eq!(seen, expected, "read {chunk} bytes at a time");
        }
    }
}
