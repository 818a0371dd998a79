//! Encodings (JSON and msgpack) and their negotiation from `Content-Type` / `Accept`.

use std::fmt;

use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// A wire encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncodingType {
    /// `application/json`, the default.
    #[default]
    Json,
    /// `application/msgpack`.
    Msgpack,
}

impl EncodingType {
    /// The media type: `application/json` or `application/msgpack`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EncodingType::Json => "application/json",
            EncodingType::Msgpack => "application/msgpack",
        }
    }

    /// The `Content-Type` header value of a response in this encoding.
    pub fn content_type_header(&self) -> &'static str {
        match self {
            EncodingType::Json => "application/json; charset=UTF-8",
            EncodingType::Msgpack => "application/msgpack",
        }
    }

    /// The encoding named by a bare media type (`application/json`, `application/*`, `*/*`,
    /// `application/msgpack`), if it is one we speak.
    pub fn from_media_type(media_type: &str) -> Option<EncodingType> {
        match media_type {
            "application/msgpack" => Some(EncodingType::Msgpack),
            "application/json" | "application/*" | "*/*" => Some(EncodingType::Json),
            _ => None,
        }
    }
}

impl fmt::Display for EncodingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value every response carries in its `Accept` header.
pub const ACCEPTED_ENCODINGS: &str = "application/msgpack,application/json";

/// Encodes `value` in the given encoding (msgpack with named fields).
pub fn encode<T: Serialize + ?Sized>(encoding: EncodingType, value: &T) -> Result<Vec<u8>, Error> {
    let result = match encoding {
        EncodingType::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
        EncodingType::Msgpack => rmp_serde::to_vec_named(value).map_err(|e| e.to_string()),
    };
    result.map_err(|e| {
        Error::new(
            "Internal Server Error",
            format!("unable to encode {encoding}: {e}"),
            "elemental",
            500,
        )
    })
}

/// Decodes `data` in the given encoding. The error is a `400 Bad Request` whose description
/// starts with `unable to decode application/json: ` followed by the decoder's message.
pub fn decode<T: DeserializeOwned>(encoding: EncodingType, data: &[u8]) -> Result<T, Error> {
    let result = match encoding {
        EncodingType::Json => serde_json::from_slice(data).map_err(|e| e.to_string()),
        EncodingType::Msgpack => rmp_serde::from_slice(data).map_err(|e| e.to_string()),
    };
    result.map_err(|e| Error::bad_request(format!("unable to decode {encoding}: {e}")))
}

/// True when `data` is an object (a JSON object, a msgpack map), after leading whitespace.
pub fn is_object_body(encoding: EncodingType, data: &[u8]) -> bool {
    match encoding {
        EncodingType::Json => data
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{'),
        EncodingType::Msgpack => data
            .first()
            .is_some_and(|b| (0x80..=0x8f).contains(b) || *b == 0xde || *b == 0xdf),
    }
}

/// Re-encodes `data` from one encoding to another (through a generic value).
pub fn convert(from: EncodingType, to: EncodingType, data: &[u8]) -> Result<Vec<u8>, Error> {
    if from == to {
        return Ok(data.to_vec());
    }
    let value: serde_json::Value = decode(from, data)?;
    encode(to, &value)
}

/// Reads the request encoding (`Content-Type`) and the response encoding (`Accept`) from headers.
///
/// Missing headers mean JSON. The first acceptable `Accept` item wins. Errors are exactly the
/// reference's: 400 `Invalid Content-Type header: ...` / `Invalid Accept header: ...` for
/// unparsable values, 415 `Cannot find any acceptable Content-Type media type in provided
/// header: <raw>` (and the same for `Accept`) for media types we do not speak.
pub fn encodings_from_headers(headers: &HeaderMap) -> Result<(EncodingType, EncodingType), Error> {
    encodings_from_values(
        headers.get(http::header::CONTENT_TYPE),
        headers.get(http::header::ACCEPT),
    )
}

/// [`encodings_from_headers`] for the `Content-Type` and `Accept` values already found (the
/// request's parse reads all the headers it uses in one pass over the map).
pub(crate) fn encodings_from_values(
    content_type: Option<&HeaderValue>,
    accept: Option<&HeaderValue>,
) -> Result<(EncodingType, EncodingType), Error> {
    let read = match header_str(content_type, "Content-Type")? {
        None | Some("") => EncodingType::Json,
        Some(raw) => media_encoding(raw)
            .map_err(|e| Error::bad_request(format!("Invalid Content-Type header: {e}")))?
            .ok_or_else(|| unsupported("Content-Type", raw))?,
    };
    let write = match header_str(accept, "Accept")? {
        None | Some("") => EncodingType::Json,
        Some(raw) => negotiate_accept(raw)?,
    };
    Ok((read, write))
}

fn negotiate_accept(raw: &str) -> Result<EncodingType, Error> {
    for item in raw.split(',') {
        let encoding = media_encoding(item)
            .map_err(|e| Error::bad_request(format!("Invalid Accept header: {e}")))?;
        if let Some(encoding) = encoding {
            return Ok(encoding);
        }
    }
    Err(unsupported("Accept", raw))
}

/// The encoding a media type (with parameters, maybe) names, if one we speak. A value that is
/// exactly one of our bare media types (`application/json`, as most clients send) is that
/// media type as parsed, so it is not parsed.
fn media_encoding(raw: &str) -> Result<Option<EncodingType>, &'static str> {
    match EncodingType::from_media_type(raw) {
        Some(encoding) => Ok(Some(encoding)),
        None => parse_media_type(raw).map(|media| EncodingType::from_media_type(&media)),
    }
}

fn unsupported(header: &str, raw: &str) -> Error {
    Error::new(
        "Unsupported Media Type",
        format!("Cannot find any acceptable {header} media type in provided header: {raw}"),
        "elemental",
        415,
    )
}

fn header_str<'a>(value: Option<&'a HeaderValue>, display: &str) -> Result<Option<&'a str>, Error> {
    match value {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            Error::bad_request(format!("Invalid {display} header: not visible ASCII"))
        }),
    }
}

/// A character of an RFC 2045 token: visible ASCII but the tspecials.
fn is_token_char(c: char) -> bool {
    let special = matches!(
        c,
        '(' | ')' | '<' | '>' | '@' | ',' | ';' | ':' | '\\' | '"' | '/' | '[' | ']' | '?' | '='
    );
    c.is_ascii_graphic() && !special
}

fn take_token(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// Parses a media type the way Go's `mime.ParseMediaType` does, returning it lowercased
/// without its parameters. Error texts are Go's (`mime: no media type`, ...).
pub fn parse_media_type(raw: &str) -> Result<String, &'static str> {
    let (base, params) = match raw.find(';') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let base = base.trim();
    let (typ, rest) = take_token(base);
    if typ.is_empty() {
        return Err("mime: no media type");
    }
    let media = if rest.is_empty() {
        typ.to_ascii_lowercase()
    } else {
        let Some(rest) = rest.strip_prefix('/') else {
            return Err("mime: expected slash after first token");
        };
        let (sub, rest) = take_token(rest);
        if sub.is_empty() {
            return Err("mime: expected token after slash");
        }
        if !rest.is_empty() {
            return Err("mime: unexpected content after media subtype");
        }
        let mut media = String::with_capacity(typ.len() + 1 + sub.len());
        media.push_str(typ);
        media.push('/');
        media.push_str(sub);
        media.make_ascii_lowercase();
        media
    };
    if let Some(params) = params {
        check_media_params(params)?;
    }
    Ok(media)
}

fn check_media_params(params: &str) -> Result<(), &'static str> {
    let mut rest = params.trim_start();
    while !rest.is_empty() {
        let (key, after) = take_token(rest);
        let Some(after) = after.strip_prefix('=') else {
            if key.is_empty() && after.trim_start().starts_with(';') {
                rest = after.trim_start()[1..].trim_start();
                continue;
            }
            return Err("mime: invalid media parameter");
        };
        if key.is_empty() {
            return Err("mime: invalid media parameter");
        }
        let after = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').ok_or("mime: invalid media parameter")?;
            &quoted[end + 1..]
        } else {
            let (value, after) = take_token(after);
            if value.is_empty() {
                return Err("mime: invalid media parameter");
            }
            after
        };
        let after = after.trim_start();
        rest = match after.strip_prefix(';') {
            Some(r) => r.trim_start(),
            None if after.is_empty() => after,
            None => return Err("mime: invalid media parameter"),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn a_bare_media_type_is_read_as_its_parse_would_read_it() {
        let values = [
            "application/json",
            "application/msgpack",
            "application/*",
            "*/*",
            "Application/JSON",
            "application/json; charset=UTF-8",
            "application/json;",
            "application/jsonx",
            "text/plain",
            "application/",
        ];
        for raw in values {
            let parsed = parse_media_type(raw).map(|m| EncodingType::from_media_type(&m));
            assert_eq!(media_encoding(raw), parsed, "{raw}");
        }
        assert_eq!(
            media_encoding("application/json"),
            Ok(Some(EncodingType::Json))
        );
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn token_characters_are_visible_ascii_but_the_tspecials() {
        let tspecials = "()<>@,;:\\\"/[]?=";
        assert_eq!(tspecials.len(), 15);
        for c in (0..=255u8).map(char::from) {
            let expected = c.is_ascii_graphic() && !tspecials.contains(c);
            assert_eq!(is_token_char(c), expected, "{c:?}");
        }
        assert!(!is_token_char('é'));
        assert_eq!(
            parse_media_type(" Application/MsgPack ; charset=x"),
            Ok("application/msgpack".to_string())
        );
        assert_eq!(parse_media_type("text"), Ok("text".to_string()));
        assert_eq!(
            parse_media_type("text/"),
            Err("mime: expected token after slash")
        );
    }

    #[test]
    fn defaults_to_json() {
        assert_eq!(
            encodings_from_headers(&HeaderMap::new()).unwrap(),
            (EncodingType::Json, EncodingType::Json)
        );
    }

    #[test]
    fn selects_msgpack_and_wildcards() {
        let h = headers(&[
            ("content-type", "application/msgpack"),
            ("accept", "text/html, application/*;q=0.8"),
        ]);
        assert_eq!(
            encodings_from_headers(&h).unwrap(),
            (EncodingType::Msgpack, EncodingType::Json)
        );
        let h = headers(&[("accept", "text/plain,application/msgpack,application/json")]);
        assert_eq!(encodings_from_headers(&h).unwrap().1, EncodingType::Msgpack);
        let h = headers(&[("content-type", "Application/JSON; charset=UTF-8")]);
        assert_eq!(encodings_from_headers(&h).unwrap().0, EncodingType::Json);
    }

    #[test]
    fn unsupported_content_type_is_415_with_raw_header() {
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let e = encodings_from_headers(&h).unwrap_err();
        assert_eq!(e.code, 415);
        assert_eq!(e.title, "Unsupported Media Type");
        assert_eq!(
            e.description,
            "Cannot find any acceptable Content-Type media type in provided header: application/x-www-form-urlencoded"
        );
        let h = headers(&[("accept", "text/html, text/plain")]);
        let e = encodings_from_headers(&h).unwrap_err();
        assert_eq!(e.code, 415);
        assert_eq!(
            e.description,
            "Cannot find any acceptable Accept media type in provided header: text/html, text/plain"
        );
    }

    #[test]
    fn unparsable_headers_are_400() {
        let h = headers(&[("content-type", "application/json garbage")]);
        let e = encodings_from_headers(&h).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.description,
            "Invalid Content-Type header: mime: unexpected content after media subtype"
        );
        let h = headers(&[("accept", ",application/json")]);
        let e = encodings_from_headers(&h).unwrap_err();
        assert_eq!(e.description, "Invalid Accept header: mime: no media type");
        let h = headers(&[("content-type", "application/")]);
        assert_eq!(
            encodings_from_headers(&h).unwrap_err().description,
            "Invalid Content-Type header: mime: expected token after slash"
        );
        let h = headers(&[("content-type", "application/json; charset")]);
        assert_eq!(
            encodings_from_headers(&h).unwrap_err().description,
            "Invalid Content-Type header: mime: invalid media parameter"
        );
    }

    #[test]
    fn decode_error_names_the_encoding() {
        let e = decode::<serde_json::Value>(EncodingType::Json, b"{\"name\": bad").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.description
                .starts_with("unable to decode application/json: ")
        );
    }

    #[test]
    fn convert_between_encodings() {
        let json = br#"{"a":1,"b":["x"]}"#;
        let mp = convert(EncodingType::Json, EncodingType::Msgpack, json).unwrap();
        let back = convert(EncodingType::Msgpack, EncodingType::Json, &mp).unwrap();
        assert_eq!(back, json.to_vec());
    }
}
