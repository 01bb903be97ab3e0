//! Host names and addresses taken from alerts, validated because they become
//! targets of commands such as `isolate web-01`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::excerpt;

/// A host name (letters, digits, `-`, `.`, `_`, starting with a letter or
/// digit) or an IPv4 or IPv6 address. It never contains whitespace, shell
/// metacharacters or a leading `-` that a command could read as an option.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Host(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host is empty")]
    Empty,
    #[error("host `{}` is {length} characters, over the maximum of {MAX_HOST_CHARS}", excerpt(.value))]
    TooLong { value: String, length: usize },
    #[error(
        "host `{}` contains {}: a host name may contain only ASCII letters, digits, `-`, `.` and `_`",
        excerpt(.value),
        describe_char(*.character)
    )]
    InvalidCharacter { value: String, character: char },
    #[error("host `{}` starts with `{first}`: a host name must start with a letter or digit", excerpt(.value))]
    InvalidStart { value: String, first: char },
    #[error(
        "host `{}` has an empty or over-long label: each dot-separated part must have 1 to {MAX_LABEL_CHARS} characters",
        excerpt(.value)
    )]
    InvalidLabel { value: String },
}

/// Maximum length of a DNS name in text form (RFC 1035).
const MAX_HOST_CHARS: usize = 253;

/// Maximum length of one dot-separated label of a DNS name (RFC 1035).
const MAX_LABEL_CHARS: usize = 63;

impl Host {
    /// Validates a host name or IP address as given, without port or brackets.
    /// One trailing dot of a fully qualified name is dropped.
    pub fn parse(text: &str) -> Result<Self, HostError> {
        if text.is_empty() {
            return Err(HostError::Empty);
        }
        if text.parse::<Ipv4Addr>().is_ok() || text.parse::<Ipv6Addr>().is_ok() {
            return Ok(Self(text.to_string()));
        }

        let name = text.strip_suffix('.').unwrap_or(text);
        let length = name.chars().count();
        if length > MAX_HOST_CHARS {
            return Err(HostError::TooLong {
                value: text.to_string(),
                length,
            });
        }
        if let Some(character) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
        {
            return Err(HostError::InvalidCharacter {
                value: text.to_string(),
                character,
            });
        }
        // The loop above leaves only ASCII, so the first char exists unless
        // the name was a lone dot.
        match name.chars().next() {
            Some(first) if first.is_ascii_alphanumeric() => {}
            Some(first) => {
                return Err(HostError::InvalidStart {
                    value: text.to_string(),
                    first,
                });
            }
            None => {
                return Err(HostError::InvalidStart {
                    value: text.to_string(),
                    first: '.',
                });
            }
        }
        if name
            .split('.')
            .any(|label| label.is_empty() || label.len() > MAX_LABEL_CHARS)
        {
            return Err(HostError::InvalidLabel {
                value: text.to_string(),
            });
        }

        Ok(Self(name.to_string()))
    }

    /// Extracts the host from a Prometheus label value such as `instance`,
    /// which often carries a port (`web-01:9100`, `[2001:db8::1]:9100`) or,
    /// for blackbox probes, a URL (`https://shop.example.com/health`). The
    /// scheme, user info, path and port are dropped before validation.
    pub fn from_label(value: &str) -> Result<Self, HostError> {
        let mut rest = value.trim();
        if let Some((_, after)) = rest.split_once("://") {
            rest = after;
        }
        if let Some(end) = rest.find(['/', '?', '#']) {
            rest = &rest[..end];
        }
        if let Some((_, after)) = rest.rsplit_once('@') {
            rest = after;
        }

        if let Some(bracketed) = rest.strip_prefix('[') {
            if let Some((inside, after)) = bracketed.split_once(']')
                && (after.is_empty() || is_port_suffix(after))
            {
                rest = inside;
            }
        } else if let Some((name, port)) = rest.split_once(':')
            && !port.contains(':')
            && is_port_suffix(&rest[name.len()..])
        {
            rest = name;
        }

        Self::parse(rest)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Returns whether `text` is `:` followed by 1 to 5 digits.
fn is_port_suffix(text: &str) -> bool {
    text.strip_prefix(':').is_some_and(|digits| {
        (1..=5).contains(&digits.len()) && digits.bytes().all(|byte| byte.is_ascii_digit())
    })
}

/// Names a character for an error message so that invisible ones show.
fn describe_char(character: char) -> String {
    match character {
        ' ' => "a space".to_string(),
        '`' => "a backtick".to_string(),
        c if c.is_whitespace() || c.is_control() => format!("character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_names_and_addresses() {
        for text in [
            "web-01",
            "srv_01",
            "db-02.prod.example.internal",
            "10.20.4.17",
            "2001:db8::1",
            "A1",
        ] {
            assert_eq!(Host::parse(text).unwrap().as_str(), text);
        }
    }

    #[test]
    fn parse_drops_trailing_dot() {
        assert_eq!(
            Host::parse("web-01.example.com.").unwrap().as_str(),
            "web-01.example.com"
        );
    }

    #[test]
    fn parse_rejects_shell_metacharacters() {
        for (text, shown) in [
            ("web-01;reboot", "`;`"),
            ("$(id)", "`$`"),
            ("web`id`", "a backtick"),
            ("a|b", "`|`"),
            ("a&b", "`&`"),
            ("a>b", "`>`"),
            ("web/01", "`/`"),
            ("web-01:22", "`:`"),
        ] {
            let error = Host::parse(text).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "host `{text}` contains {shown}: a host name may contain only ASCII letters, digits, `-`, `.` and `_`"
                ),
                "host `{text}`"
            );
        }
    }

    #[test]
    fn parse_names_invisible_characters() {
        let error = Host::parse("web 01").unwrap_err();
        assert_eq!(
            error.to_string(),
            "host `web 01` contains a space: a host name may contain only ASCII letters, digits, `-`, `.` and `_`"
        );
        let error = Host::parse("web\t01").unwrap_err();
        assert_eq!(
            error.to_string(),
            "host `web\\t01` contains character U+0009: a host name may contain only ASCII letters, digits, `-`, `.` and `_`"
        );
    }

    #[test]
    fn parse_rejects_leading_dash() {
        let error = Host::parse("-rf").unwrap_err();
        assert_eq!(
            error.to_string(),
            "host `-rf` starts with `-`: a host name must start with a letter or digit"
        );
    }

    #[test]
    fn parse_rejects_empty_labels_and_length() {
        assert_eq!(Host::parse(""), Err(HostError::Empty));
        assert!(matches!(
            Host::parse("a..b"),
            Err(HostError::InvalidLabel { .. })
        ));
        assert!(matches!(
            Host::parse("."),
            Err(HostError::InvalidStart { first: '.', .. })
        ));
        let long_label = "a".repeat(64);
        assert!(matches!(
            Host::parse(&long_label),
            Err(HostError::InvalidLabel { .. })
        ));
        let long_name = vec!["a".repeat(60); 5].join(".");
        assert!(matches!(
            Host::parse(&long_name),
            Err(HostError::TooLong { length: 304, .. })
        ));
    }

    #[test]
    fn from_label_strips_port_url_and_brackets() {
        let cases = [
            ("web-01:9100", "web-01"),
            ("web-01", "web-01"),
            ("10.0.0.5:9100", "10.0.0.5"),
            ("[2001:db8::1]:9100", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("https://shop.example.com/health?x=1", "shop.example.com"),
            ("http://probe@web-02:8080", "web-02"),
            (" db-01 ", "db-01"),
        ];
        for (label, expected) in cases {
            assert_eq!(
                Host::from_label(label).unwrap().as_str(),
                expected,
                "label `{label}`"
            );
        }
    }

    #[test]
    fn from_label_rejects_invalid_host() {
        let error = Host::from_label("web 01:9100").unwrap_err();
        assert_eq!(
            error.to_string(),
            "host `web 01` contains a space: a host name may contain only ASCII letters, digits, `-`, `.` and `_`"
        );
        assert!(Host::from_label("web-01:port").is_err());
    }
}
