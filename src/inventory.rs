//! The inventory: the hosts, users, teams, services, packages and
//! environments that slot values are checked against, read from a TOML file such as
//! `demo/inventory.toml`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The validated inventory. Names are stored lowercase, and every lookup
/// ignores ASCII case.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    hosts: Vec<Host>,
    users: Vec<User>,
    teams: Vec<Team>,
    services: Vec<String>,
    packages: Vec<String>,
    environments: Vec<String>,
}

/// A server or workstation that commands can target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// Short name, such as `web-01`.
    pub name: String,
    /// Fully qualified domain name without the trailing dot.
    pub fqdn: Option<String>,
    pub address: Option<IpAddr>,
    /// One of the inventory's environments.
    pub environment: Option<String>,
    /// Role of the host, such as `web` or `db`.
    pub role: Option<String>,
    /// Services that run on the host, each one of the inventory's services.
    pub services: Vec<String>,
}

/// An immutable Slack user id, such as `U024BE7LH`. Account names can be
/// renamed, so users are tracked by this id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

/// A person or service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    /// Account name used in commands, such as `alice` or `svc-backup`.
    pub name: String,
    /// Name shown in chat, such as `Alice Ng`.
    pub display_name: Option<String>,
}

/// A team that can be paged, with its members by user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub name: String,
    pub members: Vec<UserId>,
}

/// One problem found in an inventory file, tied to the field it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryProblem {
    /// Path of the field, such as `hosts[3].fqdn`.
    pub field: String,
    pub message: String,
}

/// Errors raised while loading an inventory.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("failed to read inventory `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid TOML in inventory `{}`{}: {message}", path.display(), line.map(|line| format!(" at line {line}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    #[error("{} problem(s) in inventory `{}`; fix each field listed:\n{}", problems.len(), path.display(), format_problems(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<InventoryProblem>,
    },
}

/// An inventory file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    /// Service names that may appear in host entries and service slots.
    #[serde(default)]
    services: Vec<String>,
    /// Package names that package slots accept.
    #[serde(default)]
    packages: Vec<String>,
    /// Environment names, such as `production`.
    #[serde(default)]
    environments: Vec<String>,
    #[serde(default)]
    hosts: Vec<RawHost>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    teams: Vec<RawTeam>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    /// Short host name: letters, digits, `-` and `_`.
    name: String,
    /// Fully qualified domain name, without a trailing dot.
    fqdn: Option<String>,
    /// IPv4 or IPv6 address.
    address: Option<String>,
    /// One of the top-level `environments`.
    environment: Option<String>,
    /// Free-form role, such as `web`.
    role: Option<String>,
    /// Services running on the host, each listed in the top-level `services`.
    #[serde(default)]
    services: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    /// Slack user id, such as `U024BE7LH`.
    id: String,
    /// Account name used in commands.
    name: String,
    /// Name shown in chat.
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    /// Team name, such as `sre`.
    name: String,
    /// Slack user ids of the members, each listed under `users`.
    #[serde(default)]
    members: Vec<String>,
}

/// DNS limits a label to 63 octets and a whole name to 253 (RFC 1035).
const MAX_LABEL_LEN: usize = 63;
const MAX_FQDN_LEN: usize = 253;

/// Slack user ids are a `U` or `W` and uppercase letters and digits; they
/// are 9 or 11 characters today, so the bound leaves room for growth.
const MAX_USER_ID_LEN: usize = 21;

/// Longest account, team, service, package or environment name accepted;
/// Linux account names stop at 32 characters, and longer names are
/// more likely pasted text than a name.
const MAX_NAME_LEN: usize = 64;

impl Inventory {
    /// Reads and validates an inventory file, reporting every problem found.
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let text = fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates inventory text; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self, InventoryError> {
        let raw: RawInventory = toml::from_str(text).map_err(|error| InventoryError::Parse {
            path: origin.to_path_buf(),
            line: error
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1),
            message: error.message().trim().to_string(),
        })?;

        let mut problems = Vec::new();
        let inventory = validate(raw, &mut problems);
        if problems.is_empty() {
            Ok(inventory)
        } else {
            Err(InventoryError::Invalid {
                path: origin.to_path_buf(),
                problems,
            })
        }
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn teams(&self) -> &[Team] {
        &self.teams
    }

    pub fn services(&self) -> &[String] {
        &self.services
    }

    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    pub fn environments(&self) -> &[String] {
        &self.environments
    }

    /// Finds a host by short name or FQDN; a trailing dot is ignored.
    pub fn host(&self, name: &str) -> Option<&Host> {
        let name = name.strip_suffix('.').unwrap_or(name);
        self.hosts.iter().find(|host| {
            host.name.eq_ignore_ascii_case(name)
                || host
                    .fqdn
                    .as_deref()
                    .is_some_and(|fqdn| fqdn.eq_ignore_ascii_case(name))
        })
    }

    pub fn host_by_address(&self, address: IpAddr) -> Option<&Host> {
        self.hosts.iter().find(|host| host.address == Some(address))
    }

    pub fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|user| user.id.as_str() == id)
    }

    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|user| user.name.eq_ignore_ascii_case(name))
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams
            .iter()
            .find(|team| team.name.eq_ignore_ascii_case(name))
    }

    /// Returns the inventory's spelling of a service name.
    pub fn service(&self, name: &str) -> Option<&str> {
        find_name(&self.services, name)
    }

    /// Returns the inventory's spelling of a package name.
    pub fn package(&self, name: &str) -> Option<&str> {
        find_name(&self.packages, name)
    }

    /// Returns the inventory's spelling of an environment name.
    pub fn environment(&self, name: &str) -> Option<&str> {
        find_name(&self.environments, name)
    }
}

impl UserId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks whether `id` has the form of a Slack user id: `U` or `W`, then
    /// uppercase letters and digits.
    pub fn is_valid(id: &str) -> bool {
        let mut chars = id.chars();
        chars
            .next()
            .is_some_and(|first| first == 'U' || first == 'W')
            && id.len() >= 3
            && id.len() <= MAX_USER_ID_LEN
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for InventoryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

/// Checks whether `label` is one DNS label as hosts are named here: ASCII letters,
/// digits, `-` and `_`, starting and ending with a letter or digit. `_` is
/// not valid in DNS host names, but inventories name hosts such as `srv_01`.
pub(crate) fn is_host_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alphanumeric_ends = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    alphanumeric_ends
        && bytes.len() <= MAX_LABEL_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// Checks whether `name` is a short host name or an FQDN without a trailing dot.
pub(crate) fn is_host_name(name: &str) -> bool {
    name.len() <= MAX_FQDN_LEN && name.split('.').all(is_host_label)
}

/// Checks whether `name` is an account name: ASCII letters, digits, `.`, `_`, `-`
/// and `@` (for accounts named by e-mail address), starting with a letter
/// or digit.
pub(crate) fn is_account_name(name: &str) -> bool {
    is_simple_name(name, b"._-@")
}

/// Checks whether `name` is a service, package, team or environment name: ASCII
/// letters, digits, `.`, `_`, `-` and `+` (as in `libstdc++`), starting with
/// a letter or digit.
pub(crate) fn is_component_name(name: &str) -> bool {
    is_simple_name(name, b"._-+")
}

fn is_simple_name(name: &str, punctuation: &[u8]) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.len() <= MAX_NAME_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || punctuation.contains(b))
}

fn find_name<'a>(names: &'a [String], name: &str) -> Option<&'a str> {
    names
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

fn format_problems(problems: &[InventoryProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects problems for one inventory file.
struct Problems<'a>(&'a mut Vec<InventoryProblem>);

impl Problems<'_> {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(InventoryProblem {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Turns the raw file into an inventory, recording every problem.
fn validate(raw: RawInventory, problems: &mut Vec<InventoryProblem>) -> Inventory {
    let mut problems = Problems(problems);

    let services = validate_names("services", raw.services, "service", &mut problems);
    let packages = validate_names("packages", raw.packages, "package", &mut problems);
    let environments = validate_names(
        "environments",
        raw.environments,
        "environment",
        &mut problems,
    );
    let hosts = validate_hosts(raw.hosts, &services, &environments, &mut problems);
    let users = validate_users(raw.users, &mut problems);
    let teams = validate_teams(raw.teams, &users, &mut problems);

    Inventory {
        hosts,
        users,
        teams,
        services,
        packages,
        environments,
    }
}

/// Checks a top-level list of names: each valid and listed once.
fn validate_names(
    field: &str,
    names: Vec<String>,
    what: &str,
    problems: &mut Problems<'_>,
) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    for (index, name) in names.into_iter().enumerate() {
        let name = name.to_ascii_lowercase();
        if !is_component_name(&name) {
            problems.push(
                format!("{field}[{index}]"),
                format!(
                    "invalid {what} name `{name}`: use letters, digits, `.`, `_`, `-` and `+`, starting with a letter or digit"
                ),
            );
        } else if !seen.insert(name.clone()) {
            problems.push(
                format!("{field}[{index}]"),
                format!("duplicate {what} `{name}`: list it once"),
            );
        } else {
            valid.push(name);
        }
    }
    valid
}

fn validate_hosts(
    raw: Vec<RawHost>,
    services: &[String],
    environments: &[String],
    problems: &mut Problems<'_>,
) -> Vec<Host> {
    // Short names and FQDNs share one namespace, because a slot value can be either.
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut addresses: HashMap<IpAddr, usize> = HashMap::new();
    let mut hosts = Vec::new();

    for (index, raw) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("hosts[{index}].{name}");
        let name = raw.name.to_ascii_lowercase();
        if name.contains('.') || !is_host_label(&name) {
            problems.push(
                field("name"),
                format!(
                    "invalid host name `{name}`: use one label of letters, digits, `-` and `_`, and put the domain in `fqdn`"
                ),
            );
        } else if let Some(first) = names.insert(name.clone(), index) {
            problems.push(
                field("name"),
                format!("duplicate host name `{name}`, first used by hosts[{first}]"),
            );
        }

        let fqdn = raw.fqdn.map(|fqdn| fqdn.to_ascii_lowercase());
        if let Some(fqdn) = &fqdn {
            if fqdn.ends_with('.') {
                problems.push(
                    field("fqdn"),
                    format!("FQDN `{fqdn}` ends with a dot: remove the trailing dot"),
                );
            } else if !fqdn.contains('.') || !is_host_name(fqdn) {
                problems.push(
                    field("fqdn"),
                    format!(
                        "invalid FQDN `{fqdn}`: expected two or more dot-separated labels of letters, digits, `-` and `_`"
                    ),
                );
            } else if let Some(first) = names.insert(fqdn.clone(), index) {
                problems.push(
                    field("fqdn"),
                    format!("duplicate host name `{fqdn}`, first used by hosts[{first}]"),
                );
            }
        }

        let address = raw.address.and_then(|text| match text.parse::<IpAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                problems.push(
                    field("address"),
                    format!(
                        "invalid IP address `{text}`: expected IPv4 or IPv6, such as `10.20.1.11`"
                    ),
                );
                None
            }
        });
        if let Some(address) = address
            && let Some(first) = addresses.insert(address, index)
        {
            problems.push(
                field("address"),
                format!("duplicate address `{address}`, first used by hosts[{first}]"),
            );
        }

        let environment = raw.environment.map(|name| name.to_ascii_lowercase());
        if let Some(environment) = &environment
            && !environments.contains(environment)
        {
            problems.push(
                field("environment"),
                format!(
                    "unknown environment `{environment}`: add it to the top-level `environments` or use one of: {}",
                    environments.join(", ")
                ),
            );
        }

        let role = raw.role;
        if role.as_deref().is_some_and(|role| role.trim().is_empty()) {
            problems.push(
                field("role"),
                "empty role: remove the field or name the role",
            );
        }

        let mut host_services = Vec::new();
        for (service_index, service) in raw.services.into_iter().enumerate() {
            let service = service.to_ascii_lowercase();
            if services.contains(&service) {
                host_services.push(service);
            } else {
                problems.push(
                    format!("hosts[{index}].services[{service_index}]"),
                    format!("unknown service `{service}`: add it to the top-level `services`"),
                );
            }
        }

        hosts.push(Host {
            name,
            fqdn,
            address,
            environment,
            role,
            services: host_services,
        });
    }
    hosts
}

fn validate_users(raw: Vec<RawUser>, problems: &mut Problems<'_>) -> Vec<User> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut users = Vec::new();

    for (index, raw) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("users[{index}].{name}");
        if !UserId::is_valid(&raw.id) {
            problems.push(
                field("id"),
                format!(
                    "invalid Slack user id `{}`: expected `U` or `W` and uppercase letters and digits, such as `U024BE7LH`",
                    raw.id
                ),
            );
        } else if let Some(first) = ids.insert(raw.id.clone(), index) {
            problems.push(
                field("id"),
                format!(
                    "duplicate user id `{}`, first used by users[{first}]",
                    raw.id
                ),
            );
        }

        let name = raw.name.to_ascii_lowercase();
        if !is_account_name(&name) {
            problems.push(
                field("name"),
                format!(
                    "invalid account name `{name}`: use letters, digits, `.`, `_`, `-` and `@`, starting with a letter or digit"
                ),
            );
        } else if let Some(first) = names.insert(name.clone(), index) {
            problems.push(
                field("name"),
                format!("duplicate account name `{name}`, first used by users[{first}]"),
            );
        }

        let display_name = raw.display_name.map(|name| name.trim().to_string());
        if display_name.as_deref().is_some_and(str::is_empty) {
            problems.push(
                field("display_name"),
                "empty display name: remove the field or give the name",
            );
        }

        users.push(User {
            id: UserId::new(raw.id),
            name,
            display_name,
        });
    }
    users
}

fn validate_teams(raw: Vec<RawTeam>, users: &[User], problems: &mut Problems<'_>) -> Vec<Team> {
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut teams = Vec::new();

    for (index, raw) in raw.into_iter().enumerate() {
        let name = raw.name.to_ascii_lowercase();
        if !is_component_name(&name) {
            problems.push(
                format!("teams[{index}].name"),
                format!(
                    "invalid team name `{name}`: use letters, digits, `.`, `_`, `-` and `+`, starting with a letter or digit"
                ),
            );
        } else if let Some(first) = names.insert(name.clone(), index) {
            problems.push(
                format!("teams[{index}].name"),
                format!("duplicate team name `{name}`, first used by teams[{first}]"),
            );
        }

        let mut members = Vec::new();
        for (member_index, member) in raw.members.into_iter().enumerate() {
            let field = format!("teams[{index}].members[{member_index}]");
            if !users.iter().any(|user| user.id.as_str() == member) {
                problems.push(
                    field,
                    format!("unknown user id `{member}`: add the user under `[[users]]` first"),
                );
            } else if members
                .iter()
                .any(|known: &UserId| known.as_str() == member)
            {
                problems.push(field, format!("duplicate member `{member}`: list it once"));
            } else {
                members.push(UserId::new(member));
            }
        }

        teams.push(Team { name, members });
    }
    teams
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
services = ["nginx", "postgres"]
packages = ["openssl"]
environments = ["production", "staging"]

[[hosts]]
name = "web-01"
fqdn = "web-01.example.internal"
address = "10.20.1.11"
environment = "production"
role = "web"
services = ["nginx"]

[[hosts]]
name = "srv_01"
address = "2001:db8::10"

[[users]]
id = "U024BE7LH"
name = "alice"
display_name = "Alice Ng"

[[teams]]
name = "sre"
members = ["U024BE7LH"]
"#;

    fn parse(text: &str) -> Result<Inventory, InventoryError> {
        Inventory::from_toml(text, Path::new("test.toml"))
    }

    fn problems(text: &str) -> Vec<InventoryProblem> {
        match parse(text) {
            Err(InventoryError::Invalid { problems, .. }) => problems,
            other => panic!("expected validation problems, got {other:?}"),
        }
    }

    #[test]
    fn valid_inventory_loads() {
        let inventory = parse(VALID).unwrap();
        assert_eq!(inventory.hosts().len(), 2);
        assert_eq!(inventory.users()[0].id.as_str(), "U024BE7LH");
        assert_eq!(inventory.teams()[0].members, vec![UserId::new("U024BE7LH")]);
        assert_eq!(inventory.services(), ["nginx", "postgres"]);
    }

    #[test]
    fn host_lookup_accepts_name_fqdn_and_trailing_dot() {
        let inventory = parse(VALID).unwrap();
        assert_eq!(inventory.host("web-01").unwrap().name, "web-01");
        assert_eq!(inventory.host("WEB-01").unwrap().name, "web-01");
        assert_eq!(
            inventory.host("web-01.example.internal.").unwrap().name,
            "web-01"
        );
        assert!(inventory.host("web-02").is_none());
    }

    #[test]
    fn host_lookup_by_address() {
        let inventory = parse(VALID).unwrap();
        let v4: IpAddr = "10.20.1.11".parse().unwrap();
        let v6: IpAddr = "2001:db8:0::10".parse().unwrap();
        assert_eq!(inventory.host_by_address(v4).unwrap().name, "web-01");
        assert_eq!(inventory.host_by_address(v6).unwrap().name, "srv_01");
    }

    #[test]
    fn unknown_field_is_a_parse_error_with_line() {
        let error = parse("[[hosts]]\nname = \"a\"\nrack = 4\n").unwrap_err();
        match error {
            InventoryError::Parse { line, message, .. } => {
                assert_eq!(line, Some(3));
                assert!(message.contains("rack"), "{message}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let text = r#"
services = ["nginx", "nginx"]
environments = ["production"]

[[hosts]]
name = "web 01"
fqdn = "web-01.example.internal."
address = "10.20.1.300"
environment = "prod"
services = ["redis"]

[[hosts]]
name = "db-01"
address = "10.0.0.1"

[[hosts]]
name = "db-01"
address = "10.0.0.1"

[[users]]
id = "alice"
name = "-alice"

[[teams]]
name = "sre"
members = ["U999"]
"#;
        let fields: Vec<String> = problems(text).into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "services[1]",
                "hosts[0].name",
                "hosts[0].fqdn",
                "hosts[0].address",
                "hosts[0].environment",
                "hosts[0].services[0]",
                "hosts[2].name",
                "hosts[2].address",
                "users[0].id",
                "users[0].name",
                "teams[0].members[0]",
            ]
        );
    }

    #[test]
    fn fqdn_may_not_reuse_another_hosts_name() {
        let text = r#"
[[hosts]]
name = "web-01"

[[hosts]]
name = "web-02"
fqdn = "web-01"
"#;
        let problems = problems(text);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "hosts[1].fqdn");
    }

    #[test]
    fn host_labels_keep_hyphens_and_underscores() {
        assert!(is_host_label("srv_01"));
        assert!(is_host_label("k8s-node-09"));
        assert!(!is_host_label("-web"));
        assert!(!is_host_label("web-"));
        assert!(!is_host_label(""));
        assert!(!is_host_label(&"a".repeat(64)));
        assert!(is_host_name("srv_01.example.internal"));
        assert!(!is_host_name("web..example"));
    }

    #[test]
    fn user_ids_have_slack_form() {
        assert!(UserId::is_valid("U024BE7LH"));
        assert!(UserId::is_valid("W012A3CDE"));
        assert!(!UserId::is_valid("u024be7lh"));
        assert!(!UserId::is_valid("C024BE7LR"));
        assert!(!UserId::is_valid("U"));
    }

    #[test]
    fn demo_inventory_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/inventory.toml");
        let inventory = Inventory::load(&path).unwrap();
        assert!(inventory.host("localhost").is_some());
        assert!(inventory.hosts().len() >= 20);
    }
}
