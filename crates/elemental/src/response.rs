//! Responses: what a processor sets for the server to send back.

use serde::Serialize;

use crate::{EncodingType, Error, Request};

/// The outcome of a request, before the server writes it.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The id of the request this answers.
    pub request_id: String,
    /// The HTTP status (0 lets the server choose: 200, or 204 without data).
    pub status_code: u16,
    /// The encoded body.
    pub data: Vec<u8>,
    /// The encoding of `data`.
    pub encoding: EncodingType,
    /// The total count, sent as `X-Count-Total`.
    pub total: u64,
    /// The next cursor, sent as `X-Next`.
    pub next: Option<String>,
    /// Messages, sent joined with `;` as `X-Messages`.
    pub messages: Vec<String>,
    /// A redirect location (answered with 302 and `Location`).
    pub redirect: Option<String>,
}

impl Response {
    /// An empty response to `request`, in the encoding the client accepts.
    pub fn new(request: &Request) -> Self {
        Self {
            request_id: request.request_id.clone(),
            encoding: request.accept,
            ..Self::default()
        }
    }

    /// Encodes `value` as the body.
    pub fn encode<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.data = crate::encode(self.encoding, value)?;
        Ok(())
    }
}
