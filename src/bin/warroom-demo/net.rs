//! IP addresses and CIDR networks: parsing, containment and the kind of
//! address range.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network: an address with the host bits zero and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Creates the network of exactly one address.
    pub fn host(address: IpAddr) -> Self {
        let prefix = if address.is_ipv4() { 32 } else { 128 };
        Self {
            network: address,
            prefix,
        }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn is_ipv4(&self) -> bool {
        self.network.is_ipv4()
    }

    pub fn is_single_address(&self) -> bool {
        self.prefix == max_prefix(self.network)
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = mask_v4(self.prefix);
                u32::from(address) & mask == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = mask_v6(self.prefix);
                u128::from(address) & mask == u128::from(network)
            }
            _ => false,
        }
    }

    /// Checks whether every address of `other` is in this network.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.prefix <= other.prefix && self.contains(other.network)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Parses `ADDRESS/PREFIX`, rejecting host bits set beyond the prefix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let Some((address, prefix)) = text.split_once('/') else {
            return Err(format!(
                "invalid CIDR `{text}`: expected ADDRESS/PREFIX, such as 203.0.113.0/24"
            ));
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("invalid CIDR `{text}`: `{address}` is not an IP address"))?;
        let max = max_prefix(address);
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|prefix| *prefix <= max)
            .ok_or_else(|| format!("invalid CIDR `{text}`: the prefix must be 0 to {max}"))?;
        let network = match address {
            IpAddr::V4(v4) => IpAddr::from((u32::from(v4) & mask_v4(prefix)).to_be_bytes()),
            IpAddr::V6(v6) => IpAddr::from((u128::from(v6) & mask_v6(prefix)).to_be_bytes()),
        };
        if network != address {
            return Err(format!(
                "invalid CIDR `{text}`: host bits are set; did you mean {network}/{prefix}?"
            ));
        }
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    /// Writes the network; a single address is written without its prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single_address() {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

/// Parses an address, as the network of that one address, or a network in
/// CIDR notation.
pub fn parse_target(text: &str) -> Result<Cidr, String> {
    if text.contains('/') {
        text.parse()
    } else {
        parse_ip(text).map(Cidr::host)
    }
}

/// Parses an IPv4 or IPv6 address.
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    let text = text.trim();
    text.parse().map_err(|_| {
        format!("invalid IP address `{text}`: expected IPv4 such as 203.0.113.7, or IPv6")
    })
}

/// Names the special range an address is in, or returns `None` for a
/// public address.
pub fn range_kind(address: IpAddr) -> Option<&'static str> {
    let special: [(&str, &str); 9] = [
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("192.0.2.0/24", "documentation (RFC 5737)"),
        ("198.51.100.0/24", "documentation (RFC 5737)"),
        ("203.0.113.0/24", "documentation (RFC 5737)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
    ];
    if address.is_loopback() {
        return Some("loopback");
    }
    special
        .iter()
        .filter_map(|(cidr, kind)| cidr.parse::<Cidr>().ok().map(|cidr| (cidr, *kind)))
        .find(|(cidr, _)| cidr.contains(address))
        .map(|(_, kind)| kind)
}

fn max_prefix(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn cidr_contains_its_addresses() {
        let cidr: Cidr = "203.0.113.0/24".parse().unwrap();
        assert!(cidr.contains(ip("203.0.113.7")));
        assert!(!cidr.contains(ip("203.0.114.7")));
        assert!(!cidr.contains(ip("2001:db8::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:bad::7")));
    }

    #[test]
    fn cidr_with_host_bits_is_rejected() {
        let error = "203.0.113.7/24".parse::<Cidr>().unwrap_err();
        assert!(error.contains("did you mean 203.0.113.0/24"), "{error}");
        assert!("203.0.113.0/33".parse::<Cidr>().is_err());
        assert!("203.0.113.0".parse::<Cidr>().is_err());
        assert!("web-01/24".parse::<Cidr>().is_err());
    }

    #[test]
    fn covers_compares_networks() {
        let wide: Cidr = "203.0.113.0/24".parse().unwrap();
        let narrow: Cidr = "203.0.113.128/25".parse().unwrap();
        assert!(wide.covers(&narrow));
        assert!(!narrow.covers(&wide));
        assert!(wide.covers(&Cidr::host(ip("203.0.113.7"))));
        assert_eq!(Cidr::host(ip("203.0.113.7")).to_string(), "203.0.113.7");
        assert_eq!(wide.to_string(), "203.0.113.0/24");
        assert_eq!(
            parse_target("203.0.113.7"),
            Ok(Cidr::host(ip("203.0.113.7")))
        );
        assert_eq!(parse_target("203.0.113.0/24"), Ok(wide));
    }

    #[test]
    fn special_ranges_are_named() {
        assert_eq!(range_kind(ip("10.20.1.11")), Some("private (RFC 1918)"));
        assert_eq!(
            range_kind(ip("203.0.113.7")),
            Some("documentation (RFC 5737)")
        );
        assert_eq!(range_kind(ip("::1")), Some("loopback"));
        assert_eq!(range_kind(ip("8.8.8.8")), None);
    }
}
