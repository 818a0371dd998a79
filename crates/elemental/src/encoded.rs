//! An object's JSON form, encoded once to be served many times.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

use crate::{EncodingType, Error, Model, decode, encode};

/// One object of model `T` as JSON, its secret attributes blanked: what a server answers for
/// that object when the client asks for JSON without `X-Fields`.
///
/// The only way to build one is [`Encoded::new`], so the bytes are always a whole object of
/// `T` that is safe to send: a processor that keeps them beside its objects serves lists without
/// encoding each object again, and the server decodes them back ([`Encoded::decode`]) for the
/// answers that need the object (msgpack, `X-Fields`, a custom marshaller).
pub struct Encoded<T> {
    json: Bytes,
    model: PhantomData<fn() -> T>,
}

impl<T: Model> Encoded<T> {
    /// Encodes `object` as JSON, its secrets blanked (the object itself is not changed).
    pub fn new(object: &T) -> Result<Self, Error> {
        let has_secrets = object.attribute_specifications().iter().any(|s| s.secret);
        let json = match has_secrets {
            true => {
                let mut blanked = object.clone();
                blanked.blank_secrets();
                encode(EncodingType::Json, &blanked)?
            }
            false => encode(EncodingType::Json, object)?,
        };
        Ok(Self {
            json: Bytes::from(json),
            model: PhantomData,
        })
    }

    /// Encodes `object` as JSON, its secrets blanked for the encoding only, through
    /// [`Model::encode_without_secrets`]: for a generated model, unlike [`Encoded::new`], no
    /// copy of an object with secrets is made. The object is as it was once this returns.
    pub fn from_mut(object: &mut T) -> Result<Self, Error> {
        Ok(Self {
            json: Bytes::from(object.encode_without_secrets(EncodingType::Json)?),
            model: PhantomData,
        })
    }

    /// The object decoded back from its JSON form (secrets blank).
    pub fn decode(&self) -> Result<T, Error> {
        decode(EncodingType::Json, &self.json)
            .map_err(|e| Error::new("Internal Server Error", e.description, "elemental", 500))
    }
}

impl<T> Encoded<T> {
    /// The JSON bytes (cheap to clone: they are shared).
    pub fn json(&self) -> &Bytes {
        &self.json
    }
}

impl<T> Clone for Encoded<T> {
    fn clone(&self) -> Self {
        Self {
            json: self.json.clone(),
            model: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Encoded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoded")
            .field("json", &String::from_utf8_lossy(&self.json))
            .finish()
    }
}

impl<T> PartialEq for Encoded<T> {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

/// JSON for a list of encoded objects: `[` the objects joined by `,` `]`, the bytes
/// `serde_json` writes for the list of the objects themselves.
pub fn json_array<T>(items: &[Encoded<T>]) -> Vec<u8> {
    let size = items.iter().map(|i| i.json.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(size);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item.json);
    }
    out.push(b']');
    out
}
