//! The error shape every bahamut client knows: `{"code","data","description","subject","title","trace"}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One error as sent on the wire.
///
/// Fields are declared in alphabetical order so that the JSON output has the same key order as
/// the reference server (`code`, `data`, `description`, `subject`, `title`, `trace`).
/// `data` and `trace` are omitted when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Error {
    /// The HTTP status code of the error.
    pub code: u16,
    /// Optional structured data, for example `{"attribute":"name"}` for a validation error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<serde_json::Value>>,
    /// What went wrong, in a sentence.
    #[serde(default)]
    pub description: String,
    /// Who raised the error: `elemental`, `bahamut`, or the application's name.
    #[serde(default)]
    pub subject: String,
    /// A short title such as `Bad Request` or `Validation Error`.
    #[serde(default)]
    pub title: String,
    /// The request id the error belongs to, if known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace: String,
}

impl Error {
    /// Creates an error in the argument order of the reference (`title, description, subject, code`).
    pub fn new(
        title: impl Into<String>,
        description: impl Into<String>,
        subject: impl Into<String>,
        code: u16,
    ) -> Self {
        Self {
            code,
            data: None,
            description: description.into(),
            subject: subject.into(),
            title: title.into(),
            trace: String::new(),
        }
    }

    /// A `400 Bad Request` error raised by elemental.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new("Bad Request", description, "elemental", 400)
    }

    /// A `422 Validation Error` about `attribute`, with `data` set to `{"attribute": attribute}`.
    pub fn validation(attribute: &str, description: impl Into<String>) -> Self {
        Self::new("Validation Error", description, "elemental", 422).with_attribute(attribute)
    }

    /// Sets `data` to `{"attribute": attribute}`.
    pub fn with_attribute(mut self, attribute: &str) -> Self {
        self.data = Some(Box::new(serde_json::json!({ "attribute": attribute })));
        self
    }

    /// Sets the `data` field.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(Box::new(data));
        self
    }

    /// Sets the `trace` field (the request id).
    pub fn with_trace(mut self, trace: impl Into<String>) -> Self {
        self.trace = trace.into();
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error {} ({}): {}: {}",
            self.code, self.subject, self.title, self.description
        )
    }
}

impl std::error::Error for Error {}

/// A list of errors, always sent as a JSON array.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Errors(pub Vec<Error>);

impl Errors {
    /// An empty list.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds one error.
    pub fn push(&mut self, error: Error) {
        self.0.push(error);
    }

    /// Adds all the errors of `other`.
    pub fn extend(&mut self, other: Errors) {
        self.0.extend(other.0);
    }

    /// Adds the error of `result`, if any.
    pub fn record(&mut self, result: Result<(), Error>) {
        if let Err(e) = result {
            self.0.push(e);
        }
    }

    /// Adds the errors of `result`, if any.
    pub fn record_all(&mut self, result: Result<(), Errors>) {
        if let Err(e) = result {
            self.0.extend(e.0);
        }
    }

    /// True when there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Error> {
        self.0.iter()
    }

    /// The HTTP status to answer with: the code of the first error, 500 when empty.
    pub fn code(&self) -> u16 {
        self.0.first().map_or(500, |e| e.code)
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), Errors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Sets the trace of every error that has none.
    pub fn with_trace(mut self, trace: &str) -> Self {
        for e in &mut self.0 {
            if e.trace.is_empty() {
                e.trace = trace.to_string();
            }
        }
        self
    }
}

impl From<Error> for Errors {
    fn from(error: Error) -> Self {
        Self(vec![error])
    }
}

impl FromIterator<Error> for Errors {
    fn from_iter<I: IntoIterator<Item = Error>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl IntoIterator for Errors {
    type Item = Error;
    type IntoIter = std::vec::IntoIter<Error>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_wire_shape_matches_reference() {
        let e = Error::validation("name", "Attribute 'name' is required").with_trace("unknown");
        let json = serde_json::to_string(&Errors::from(e)).unwrap();
        assert_eq!(
            json,
            r#"[{"code":422,"data":{"attribute":"name"},"description":"Attribute 'name' is required","subject":"elemental","title":"Validation Error","trace":"unknown"}]"#
        );
    }

    #[test]
    fn empty_data_and_trace_are_omitted() {
        let e = Error::new("Not Found", "Object with ID 'x' not found", "demo", 404);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":404,"description":"Object with ID 'x' not found","subject":"demo","title":"Not Found"}"#
        );
    }

    #[test]
    fn display_strings() {
        let e = Error::bad_request("Parameter `page` must be an integer");
        assert_eq!(
            e.to_string(),
            "error 400 (elemental): Bad Request: Parameter `page` must be an integer"
        );
        let errs: Errors = vec![e.clone(), e].into_iter().collect();
        assert_eq!(
            errs.to_string(),
            "error 400 (elemental): Bad Request: Parameter `page` must be an integer, error 400 (elemental): Bad Request: Parameter `page` must be an integer"
        );
        assert_eq!(errs.code(), 400);
        assert_eq!(Errors::new().code(), 500);
    }

    #[test]
    fn errors_round_trip_msgpack() {
        let errs = Errors::from(Error::validation("a", "x"));
        let bytes = rmp_serde::to_vec_named(&errs).unwrap();
        let back: Errors = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, errs);
    }
}
