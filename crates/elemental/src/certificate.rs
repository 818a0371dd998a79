//! The certificate a client presented on a mutual-TLS connection, as read by the server.

use std::net::IpAddr;

/// One subject alternative name of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectAltName {
    /// A DNS name.
    Dns(String),
    /// An e-mail address (RFC 822 name).
    Email(String),
    /// A URI (a SPIFFE id, for example).
    Uri(String),
    /// An IP address.
    Ip(IpAddr),
}

impl std::fmt::Display for SubjectAltName {
    /// `dns:`, `email:`, `uri:` or `ip:`, then the value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dns(name) => write!(f, "dns:{name}"),
            Self::Email(address) => write!(f, "email:{address}"),
            Self::Uri(uri) => write!(f, "uri:{uri}"),
            Self::Ip(ip) => write!(f, "ip:{ip}"),
        }
    }
}

/// The verified certificate of a client: who the server's client CA says it is.
///
/// ```
/// use elemental::{ClientCertificate, SubjectAltName};
/// let certificate = ClientCertificate {
///     subject: "CN=alice,O=acme".into(),
///     common_name: Some("alice".into()),
///     organizations: vec!["acme".into()],
///     organizational_units: vec![],
///     serial_number: "01".into(),
///     subject_alt_names: vec![SubjectAltName::Dns("alice.acme.test".into())],
///     fingerprint: "ab".repeat(32),
/// };
/// assert_eq!(certificate.subject_alt_names[0].to_string(), "dns:alice.acme.test");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's distinguished name, RFC 4514 style (`CN=alice,O=acme`).
    pub subject: String,
    /// The subject's common name, if it has one.
    pub common_name: Option<String>,
    /// The subject's organizations (`O`).
    pub organizations: Vec<String>,
    /// The subject's organizational units (`OU`).
    pub organizational_units: Vec<String>,
    /// The serial number, in lowercase hexadecimal.
    pub serial_number: String,
    /// The subject alternative names.
    pub subject_alt_names: Vec<SubjectAltName>,
    /// The SHA-256 of the certificate's DER bytes, in lowercase hexadecimal.
    pub fingerprint: String,
}
