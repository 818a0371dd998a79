//! The validations of the gaia specs that regolithe cannot express, called by the generated
//! `validate()` (they are named in `specs/_validation.mapping`).
//!
//! Every error is a `422 Validation Error` with subject `gaia` and `data.attribute` set.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::LazyLock;

use elemental::export::regex::Regex;
use elemental::{Error, Errors};

use crate::model::{HostService, Service};

/// Tags longer than this are refused.
pub const MAX_TAG_BYTES: usize = 1024;

fn invalid(attribute: &str, description: String) -> Error {
    Error::new("Validation Error", description, "gaia", 422).with_attribute(attribute)
}

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^= ]+=.+").expect("constant pattern"));
static DNS_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\*\.)?([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.)*[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.?$")
        .expect("constant pattern")
});
static HOST_SERVICE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_]{0,127}$").expect("constant pattern"));

fn check_tag(attribute: &str, tag: &str) -> Result<(), Error> {
    if tag.len() > MAX_TAG_BYTES {
        return Err(invalid(
            attribute,
            format!("Tag '{tag}' of attribute '{attribute}' is longer than {MAX_TAG_BYTES} bytes"),
        ));
    }
    if !TAG.is_match(tag) {
        return Err(invalid(
            attribute,
            format!("Tag '{tag}' of attribute '{attribute}' must be written key=value"),
        ));
    }
    Ok(())
}

/// Every tag is `key=value`, at most 1024 bytes, and does not start with the reserved
/// prefixes `@`, `$` or `+`.
pub fn validate_tags_without_reserved_prefixes(
    attribute: &str,
    tags: &[String],
) -> Result<(), Error> {
    for tag in tags {
        if tag.starts_with(['@', '$', '+']) {
            return Err(invalid(
                attribute,
                format!(
                    "Tag '{tag}' of attribute '{attribute}' must not start with a reserved prefix ('@', '$' or '+')"
                ),
            ));
        }
        check_tag(attribute, tag)?;
    }
    Ok(())
}

/// Every tag of the expression (an OR of AND-lists) is `key=value` and at most 1024 bytes;
/// no AND-list is empty.
pub fn validate_tags_expression(attribute: &str, expression: &[Vec<String>]) -> Result<(), Error> {
    for and_list in expression {
        if and_list.is_empty() {
            return Err(invalid(
                attribute,
                format!("Attribute '{attribute}' must not contain an empty list of tags"),
            ));
        }
        for tag in and_list {
            check_tag(attribute, tag)?;
        }
    }
    Ok(())
}

/// Every entry starts with `@` and not with the reserved `@auth:` prefix.
pub fn validate_metadata(attribute: &str, metadata: &[String]) -> Result<(), Error> {
    for m in metadata {
        if !m.starts_with('@') {
            return Err(invalid(
                attribute,
                format!("Metadata '{m}' of attribute '{attribute}' must start with '@'"),
            ));
        }
        if m.starts_with("@auth:") {
            return Err(invalid(
                attribute,
                format!(
                    "Metadata '{m}' of attribute '{attribute}' must not start with the reserved prefix '@auth:'"
                ),
            ));
        }
        check_tag(attribute, m)?;
    }
    Ok(())
}

/// A network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    address: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128`, or a bare address (a host network).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { address, prefix })
    }

    fn bits(&self) -> (u128, u32) {
        match self.address {
            IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// True when the two networks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let ((a, family_a), (b, family_b)) = (self.bits(), other.bits());
        if family_a != family_b {
            return false;
        }
        let prefix = u32::from(self.prefix.min(other.prefix));
        let mask = if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        };
        a & mask == b & mask
    }
}

/// True for a valid DNS name (a leading `*.` is allowed), at most 253 characters.
pub fn is_dns_name(text: &str) -> bool {
    text.len() <= 253 && DNS_NAME.is_match(text) && text.parse::<IpAddr>().is_err()
}

/// Not empty; every entry is an IP, a CIDR or a DNS name.
pub fn validate_networks_or_hostnames(attribute: &str, entries: &[String]) -> Result<(), Error> {
    if entries.is_empty() {
        return Err(invalid(
            attribute,
            format!("Attribute '{attribute}' must not be empty"),
        ));
    }
    for e in entries {
        if Cidr::parse(e).is_none() && !is_dns_name(e) {
            return Err(invalid(
                attribute,
                format!(
                    "Entry '{e}' of attribute '{attribute}' is neither an IP, a CIDR nor a domain name"
                ),
            ));
        }
    }
    Ok(())
}

/// Every entry, if any, is an IP or a CIDR.
pub fn validate_optional_ip_address_list(attribute: &str, entries: &[String]) -> Result<(), Error> {
    match entries.iter().find(|e| Cidr::parse(e).is_none()) {
        Some(e) => Err(invalid(
            attribute,
            format!("Entry '{e}' of attribute '{attribute}' is not an IP address or a CIDR"),
        )),
        None => Ok(()),
    }
}

/// Every entry, if any, is a CIDR (`10.0.0.0/8`).
pub fn validate_optional_cidrs(attribute: &str, entries: &[String]) -> Result<(), Error> {
    match entries
        .iter()
        .find(|e| !e.contains('/') || Cidr::parse(e).is_none())
    {
        Some(e) => Err(invalid(
            attribute,
            format!("Entry '{e}' of attribute '{attribute}' is not a CIDR"),
        )),
        None => Ok(()),
    }
}

/// Layer 4 protocol names accepted in service ports, with their numbers.
const PROTOCOLS: [(&str, u8); 8] = [
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("udp", 17),
    ("gre", 47),
    ("esp", 50),
    ("icmp6", 58),
    ("sctp", 132),
];

/// One parsed service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServicePort {
    /// `any`: every protocol and port.
    Any,
    /// A protocol number with a port range (tcp and udp) or none.
    Protocol {
        /// The protocol number (6 for tcp).
        number: u8,
        /// The inclusive port range, for tcp and udp.
        ports: Option<(u16, u16)>,
    },
}

fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (low, high) = text.split_once(':').unwrap_or((text, text));
    let parse = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or(format!("'{p}' is not a port between 1 and 65535"))
    };
    let (low, high) = (parse(low)?, parse(high)?);
    if low > high {
        return Err(format!("the range {low}:{high} is reversed"));
    }
    Ok((low, high))
}

fn parse_icmp_details(details: &str) -> Result<(), String> {
    let mut parts = details.split('/');
    let kind = parts.next().unwrap_or_default();
    kind.parse::<u8>()
        .map_err(|_| format!("'{kind}' is not an ICMP type between 0 and 255"))?;
    if let Some(codes) = parts.next() {
        for code in codes.split(',') {
            code.parse::<u8>()
                .map_err(|_| format!("'{code}' is not an ICMP code between 0 and 255"))?;
        }
    }
    match parts.next() {
        Some(extra) => Err(format!("unexpected '{extra}' after the ICMP code")),
        None => Ok(()),
    }
}

/// Parses `any`, `tcp/80`, `udp/80:100`, `icmp`, `icmp/8/0`, `gre` or a protocol number.
pub fn parse_service_port(text: &str) -> Result<ServicePort, String> {
    if text.eq_ignore_ascii_case("any") {
        return Ok(ServicePort::Any);
    }
    let (protocol, details) = match text.split_once('/') {
        Some((p, d)) => (p, Some(d)),
        None => (text, None),
    };
    let lower = protocol.to_ascii_lowercase();
    let number = PROTOCOLS
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, n)| *n)
        .or_else(|| protocol.parse::<u8>().ok())
        .ok_or(format!("'{protocol}' is not a known layer 4 protocol"))?;
    match (number, details) {
        (6 | 17, None) => Err(format!(
            "{lower} needs ports, for example {lower}/80 or {lower}/80:100"
        )),
        (6 | 17, Some(d)) => Ok(ServicePort::Protocol {
            number,
            ports: Some(parse_port_range(d)?),
        }),
        (1 | 58, Some(d)) => parse_icmp_details(d).map(|()| ServicePort::Protocol {
            number,
            ports: None,
        }),
        (_, Some(_)) => Err(format!("{lower} takes no ports")),
        (_, None) => Ok(ServicePort::Protocol {
            number,
            ports: None,
        }),
    }
}

/// No duplicates; `any` stands alone; every entry is a valid service port.
pub fn validate_service_ports(attribute: &str, ports: &[String]) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for p in ports {
        if !seen.insert(p.to_ascii_lowercase()) {
            return Err(invalid(
                attribute,
                format!("Service port '{p}' of attribute '{attribute}' is listed twice"),
            ));
        }
        match parse_service_port(p) {
            Ok(ServicePort::Any) if ports.len() > 1 => {
                return Err(invalid(
                    attribute,
                    format!("Service port 'any' of attribute '{attribute}' must be the only entry"),
                ));
            }
            Ok(_) => {}
            Err(reason) => {
                return Err(invalid(
                    attribute,
                    format!("Invalid service port '{p}' of attribute '{attribute}': {reason}"),
                ));
            }
        }
    }
    Ok(())
}

/// Host services: the name is usable as an enforcer context id, host mode or services are set,
/// services are tcp or udp (tcp when no protocol is written), and their ranges do not overlap.
pub fn validate_host_service(host_service: &HostService) -> Result<(), Errors> {
    let mut errors = Errors::new();
    if !HOST_SERVICE_NAME.is_match(&host_service.name) {
        errors.push(invalid("name", format!(
            "Name '{}' of a host service must only contain letters, digits and '_', and be at most 127 characters long",
            host_service.name
        )));
    }
    if !host_service.host_mode_enabled && host_service.services.is_empty() {
        errors.push(invalid(
            "services",
            "A host service must either enable host mode or list services".to_string(),
        ));
    }
    let mut ranges: Vec<(u8, u16, u16, &str)> = Vec::new();
    for s in &host_service.services {
        // A bare port (or range) means tcp.
        let text = if s.starts_with(|c: char| c.is_ascii_digit()) {
            format!("tcp/{s}")
        } else {
            s.clone()
        };
        match parse_service_port(&text) {
            Ok(ServicePort::Protocol {
                number: number @ (6 | 17),
                ports: Some((low, high)),
            }) => {
                if let Some((_, _, _, other)) = ranges
                    .iter()
                    .find(|(n, l, h, _)| *n == number && low <= *h && *l <= high)
                {
                    errors.push(invalid(
                        "services",
                        format!("Services '{other}' and '{s}' overlap"),
                    ));
                }
                ranges.push((number, low, high, s));
            }
            Ok(_) => errors.push(invalid(
                "services",
                format!("Service '{s}' must use the tcp or udp protocol"),
            )),
            Err(reason) => errors.push(invalid(
                "services",
                format!("Invalid service '{s}': {reason}"),
            )),
        }
    }
    errors.into_result()
}

/// Services: the authorization and TLS settings they need, hosts or IPs, valid and unique
/// hosts, non-overlapping IPs, and the port rules of internal and external services.
pub fn validate_service(service: &Service) -> Result<(), Errors> {
    let mut errors = Errors::new();
    let mut require = |attribute: &str, present: bool, why: &str| {
        if !present {
            errors.push(invalid(
                attribute,
                format!("Attribute '{attribute}' is required {why}"),
            ));
        }
    };
    if service.authorization_type == "OIDC" {
        let why = "when authorizationType is OIDC";
        require(
            "OIDCProviderURL",
            !service.oidc_provider_url.is_empty(),
            why,
        );
        require("OIDCClientID", !service.oidc_client_id.is_empty(), why);
        require(
            "OIDCClientSecret",
            !service.oidc_client_secret.is_empty(),
            why,
        );
    }
    if service.authorization_type == "JWT" {
        require(
            "JWTSigningCertificate",
            !service.jwt_signing_certificate.is_empty(),
            "when authorizationType is JWT",
        );
    }
    if service.tls_type == "External" {
        require(
            "TLSCertificate",
            !service.tls_certificate.is_empty(),
            "when TLSType is External",
        );
    }
    if service.proxy_protocol_enabled {
        require(
            "proxyProtocolSubnets",
            !service.proxy_protocol_subnets.is_empty(),
            "when proxyProtocolEnabled is true",
        );
    }
    if !service.external {
        require(
            "port",
            service.port != 0,
            "when the service is not external",
        );
    }
    if service.authorization_type == "OIDC"
        && !service.oidc_provider_url.is_empty()
        && !service.oidc_provider_url.starts_with("https://")
    {
        errors.push(invalid(
            "OIDCProviderURL",
            format!(
                "OIDCProviderURL '{}' must be an https URL",
                service.oidc_provider_url
            ),
        ));
    }
    if service.hosts.is_empty() && service.ips.is_empty() {
        errors.push(invalid(
            "hosts",
            "A service must have at least one host or one IP".to_string(),
        ));
    }
    let mut hosts = BTreeSet::new();
    for host in &service.hosts {
        if !is_dns_name(host) {
            errors.push(invalid(
                "hosts",
                format!("Host '{host}' of a service must be a valid domain name"),
            ));
        } else if !hosts.insert(host.to_ascii_lowercase()) {
            errors.push(invalid(
                "hosts",
                format!("Host '{host}' of a service is listed twice"),
            ));
        }
    }
    let networks: Vec<(&String, Cidr)> = service
        .ips
        .iter()
        .filter_map(|ip| Cidr::parse(ip).map(|c| (ip, c)))
        .collect();
    for (i, (a, ca)) in networks.iter().enumerate() {
        if let Some((b, _)) = networks[i + 1..].iter().find(|(_, cb)| ca.overlaps(cb)) {
            errors.push(invalid(
                "IPs",
                format!("IPs '{a}' and '{b}' of a service overlap"),
            ));
        }
    }
    if service.external {
        if service.port != 0 {
            errors.push(invalid(
                "port",
                "An external service cannot have a port".to_string(),
            ));
        }
        if service.public_application_port != 0 {
            errors.push(invalid(
                "publicApplicationPort",
                "An external service cannot have a publicApplicationPort".to_string(),
            ));
        }
    } else if service.public_application_port != 0
        && service.public_application_port == service.exposed_port
    {
        errors.push(invalid(
            "publicApplicationPort",
            "publicApplicationPort must differ from exposedPort".to_string(),
        ));
    }
    errors.into_result()
}
