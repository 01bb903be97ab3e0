//! Network extractors: URLs, CIDR ranges, IP addresses and hosts.

use std::net::IpAddr;

use super::scan::{Candidate, Scan, closest, wrapped_in_shell};
use super::values::{Cidr, HostName, UrlValue};
use super::{Hint, SlotError, SlotKind, SlotValue};
use crate::inventory::{self, Inventory};
use crate::normalise::Link;

const IP_EXPECTED: &str = "an IPv4 or IPv6 address, such as `203.0.113.7` or `2001:db8::1`";
const CIDR_EXPECTED: &str = "an address and a prefix length, such as `198.51.100.0/24`";
const URL_EXPECTED: &str = "a URL such as `https://example.org/path`, a domain such as `example.org`, or an e-mail address";
const HOST_EXPECTED: &str = "a host name such as `web-01` or `web-01.example.internal`";

/// URL schemes accepted when the user writes a URL in plain text.
const URL_SCHEMES: [&str; 3] = ["http", "https", "ftp"];

/// Last labels that make a dotted word a file name (`auth.log`), not a host.
const FILE_EXTENSIONS: [&str; 34] = [
    "log", "txt", "conf", "cfg", "ini", "json", "yaml", "yml", "xml", "toml", "sh", "py", "js",
    "rs", "go", "rb", "exe", "dll", "bin", "zip", "gz", "tgz", "tar", "pem", "crt", "key", "csv",
    "md", "html", "php", "jar", "service", "socket", "timer",
];

/// Finds links and plain-text URLs. A link that Slack made from text the
/// user typed, whose label is its URL without the scheme, yields the typed
/// text, so no scheme is added. A link with its own label yields the URL.
pub(super) fn urls(scan: &Scan<'_>) -> Vec<Candidate> {
    let mut candidates = Vec::new();

    for link in &scan.message.links {
        if scan.is_free(&link.span) {
            candidates.push(Candidate {
                span: link.span.clone(),
                value: link_value(link),
            });
        }
    }

    for (_, token) in scan.free_tokens() {
        let is_link = scan
            .message
            .links
            .iter()
            .any(|link| link.span == token.span);
        let scheme = token.text.split_once("://").map(|(scheme, _)| scheme);
        if !is_link
            && scheme.is_some_and(|s| URL_SCHEMES.contains(&s.to_ascii_lowercase().as_str()))
        {
            candidates.push(Candidate {
                span: token.span.clone(),
                value: parse_url(token.text),
            });
        }
    }
    candidates.sort_by_key(|candidate| candidate.span.start);
    candidates
}

/// Reads a Slack link as a URL value: the typed text for a link Slack made
/// itself, the target URL for a link with its own label.
pub(super) fn link_value(link: &Link) -> Result<SlotValue, SlotError> {
    let typed = link
        .label
        .as_deref()
        .filter(|label| *label == link.url || *label == without_scheme(&link.url));
    match typed {
        Some(label) => parse_url(label),
        None => parse_url(&link.url),
    }
}

/// Parses a URL with a scheme, a domain with an optional port and path, or
/// an e-mail address (which Slack sends as a `mailto:` link).
pub(super) fn parse_url(text: &str) -> Result<SlotValue, SlotError> {
    if text.chars().any(char::is_whitespace) {
        return Err(SlotError::unsafe_characters(SlotKind::Url, text, " "));
    }
    if text.contains("://") || text.starts_with("mailto:") {
        return match url::Url::parse(text) {
            Ok(_) => Ok(SlotValue::Url(UrlValue::new(text))),
            Err(_) => Err(SlotError::malformed(SlotKind::Url, text, URL_EXPECTED)),
        };
    }
    if let Some((local, domain)) = text.split_once('@')
        && !local.is_empty()
        && !local.contains(['/', ':'])
        && domain.contains('.')
        && inventory::is_host_name(domain)
    {
        return Ok(SlotValue::Url(UrlValue::new(text)));
    }
    let authority = text.split(['/', '?', '#']).next().unwrap_or(text);
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.parse::<u16>().is_ok())
        .map_or(authority, |(host, _)| host);
    if inventory::is_host_name(host) && host.contains('.') {
        Ok(SlotValue::Url(UrlValue::new(text)))
    } else {
        Err(SlotError::malformed(SlotKind::Url, text, URL_EXPECTED))
    }
}

/// Finds `address/prefix` words. A range with host bits set, such as
/// `198.51.100.7/24`, is rejected with the network address as a
/// suggestion: blocking a wider range than the user meant is worse than
/// asking again.
pub(super) fn cidrs(scan: &Scan<'_>) -> Vec<Candidate> {
    scan.free_tokens()
        .filter_map(|(_, token)| {
            let (address, prefix) = token.text.split_once('/')?;
            let prefix_is_number = !prefix.is_empty()
                && prefix.len() <= 3
                && prefix.bytes().all(|b| b.is_ascii_digit());
            if !prefix_is_number || !(address.parse::<IpAddr>().is_ok() || looks_like_ip(address)) {
                return None;
            }
            Some(Candidate {
                span: token.span.clone(),
                value: parse_cidr(token.text),
            })
        })
        .collect()
}

pub(super) fn parse_cidr(text: &str) -> Result<SlotValue, SlotError> {
    let malformed = || SlotError::malformed(SlotKind::Cidr, text, CIDR_EXPECTED);
    let (address, prefix) = text.split_once('/').ok_or_else(malformed)?;
    let address: IpAddr = address.parse().map_err(|_| malformed())?;
    let prefix: u32 = prefix.parse().map_err(|_| malformed())?;
    let max: u8 = if address.is_ipv4() { 32 } else { 128 };

    let prefix_u8 = u8::try_from(prefix).ok().filter(|p| *p <= max);
    let Some(prefix_u8) = prefix_u8 else {
        return Err(SlotError::PrefixTooLong {
            value: text.to_string(),
            prefix,
            max,
        });
    };
    match Cidr::new(address, prefix_u8) {
        Ok(cidr) => Ok(SlotValue::Cidr(cidr)),
        Err(Some(network)) => Err(SlotError::HostBitsSet {
            value: text.to_string(),
            network: format!("{network}/{prefix_u8}"),
        }),
        Err(None) => Err(malformed()),
    }
}

/// Finds IPv4 and IPv6 addresses, and words that look like one but do not
/// parse, such as `203.0.113.300` or `2001:db8::25de::cade`.
pub(super) fn ips(scan: &Scan<'_>) -> Vec<Candidate> {
    scan.free_tokens()
        .filter_map(|(_, token)| {
            let text = unbracket(token.text);
            let value = match text.parse::<IpAddr>() {
                Ok(ip) => Ok(SlotValue::Ip(ip)),
                Err(_) if looks_like_ip(text) => {
                    Err(SlotError::malformed(SlotKind::Ip, text, IP_EXPECTED))
                }
                Err(_) => return None,
            };
            Some(Candidate {
                span: token.span.clone(),
                value,
            })
        })
        .collect()
}

pub(super) fn parse_ip(text: &str) -> Result<SlotValue, SlotError> {
    let text = unbracket(text);
    text.parse::<IpAddr>()
        .map(SlotValue::Ip)
        .map_err(|_| SlotError::malformed(SlotKind::Ip, text, IP_EXPECTED))
}

/// Finds hosts: inventory names and FQDNs, addresses of inventory hosts,
/// and words shaped like host names that the inventory lacks, which are
/// reported with the closest known name.
pub(super) fn hosts(scan: &Scan<'_>) -> Vec<Candidate> {
    scan.free_tokens()
        .filter_map(|(_, token)| {
            let value = match host_word(token.text, scan.inventory) {
                HostWord::Host(value) => value,
                HostWord::NotAHost => return None,
            };
            Some(Candidate {
                span: token.span.clone(),
                value,
            })
        })
        .collect()
}

/// Reads a whole answer as a host.
pub(super) fn parse_host(text: &str, inventory: &Inventory) -> Result<SlotValue, SlotError> {
    if let Some(found) = super::scan::shell_sequence(text) {
        return Err(SlotError::unsafe_characters(SlotKind::Host, text, found));
    }
    match host_word(text, inventory) {
        HostWord::Host(value) => value,
        HostWord::NotAHost => {
            let name = normalise_host(text);
            if inventory::is_host_name(&name) {
                Err(unknown_host(&name, inventory))
            } else {
                Err(SlotError::malformed(SlotKind::Host, &name, HOST_EXPECTED))
            }
        }
    }
}

enum HostWord {
    Host(Result<SlotValue, SlotError>),
    NotAHost,
}

fn host_word(word: &str, inventory: &Inventory) -> HostWord {
    let name = normalise_host(word);

    if let Ok(address) = unbracket(&name).parse::<IpAddr>() {
        return HostWord::Host(match inventory.host_by_address(address) {
            Some(host) => Ok(SlotValue::Host(HostName::from_inventory(
                address.to_string(),
                host,
            ))),
            None => Err(SlotError::UnknownAddress { address }),
        });
    }
    if let Some(host) = inventory.host(&name) {
        return HostWord::Host(Ok(SlotValue::Host(HostName::from_inventory(name, host))));
    }
    if looks_like_host(&name) && !is_other_known_name(&name, inventory) {
        return HostWord::Host(Err(unknown_host(&name, inventory)));
    }
    let wraps_host = |part: &str| inventory.host(part).is_some() || looks_like_host(part);
    if let Some(found) = wrapped_in_shell(word, wraps_host) {
        return HostWord::Host(Err(SlotError::unsafe_characters(
            SlotKind::Host,
            word,
            found,
        )));
    }
    HostWord::NotAHost
}

fn unknown_host(name: &str, inventory: &Inventory) -> SlotError {
    let names = inventory
        .hosts()
        .iter()
        .flat_map(|host| [Some(host.name.as_str()), host.fqdn.as_deref()])
        .flatten();
    let hint = match closest(name, names) {
        Some(close) => Hint::DidYouMean(close.to_string()),
        None => Hint::NotInInventory,
    };
    SlotError::unknown(SlotKind::Host, name, hint)
}

/// Lowercases a host word and strips the trailing dot of an absolute FQDN.
fn normalise_host(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    lower.strip_suffix('.').map(str::to_string).unwrap_or(lower)
}

/// Checks whether an unknown word is shaped like a host name: one label with a
/// letter, a digit and a `-` or `_` (`web-99`, `srv_01`), or dotted labels
/// ending in a word that is not a file extension (`db-09.example.internal`).
fn looks_like_host(name: &str) -> bool {
    if !inventory::is_host_name(name) {
        return false;
    }
    match name.rsplit_once('.') {
        Some((_, last)) => {
            last.len() >= 2
                && last.bytes().all(|b| b.is_ascii_alphabetic())
                && !FILE_EXTENSIONS.contains(&last)
        }
        None => {
            name.bytes().any(|b| b.is_ascii_digit())
                && name.bytes().any(|b| b.is_ascii_alphabetic())
                && name.contains(['-', '_'])
                && !is_id_like(name)
        }
    }
}

/// Words that other slot types own: CVE, incident and alert ids, durations.
fn is_id_like(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["CVE-", "INC-", "ALRT-", "ALERT-"]
        .iter()
        .any(|prefix| upper.starts_with(prefix))
}

/// Checks whether a name belongs to another kind of inventory entry.
fn is_other_known_name(name: &str, inventory: &Inventory) -> bool {
    inventory
        .service(name.trim_end_matches(".service"))
        .is_some()
        || inventory.package(name).is_some()
        || inventory.team(name).is_some()
        || inventory.user_by_name(name).is_some()
        || inventory.environment(name).is_some()
}

/// Checks whether a word that failed to parse as an address was meant as one:
/// four dot-separated numbers, or hex groups with `::` or seven colons.
fn looks_like_ip(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    let dotted_quad = parts.len() == 4
        && parts.iter().all(|part| {
            !part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit())
        });
    let colons = text.matches(':').count();
    let hex_groups = text
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        && text.bytes().any(|b| b.is_ascii_hexdigit());
    dotted_quad || (hex_groups && (text.contains("::") || colons >= 7))
}

fn unbracket(text: &str) -> &str {
    text.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(text)
}

fn without_scheme(url: &str) -> &str {
    if let Some((_, rest)) = url.split_once("://") {
        return rest;
    }
    url.split_once(':').map_or(url, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_with_host_bits_suggests_network() {
        let error = parse_cidr("198.51.100.7/24").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid CIDR range `198.51.100.7/24`: host bits are set, did you mean `198.51.100.0/24`?"
        );
    }

    #[test]
    fn cidr_prefix_is_range_checked() {
        assert!(matches!(
            parse_cidr("10.0.0.0/33"),
            Err(SlotError::PrefixTooLong { max: 32, .. })
        ));
        assert!(matches!(
            parse_cidr("2001:db8::/129"),
            Err(SlotError::PrefixTooLong { max: 128, .. })
        ));
        assert!(matches!(
            parse_cidr("10.0.0.0/999"),
            Err(SlotError::PrefixTooLong { .. })
        ));
        assert!(parse_cidr("2001:db8::/32").is_ok());
    }

    #[test]
    fn ip_shapes_are_recognised() {
        assert!(looks_like_ip("203.0.113.300"));
        assert!(looks_like_ip("2001:db8::25de::cade"));
        assert!(!looks_like_ip("10:30"));
        assert!(!looks_like_ip("web-01"));
        assert!(!looks_like_ip("1.4.2"));
    }

    #[test]
    fn host_shapes_are_recognised() {
        assert!(looks_like_host("web-99"));
        assert!(looks_like_host("srv_01"));
        assert!(looks_like_host("db-09.example.internal"));
        assert!(!looks_like_host("auth.log"));
        assert!(!looks_like_host("nginx"));
        assert!(!looks_like_host("cve-2021-44228"));
        assert!(!looks_like_host("1.4.2"));
        assert!(!looks_like_host("web-01;id"));
    }

    #[test]
    fn url_without_scheme_keeps_its_text() {
        assert_eq!(
            parse_url("example.org").unwrap(),
            SlotValue::Url(UrlValue::new("example.org"))
        );
        assert_eq!(
            parse_url("https://x.example/a?b=c").unwrap().to_arg(),
            "https://x.example/a?b=c"
        );
        assert!(parse_url("alice@example.org").is_ok());
        assert!(parse_url("alice@").is_err());
        assert!(parse_url("not a url").is_err());
        assert!(parse_url("https://").is_err());
    }
}
