//! The text rules of names and addresses that consortium documents carry (genesis files,
//! applications, governance actions): one copy, so that a genesis file and a governance vote
//! admit exactly the same validators. Each check returns what is wrong, in words.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::limits;

/// A DNS host name in a multiaddr, in bytes (RFC 1035).
pub const DNS_NAME_BYTES_MAX: usize = 253;

/// A validator's name: 1..=64 characters of `[A-Za-z0-9._-]`.
pub fn check_validator_name(name: &str) -> Result<(), String> {
    let max = limits::VALIDATOR_NAME_BYTES_MAX;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if name.is_empty() || name.len() > max || !name.bytes().all(allowed) {
        return Err(format!("`{name}` must be 1..={max} characters of [A-Za-z0-9._-]"));
    }
    Ok(())
}

/// A member's display name: 1..=64 bytes, no control characters, no surrounding whitespace.
pub fn check_member_name(name: &str) -> Result<(), String> {
    let max = limits::MEMBER_NAME_BYTES_MAX;
    if name.is_empty() || name.len() > max {
        return Err(format!("{} bytes; a member name must be 1..={max} bytes", name.len()));
    }
    if name.chars().any(char::is_control) {
        return Err("contains control characters".to_owned());
    }
    if name.trim() != name {
        return Err("has leading or trailing whitespace".to_owned());
    }
    Ok(())
}

/// A host and port that something listens on, for spotting two validators (or one
/// validator's two services) on the same endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses the multiaddr forms a validator can be dialed at. Only the canonical spelling is
/// accepted (the text is part of the hashed document, and peers dial exactly this text).
pub fn parse_p2p_listen(text: &str) -> Result<Endpoint, String> {
    const FORMS: &str = "expected /ip4/A.B.C.D/tcp/PORT, /ip6/ADDR/tcp/PORT or /dns{,4,6}/HOST/tcp/PORT";
    let parts: Vec<&str> = text.split('/').collect();
    let ["", protocol, host, "tcp", port] = parts.as_slice() else {
        return Err(format!("`{text}`: {FORMS}"));
    };
    let host = match *protocol {
        "ip4" => canonical_ip(host, host.parse::<Ipv4Addr>().map(IpAddr::V4).ok())?,
        "ip6" => canonical_ip(host, host.parse::<Ipv6Addr>().map(IpAddr::V6).ok())?,
        "dns" | "dns4" | "dns6" => {
            check_dns_name(host)?;
            (*host).to_owned()
        }
        _ => return Err(format!("`{text}`: {FORMS}")),
    };
    Ok(Endpoint { host, port: parse_port(port)? })
}

fn canonical_ip(text: &str, address: Option<IpAddr>) -> Result<String, String> {
    let address = address.ok_or_else(|| format!("`{text}` is not an IP address"))?;
    if address.to_string() != text {
        return Err(format!("`{text}` is not in canonical form; write `{address}`"));
    }
    // Peers dial this address; "any address" cannot be dialed.
    if address.is_unspecified() {
        return Err(format!("`{text}` is the unspecified address, which peers cannot dial"));
    }
    Ok(text.to_owned())
}

fn check_dns_name(host: &str) -> Result<(), String> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.is_empty() || host.len() > DNS_NAME_BYTES_MAX || !host.split('.').all(label_ok) {
        return Err(format!("`{host}` is not a lower-case DNS name"));
    }
    Ok(())
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port != 0 && port.to_string() == text => Ok(port),
        _ => Err(format!("port `{text}` must be 1..=65535, without leading zeros")),
    }
}

/// An HTTP listen address: canonical `IP:PORT`, port not zero.
pub fn parse_http_listen(text: &str) -> Result<SocketAddr, String> {
    let address: SocketAddr =
        text.parse().map_err(|_| format!("`{text}` is not IP:PORT (e.g. 127.0.0.1:28000 or [::1]:28000)"))?;
    if address.to_string() != text {
        return Err(format!("`{text}` is not in canonical form; write `{address}`"));
    }
    if address.port() == 0 {
        return Err(format!("`{text}`: port must be 1..=65535"));
    }
    Ok(address)
}
