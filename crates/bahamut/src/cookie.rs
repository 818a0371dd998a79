//! Cookies a processor adds to its answer (`Set-Cookie`).

use std::fmt;
use std::time::Duration;

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only to the site that set it.
    Strict,
    /// Also sent on top-level navigations from other sites.
    Lax,
    /// Sent everywhere (needs `Secure`).
    None,
}

/// One `Set-Cookie` header: a name, a value and the usual attributes.
///
/// ```
/// use std::time::Duration;
/// use bahamut::{Cookie, SameSite};
///
/// let cookie = Cookie::new("session", "abc")
///     .with_path("/")
///     .with_max_age(Duration::from_secs(3600))
///     .http_only()
///     .secure()
///     .with_same_site(SameSite::Strict);
/// assert_eq!(
///     cookie.to_string(),
///     "session=abc; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Strict"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<Duration>,
    http_only: bool,
    secure: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A session cookie `name=value` with no attribute.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            path: None,
            domain: None,
            max_age: None,
            http_only: false,
            secure: false,
            same_site: None,
        }
    }

    /// `Path`.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// `Domain`.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// `Max-Age`, in whole seconds (zero removes the cookie).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// `HttpOnly`: not readable by scripts.
    pub fn http_only(mut self) -> Self {
        self.http_only = true;
        self
    }

    /// `Secure`: sent over TLS only.
    pub fn secure(mut self) -> Self {
        self.secure = true;
        self
    }

    /// `SameSite`.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }
}

impl fmt::Display for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)?;
        if let Some(path) = &self.path {
            write!(f, "; Path={path}")?;
        }
        if let Some(domain) = &self.domain {
            write!(f, "; Domain={domain}")?;
        }
        if let Some(max_age) = self.max_age {
            write!(f, "; Max-Age={}", max_age.as_secs())?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        if let Some(same_site) = self.same_site {
            write!(f, "; SameSite={same_site:?}")?;
        }
        Ok(())
    }
}

/// Adds one `Set-Cookie` per cookie (a cookie that is not a valid header value is left out and
/// logged).
pub(crate) fn add_cookies(headers: &mut http::HeaderMap, cookies: &[Cookie]) {
    for cookie in cookies {
        match http::HeaderValue::from_str(&cookie.to_string()) {
            Ok(value) => {
                headers.append(http::header::SET_COOKIE, value);
            }
            Err(_) => tracing::warn!(%cookie, "cookie left out: not a valid header value"),
        }
    }
}
