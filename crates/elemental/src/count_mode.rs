//! How the total of a retrieve-many (`X-Count-Total`) is counted, as a client asks with the
//! `X-Count-Mode` header.

use crate::Error;

/// The request header that asks for a count mode, and the answer header that says which mode
/// the total was counted in.
pub const COUNT_MODE_HEADER: &str = "X-Count-Mode";

/// How the total of a retrieve-many is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CountMode {
    /// Every matching object counted (the default, and what Go bahamut does).
    #[default]
    Exact,
    /// An estimate where an exact count would read too many rows; a backend counts small sets
    /// exactly and says so by answering [`CountMode::Exact`].
    Estimated,
}

impl CountMode {
    /// Reads the value of `X-Count-Mode`: `exact` or `estimated`, in any case.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("exact") => Ok(Self::Exact),
            t if t.eq_ignore_ascii_case("estimated") => Ok(Self::Estimated),
            _ => Err(Error::bad_request(format!(
                "Header `{COUNT_MODE_HEADER}` must be `exact` or `estimated`, not `{}`",
                text.trim()
            ))),
        }
    }

    /// The header value: `exact` or `estimated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Estimated => "estimated",
        }
    }
}

impl std::fmt::Display for CountMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_in_any_case_and_print_in_lower_case() {
        assert_eq!(CountMode::parse("exact").unwrap(), CountMode::Exact);
        assert_eq!(
            CountMode::parse(" Estimated ").unwrap(),
            CountMode::Estimated
        );
        assert_eq!(CountMode::Estimated.to_string(), "estimated");
        assert_eq!(CountMode::Exact.as_str(), "exact");
    }

    #[test]
    fn other_values_are_a_400_that_names_the_header() {
        let error = CountMode::parse("planned").unwrap_err();
        assert_eq!(error.code, 400);
        assert_eq!(
            error.description,
            "Header `X-Count-Mode` must be `exact` or `estimated`, not `planned`"
        );
    }
}
