//! Slot extraction against the shipped intent catalog and the demo inventory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use jiff::ZonedDateTime;
use warroom::intent::{Catalog, CommandSpec, Intent, IntentName, Risk, SlotSpec};
use warroom::inventory::Inventory;
use warroom::normalise::normalise;
use warroom::slots::{
    Extraction, HashAlgorithm, MASK, SlotError, SlotKind, SlotValue, extract, parse_answer,
    topic_names,
};

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::load(Path::new("intents")).expect("shipped intents load"));
static INVENTORY: LazyLock<Inventory> = LazyLock::new(|| {
    Inventory::load(Path::new("demo/inventory.toml")).expect("demo inventory loads")
});

/// Sunday 10 March 2024, 14:30 UTC.
fn now() -> ZonedDateTime {
    "2024-03-10T14:30:00+00:00[UTC]".parse().unwrap()
}

fn extract_for(intent: &str, raw: &str) -> Extraction {
    let intent = CATALOG
        .get(intent)
        .unwrap_or_else(|| panic!("intent `{intent}` is not in the catalog"));
    extract(intent, &normalise(raw), &INVENTORY, &now())
}

fn arg(extraction: &Extraction, slot: &str) -> Option<String> {
    extraction.values.get(slot).map(SlotValue::to_arg)
}

fn invalid_slots(extraction: &Extraction) -> Vec<&str> {
    extraction
        .invalid
        .iter()
        .map(|problem| problem.slot.as_str())
        .collect()
}

fn spec(name: &str, kind: SlotKind) -> SlotSpec {
    SlotSpec {
        name: name.to_string(),
        kind,
        required: true,
        group: None,
        secret: false,
    }
}

/// Builds an intent outside the catalog, for slot types no shipped intent uses.
fn intent_with(slots: Vec<SlotSpec>) -> Intent {
    Intent {
        name: IntentName::new("test.slots"),
        description: "Test intent.".to_string(),
        risk: Risk::Read,
        command: CommandSpec {
            program: "true".to_string(),
            args: Vec::new(),
        },
        slots,
        exemplars: Vec::new(),
        negatives: Vec::new(),
        source: PathBuf::from("test.toml"),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn time_range(extraction: &Extraction, slot: &str) -> (String, String, String) {
    match extraction.values.get(slot) {
        Some(SlotValue::TimeRange(range)) => (
            range.start.to_string(),
            range.end.to_string(),
            range.phrase.clone(),
        ),
        other => panic!("expected a time range in `{slot}`, got {other:?}"),
    }
}

// Slack markup.

#[test]
fn slack_link_label_gives_the_host() {
    let extraction = extract_for(
        "server.health",
        "is <http://web-01.example.internal|web-01.example.internal> ok?",
    );
    match extraction.values.get("host") {
        Some(SlotValue::Host(host)) => {
            assert_eq!(host.name, "web-01");
            assert_eq!(host.given, "web-01.example.internal");
        }
        other => panic!("expected host web-01, got {other:?}"),
    }
}

#[test]
fn slack_autolink_is_not_given_a_scheme() {
    let intent = intent_with(vec![spec("url", SlotKind::Url)]);
    let message = normalise("!ping <http://example.org|example.org>");
    let extraction = extract(&intent, &message, &INVENTORY, &now());
    assert_eq!(arg(&extraction, "url").as_deref(), Some("example.org"));

    let as_host = extract_for("server.health", "!ping <http://example.org|example.org>");
    assert_eq!(as_host.invalid[0].value, "example.org");
    assert!(
        as_host.invalid[0]
            .message
            .starts_with("unknown host `example.org`"),
        "{}",
        as_host.invalid[0].message
    );
}

#[test]
fn labelled_link_gives_target_url() {
    let intent = intent_with(vec![spec("url", SlotKind::Url)]);
    for (raw, expected) in [
        (
            "open <https://x.example/a?b=c|the dashboard>",
            "https://x.example/a?b=c",
        ),
        ("open <https://x.example/a?b=c>", "https://x.example/a?b=c"),
        (
            "open <https://x.example/a?b=1&amp;c=2>",
            "https://x.example/a?b=1&c=2",
        ),
        (
            "open https://x.example/path?q=1.",
            "https://x.example/path?q=1",
        ),
    ] {
        let extraction = extract(&intent, &normalise(raw), &INVENTORY, &now());
        assert_eq!(arg(&extraction, "url").as_deref(), Some(expected), "{raw}");
    }
}

#[test]
fn slack_mailto_link_gives_the_address() {
    let intent = intent_with(vec![spec("url", SlotKind::Url)]);
    let message = normalise("<mailto:alice@example.org|alice@example.org>");
    assert_eq!(message.text, "alice@example.org");
    let extraction = extract(&intent, &message, &INVENTORY, &now());
    assert_eq!(
        arg(&extraction, "url").as_deref(),
        Some("alice@example.org")
    );
}

#[test]
fn slack_mention_gives_user_by_id() {
    let raw = "Hey <@U024BE7LH|alice> could you join <#C024BE7LR|ops>?";
    let message = normalise(raw);
    assert!(!message.text.contains("U024BE7LH"), "{}", message.text);
    assert!(!message.text.contains("C024BE7LR"), "{}", message.text);
    assert_eq!(message.channels[0].id.as_str(), "C024BE7LR");

    let extraction = extract_for("user.activity", raw);
    match extraction.values.get("user") {
        Some(SlotValue::User(user)) => {
            assert_eq!(user.id.as_str(), "U024BE7LH");
            assert_eq!(user.name, "alice");
        }
        other => panic!("expected user U024BE7LH, got {other:?}"),
    }
}

#[test]
fn mention_resolves_by_id_not_label() {
    // The label is whatever Slack sent; the id decides who it is.
    let extraction = extract_for("user.disable", "disable <@U01JDOE42|Johnny>");
    assert_eq!(arg(&extraction, "user").as_deref(), Some("jdoe"));

    let extraction = extract_for("user.disable", "disable <@U01JDOE42>");
    assert_eq!(arg(&extraction, "user").as_deref(), Some("jdoe"));
}

#[test]
fn slack_mention_of_unknown_user_is_invalid() {
    let extraction = extract_for("user.disable", "disable <@U999ZZZ99|mallory>");
    assert_eq!(invalid_slots(&extraction), ["user"]);
    assert!(extraction.invalid[0].message.contains("U999ZZZ99"));
    assert!(extraction.missing.is_empty());
}

#[test]
fn mention_display_name_is_never_a_host() {
    let extraction = extract_for(
        "server.health",
        "<@U024BE7LH|web-01> asked me to check db-02",
    );
    assert_eq!(arg(&extraction, "host").as_deref(), Some("db-02"));
}

// Escaping.

#[test]
fn escaped_ampersand_is_unescaped_in_text() {
    assert_eq!(
        normalise("find hosts in MSc &amp; MBA").text,
        "find hosts in MSc & MBA"
    );
    assert_eq!(normalise("a &lt; b &gt; c").text, "a < b > c");
    assert_eq!(normalise("&amp;lt;").text, "&lt;");
}

#[test]
fn escaped_mention_is_literal_text() {
    let message = normalise("&lt;@U024BE7LH&gt; please");
    assert_eq!(message.text, "<@U024BE7LH> please");
    assert!(message.mentions.is_empty());
    let extraction = extract_for("user.disable", "disable &lt;@U024BE7LH&gt;");
    assert!(!extraction.values.contains_key("user"));
}

#[test]
fn free_text_keeps_unescaped_ampersand() {
    let extraction = extract_for(
        "incident.declare",
        "declare an incident: MSc &amp; MBA portal down",
    );
    assert_eq!(
        arg(&extraction, "title").as_deref(),
        Some("MSc & MBA portal down")
    );
}

// CVE ids.

#[test]
fn cve_any_case_and_length_accepted() {
    for (raw, expected) in [
        ("tell me about CVE-2019-11510", "CVE-2019-11510"),
        ("tell me about CVE-2017-1000117", "CVE-2017-1000117"),
        ("what is cve-2019-11510?", "CVE-2019-11510"),
        ("is (Cve-2021-44228) bad", "CVE-2021-44228"),
    ] {
        let extraction = extract_for("vuln.lookup", raw);
        assert_eq!(arg(&extraction, "cve").as_deref(), Some(expected), "{raw}");
    }
}

#[test]
fn cve_with_short_sequence_is_invalid() {
    for raw in [
        "look up CVE-2019-123",
        "look up cve-19-12345",
        "look up CVE-2019-",
    ] {
        let extraction = extract_for("vuln.lookup", raw);
        assert!(extraction.values.is_empty(), "{raw}");
        assert_eq!(invalid_slots(&extraction), ["cve"], "{raw}");
        assert!(extraction.missing.is_empty(), "{raw}");
    }
}

#[test]
fn cve_is_not_taken_as_host() {
    let extraction = extract_for("vuln.exposure", "which hosts are exposed to CVE-2021-44228");
    assert_eq!(arg(&extraction, "cve").as_deref(), Some("CVE-2021-44228"));
    assert!(!extraction.values.contains_key("host"));
    assert!(extraction.invalid.is_empty());
}

// CIDR ranges and addresses.

#[test]
fn cidr_is_not_taken_as_ip() {
    let extraction = extract_for("ip.block", "block the netblock 198.51.100.0/24");
    assert_eq!(arg(&extraction, "cidr").as_deref(), Some("198.51.100.0/24"));
    assert!(!extraction.values.contains_key("ip"));
    assert!(extraction.missing.is_empty());

    let extraction = extract_for("ip.block", "could you block 2001:db8:1f::/48 please");
    assert_eq!(
        arg(&extraction, "cidr").as_deref(),
        Some("2001:db8:1f::/48")
    );
    assert!(!extraction.values.contains_key("ip"));
}

#[test]
fn cidr_prefix_out_of_range_is_invalid() {
    for raw in ["block 198.51.100.0/33", "block 2001:db8::/129"] {
        let extraction = extract_for("ip.block", raw);
        assert_eq!(invalid_slots(&extraction), ["cidr"], "{raw}");
        assert!(!extraction.values.contains_key("ip"), "{raw}");
        assert!(extraction.missing.is_empty(), "{raw}");
    }
}

#[test]
fn cidr_with_host_bits_is_rejected_with_network() {
    let extraction = extract_for("ip.block", "block 198.51.100.7/24");
    assert_eq!(invalid_slots(&extraction), ["cidr"]);
    assert!(
        extraction.invalid[0].message.contains("`198.51.100.0/24`"),
        "{}",
        extraction.invalid[0].message
    );
}

#[test]
fn ip_and_duration_do_not_share_numbers() {
    let extraction = extract_for("ip.block", "block 203.0.113.7 at the firewall for 24h");
    assert_eq!(
        extraction.values.get("ip"),
        Some(&SlotValue::Ip(ip("203.0.113.7")))
    );
    assert_eq!(
        extraction.values.get("duration"),
        Some(&SlotValue::Duration(Duration::from_secs(86_400)))
    );
    assert!(!extraction.values.contains_key("cidr"));

    let extraction = extract_for("ip.block", "block 198.51.100.0/24 for 24h");
    assert_eq!(arg(&extraction, "cidr").as_deref(), Some("198.51.100.0/24"));
    assert_eq!(arg(&extraction, "duration").as_deref(), Some("86400"));
}

#[test]
fn ipv6_compressed_forms_are_accepted() {
    let extraction = extract_for(
        "ip.lookup",
        "check 2001:db8::9c0:876a:130b against threat intel",
    );
    assert_eq!(
        arg(&extraction, "ip").as_deref(),
        Some("2001:db8::9c0:876a:130b")
    );

    let extraction = extract_for("ip.block", "please block 2001:db8::dead:beef for 2 hours");
    assert_eq!(
        arg(&extraction, "ip").as_deref(),
        Some("2001:db8::dead:beef")
    );
    assert_eq!(arg(&extraction, "duration").as_deref(), Some("7200"));
}

#[test]
fn malformed_addresses_are_invalid() {
    for raw in ["lookup 2001:db8::25de::cade", "lookup 203.0.113.300"] {
        let extraction = extract_for("ip.lookup", raw);
        assert_eq!(invalid_slots(&extraction), ["ip"], "{raw}");
    }
}

#[test]
fn target_group_is_missing_only_when_empty() {
    let extraction = extract_for("ip.block", "block that ip please");
    assert_eq!(extraction.missing, ["ip", "cidr"]);

    let extraction = extract_for("ip.block", "block 203.0.113.9");
    assert!(extraction.missing.is_empty());
}

// Hashes.

#[test]
fn hashes_of_each_length_are_accepted() {
    let md5 = "43493ab9e2b105ed58d657b433a0d728";
    let sha1 = "AD8C47E522886AA0A81733A9BA8E5A195D726B71";
    let sha256 = "20a8934a20c05c95017d6e10ee178101910d43ec4fc3177471c191de5080331c";
    for (raw, algorithm, hex) in [
        (
            format!("lookup hash {md5}"),
            HashAlgorithm::Md5,
            md5.to_string(),
        ),
        (
            format!("what is {sha1}?"),
            HashAlgorithm::Sha1,
            sha1.to_lowercase(),
        ),
        (
            format!("is sha256:{sha256} bad"),
            HashAlgorithm::Sha256,
            sha256.to_string(),
        ),
        (
            format!("found /tmp/x_{md5}.bin"),
            HashAlgorithm::Md5,
            md5.to_string(),
        ),
    ] {
        let extraction = extract_for("hash.lookup", &raw);
        assert_eq!(
            extraction.values.get("hash"),
            Some(&SlotValue::Hash { algorithm, hex }),
            "{raw}"
        );
    }
}

#[test]
fn odd_length_hex_is_invalid_hash() {
    for length in [70, 33, 63] {
        let raw = format!(
            "is {} malicious",
            "a1".repeat(length / 2) + &"f".repeat(length % 2)
        );
        let extraction = extract_for("hash.lookup", &raw);
        assert!(extraction.values.is_empty(), "{length}");
        assert_eq!(invalid_slots(&extraction), ["hash"], "{length}");
        assert!(extraction.missing.is_empty(), "{length}");
    }
}

#[test]
fn hex_inside_a_word_is_not_a_hash() {
    let raw = format!("lookup {}g", "a".repeat(64));
    let extraction = extract_for("hash.lookup", &raw);
    assert!(extraction.values.is_empty());
    assert!(extraction.invalid.is_empty());
    assert_eq!(extraction.missing, ["hash"]);
}

// Time ranges and durations.

#[test]
fn count_is_not_a_time_range() {
    let extraction = extract_for("alerts.list", "show top 20 failed logins in last 10 days");
    assert_eq!(
        time_range(&extraction, "time_range"),
        (
            "2024-02-29T14:30:00Z".to_string(),
            "2024-03-10T14:30:00Z".to_string(),
            "last 10 days".to_string()
        )
    );
    assert_eq!(extraction.values.len(), 1, "{extraction}");
    assert!(extraction.invalid.is_empty(), "{extraction}");
}

#[test]
fn time_ranges_of_each_form_are_found() {
    for (intent, raw, start, phrase) in [
        (
            "server.logs",
            "logs for db-02 last 2 hours",
            "2024-03-10T12:30:00Z",
            "last 2 hours",
        ),
        (
            "server.logs",
            "grab the syslog from api-03 since 2am",
            "2024-03-10T02:00:00Z",
            "since 2am",
        ),
        (
            "user.activity",
            "where has jdoe logged in from past 7 days",
            "2024-03-03T14:30:00Z",
            "last 7 days",
        ),
        (
            "alerts.list",
            "alerts in the last hour",
            "2024-03-10T13:30:00Z",
            "last hour",
        ),
        (
            "deploy.history",
            "deploys yesterday",
            "2024-03-09T00:00:00Z",
            "yesterday",
        ),
        (
            "deploy.history",
            "what shipped today",
            "2024-03-10T00:00:00Z",
            "today",
        ),
        (
            "deploy.history",
            "deploys since midnight",
            "2024-03-10T00:00:00Z",
            "since midnight",
        ),
        (
            "user.activity",
            "logins for tlee last week",
            "2024-03-03T14:30:00Z",
            "last week",
        ),
    ] {
        let extraction = extract_for(intent, raw);
        let (found_start, _, found_phrase) = time_range(&extraction, "time_range");
        assert_eq!(found_start, start, "{raw}");
        assert_eq!(found_phrase, phrase, "{raw}");
    }
}

#[test]
fn line_count_is_not_a_time_range() {
    let extraction = extract_for(
        "server.logs",
        "show me the last 200 lines of syslog on web-01",
    );
    assert!(!extraction.values.contains_key("time_range"));
    assert_eq!(arg(&extraction, "host").as_deref(), Some("web-01"));
}

#[test]
fn durations_are_seconds_and_minutes_are_not_months() {
    for (raw, seconds) in [
        ("silence alerts on web-01 for 30m", 1_800),
        ("mute it for 2 hours", 7_200),
        ("silence for 1d", 86_400),
        ("snooze ALRT-1093 for 90s", 90),
        ("silence for an hour", 3_600),
        ("silence web-01 for 1h30m", 5_400),
    ] {
        let extraction = extract_for("alert.silence", raw);
        assert_eq!(
            extraction.values.get("duration"),
            Some(&SlotValue::Duration(Duration::from_secs(seconds))),
            "{raw}"
        );
    }
}

#[test]
fn spoken_and_clock_durations_are_read() {
    for (raw, seconds) in [
        ("hush ALRT-2045 for half an hour", 1_800),
        (
            "please silence alerts for db-02 for the next 2 hours",
            7_200,
        ),
        (
            "could you snooze the alerts on cache-02 until 6pm",
            3 * 3_600 + 30 * 60,
        ),
    ] {
        let extraction = extract_for("alert.silence", raw);
        assert_eq!(
            extraction.values.get("duration"),
            Some(&SlotValue::Duration(Duration::from_secs(seconds))),
            "{raw}"
        );
    }
}

#[test]
fn bare_amount_is_a_range_without_duration_slot() {
    let extraction = extract_for("server.logs", "@warroom logs web-04 haproxy 15m");
    let (start, end, phrase) = time_range(&extraction, "time_range");
    assert_eq!(start, "2024-03-10T14:15:00Z");
    assert_eq!(end, "2024-03-10T14:30:00Z");
    assert_eq!(phrase, "last 15m");
    assert_eq!(arg(&extraction, "service").as_deref(), Some("haproxy"));
}

#[test]
fn clock_window_is_a_time_range() {
    let extraction = extract_for(
        "server.logs",
        "dump the app logs from api-02 between 9 and 10am",
    );
    let (start, end, _) = time_range(&extraction, "time_range");
    assert_eq!(start, "2024-03-10T09:00:00Z");
    assert_eq!(end, "2024-03-10T10:00:00Z");

    let extraction = extract_for(
        "user.activity",
        "what did the account svc-ci do between 1 and 3am",
    );
    assert_eq!(arg(&extraction, "user").as_deref(), Some("svc-ci"));
    assert_eq!(
        time_range(&extraction, "time_range").0,
        "2024-03-10T01:00:00Z"
    );
}

#[test]
fn zero_and_absurd_durations_are_invalid() {
    for raw in ["silence for 0m", "silence for 400 days", "silence for 2y"] {
        let extraction = extract_for("alert.silence", raw);
        assert_eq!(invalid_slots(&extraction), ["duration"], "{raw}");
    }
}

#[test]
fn time_range_words_are_not_durations() {
    let extraction = extract_for("alert.silence", "silence the alerts from the last 2 hours");
    assert!(!extraction.values.contains_key("duration"));
    assert_eq!(extraction.missing, ["duration"]);
}

// Host names.

#[test]
fn hostname_trailing_dot_is_stripped() {
    let extraction = extract_for("service.status", "check ntp on srv_01.example.internal.");
    assert_eq!(arg(&extraction, "service").as_deref(), Some("ntp"));
    match extraction.values.get("host") {
        Some(SlotValue::Host(host)) => {
            assert_eq!(host.given, "srv_01.example.internal");
            assert_eq!(host.name, "srv_01");
        }
        other => panic!("expected host srv_01, got {other:?}"),
    }

    let extraction = extract_for("server.health", "web-01.example.internal.");
    assert_eq!(arg(&extraction, "host").as_deref(), Some("web-01"));
}

#[test]
fn hostname_is_never_split_at_hyphen_or_underscore() {
    let extraction = extract_for("server.health", "run a health check on k8s-node-11");
    assert_eq!(extraction.invalid[0].value, "k8s-node-11");

    let extraction = extract_for("server.health", "is srv_02 ok");
    assert_eq!(extraction.invalid[0].value, "srv_02");
    assert!(
        extraction.invalid[0]
            .message
            .contains("did you mean `srv_01`")
    );
}

#[test]
fn unknown_host_suggests_the_closest() {
    let extraction = extract_for("server.health", "what's wrong with web-99?");
    assert_eq!(extraction.invalid.len(), 1);
    assert_eq!(extraction.invalid[0].slot, "host");
    assert_eq!(
        extraction.invalid[0].message,
        "unknown host `web-99`, did you mean `web-09`?"
    );
    assert!(extraction.missing.is_empty());
}

#[test]
fn host_matches_any_case_and_fqdn() {
    for raw in [
        "is WEB-03 ok",
        "could you please check web-03.example.internal for me",
        "web-03's disk is full",
    ] {
        let extraction = extract_for("server.health", raw);
        assert_eq!(arg(&extraction, "host").as_deref(), Some("web-03"), "{raw}");
    }
}

#[test]
fn address_given_for_host_resolves_through_inventory() {
    let extraction = extract_for("server.health", "how's 10.20.4.17 doing");
    assert_eq!(arg(&extraction, "host").as_deref(), Some("app-02"));

    let extraction = extract_for("server.health", "is localhost ok");
    match extraction.values.get("host") {
        Some(SlotValue::Host(host)) => assert_eq!(host.address, Some(ip("127.0.0.1"))),
        other => panic!("expected localhost, got {other:?}"),
    }

    let extraction = extract_for("server.health", "how's 10.9.9.9 doing");
    assert_eq!(invalid_slots(&extraction), ["host"]);
    assert!(extraction.invalid[0].message.contains("`10.9.9.9`"));
}

#[test]
fn known_host_wins_over_unknown_lookalike() {
    let extraction = extract_for("patch.apply", "patch package libfoo-2 on db-01");
    assert_eq!(arg(&extraction, "host").as_deref(), Some("db-01"));
    assert_eq!(arg(&extraction, "package").as_deref(), Some("libfoo-2"));
    assert!(extraction.invalid.is_empty(), "{extraction}");
}

#[test]
fn file_names_are_not_hosts() {
    let extraction = extract_for("server.logs", "show recent auth.log entries on web-02");
    assert_eq!(arg(&extraction, "host").as_deref(), Some("web-02"));
    assert!(extraction.invalid.is_empty(), "{extraction}");
}

// Services, users, teams, packages, environments, versions, ids.

#[test]
fn service_names_are_checked_against_inventory() {
    let extraction = extract_for("service.restart", "restart nginx.service on web-02");
    assert_eq!(arg(&extraction, "service").as_deref(), Some("nginx"));
    assert_eq!(arg(&extraction, "host").as_deref(), Some("web-02"));

    let extraction = extract_for("service.status", "is the ngnix service up on web-01");
    assert_eq!(invalid_slots(&extraction), ["service"]);
    assert_eq!(
        extraction.invalid[0].message,
        "unknown service `ngnix`, did you mean `nginx`?"
    );
}

#[test]
fn users_are_found_by_account_name() {
    for (raw, expected) in [
        ("disable jdoe", "jdoe"),
        ("lock the account for bob.smith", "bob.smith"),
        ("please deactivate kpatel's account", "kpatel"),
        ("suspend svc-backup", "svc-backup"),
        ("disable user @mchen asap", "mchen"),
    ] {
        let extraction = extract_for("user.disable", raw);
        assert_eq!(arg(&extraction, "user").as_deref(), Some(expected), "{raw}");
    }
}

#[test]
fn unknown_account_shaped_user_is_invalid() {
    let extraction = extract_for("user.disable", "lock out admin@example.com now");
    assert_eq!(invalid_slots(&extraction), ["user"]);

    let extraction = extract_for("user.disable", "disable user jdoo");
    assert_eq!(
        extraction.invalid[0].message,
        "unknown user `jdoo`, did you mean `jdoe`?"
    );
}

#[test]
fn cue_word_is_a_weaker_user_guess() {
    let extraction = extract_for("user.activity", "user activity for admin@example.com");
    assert_eq!(extraction.invalid[0].value, "admin@example.com");

    let extraction = extract_for(
        "user.activity",
        "could you pull the login history for alice",
    );
    assert_eq!(arg(&extraction, "user").as_deref(), Some("alice"));
    assert!(extraction.invalid.is_empty(), "{extraction}");
}

#[test]
fn words_before_on_call_are_not_teams() {
    for raw in [
        "who's covering on-call for the data team today",
        "who's got pager duty for payments",
    ] {
        let extraction = extract_for("oncall.who", raw);
        let values: Vec<String> = extraction
            .invalid
            .iter()
            .map(|problem| problem.value.clone())
            .collect();
        assert!(!values.contains(&"covering".to_string()), "{raw}");
        assert!(!values.contains(&"got".to_string()), "{raw}");
    }
}

#[test]
fn teams_are_checked_against_inventory() {
    let extraction = extract_for("oncall.who", "who is oncall for dba");
    assert_eq!(arg(&extraction, "team").as_deref(), Some("dba"));

    let extraction = extract_for("oncall.page", "escalate to the payments on-call");
    assert_eq!(invalid_slots(&extraction), ["team"]);
    assert_eq!(
        extraction.invalid[0].message,
        "unknown team `payments`: expected one of sre, security, dba, network, platform"
    );
}

#[test]
fn page_message_after_colon_or_cue() {
    for (raw, team, message) in [
        ("page sre: db-02 is down", "sre", "db-02 is down"),
        (
            "page sre with message 'disk full on db-02'",
            "sre",
            "disk full on db-02",
        ),
        (
            "trigger pagerduty for sre with message checkout 500s",
            "sre",
            "checkout 500s",
        ),
        (
            "page the security on-call with: possible breach",
            "security",
            "possible breach",
        ),
    ] {
        let extraction = extract_for("oncall.page", raw);
        assert_eq!(arg(&extraction, "team").as_deref(), Some(team), "{raw}");
        assert_eq!(
            arg(&extraction, "message").as_deref(),
            Some(message),
            "{raw}"
        );
    }
}

#[test]
fn incident_title_and_severity() {
    let extraction = extract_for(
        "incident.declare",
        "declare an incident: db down in eu-west",
    );
    assert_eq!(
        arg(&extraction, "title").as_deref(),
        Some("db down in eu-west")
    );
    assert!(!extraction.values.contains_key("severity"));

    let extraction = extract_for(
        "incident.declare",
        "declare a sev1 incident: checkout is down",
    );
    assert_eq!(
        arg(&extraction, "title").as_deref(),
        Some("checkout is down")
    );
    assert_eq!(arg(&extraction, "severity").as_deref(), Some("critical"));

    let extraction = extract_for(
        "incident.declare",
        "open an incident called email delivery delays",
    );
    assert_eq!(
        arg(&extraction, "title").as_deref(),
        Some("email delivery delays")
    );

    let extraction = extract_for("incident.declare", "open a P2 incident");
    assert_eq!(arg(&extraction, "severity").as_deref(), Some("high"));
    assert_eq!(extraction.missing, ["title"]);
}

#[test]
fn incident_and_alert_ids_are_upper_case() {
    let extraction = extract_for("incident.resolve", "resolve inc-4821 please");
    assert_eq!(arg(&extraction, "incident_id").as_deref(), Some("INC-4821"));

    let extraction = extract_for("incident.status", "status of incident #5002?");
    assert_eq!(arg(&extraction, "incident_id").as_deref(), Some("INC-5002"));

    let extraction = extract_for("alert.explain", "explain alrt-1093");
    assert_eq!(arg(&extraction, "alert_id").as_deref(), Some("ALRT-1093"));
}

#[test]
fn rollback_reads_service_environment_and_version() {
    let extraction = extract_for(
        "deploy.rollback",
        "roll back payments-api in prod to v1.4.2",
    );
    assert_eq!(arg(&extraction, "service").as_deref(), Some("payments-api"));
    assert_eq!(
        arg(&extraction, "environment").as_deref(),
        Some("production")
    );
    assert_eq!(arg(&extraction, "version").as_deref(), Some("v1.4.2"));

    let extraction = extract_for("deploy.rollback", "rollback nginx on stage to 3f9c2a1");
    assert_eq!(arg(&extraction, "environment").as_deref(), Some("staging"));
    assert_eq!(arg(&extraction, "version").as_deref(), Some("3f9c2a1"));
}

#[test]
fn patch_reads_host_cve_and_inventory_package() {
    let extraction = extract_for("patch.apply", "patch openssl on web-01 for CVE-2022-3602");
    assert_eq!(arg(&extraction, "host").as_deref(), Some("web-01"));
    assert_eq!(arg(&extraction, "package").as_deref(), Some("openssl"));
    assert_eq!(arg(&extraction, "cve").as_deref(), Some("CVE-2022-3602"));
}

#[test]
fn help_topic_names_the_intent() {
    for (raw, topic) in [
        ("how do I restart a service?", "service.restart"),
        ("how do i block an ip with you", "ip.block"),
        ("show me usage for quarantine", "file.quarantine"),
        (
            "how do i declare an incident using the bot",
            "incident.declare",
        ),
        ("help with alerts", "alert"),
    ] {
        let extraction = extract_for("help", raw);
        assert_eq!(arg(&extraction, "topic").as_deref(), Some(topic), "{raw}");
    }
    let extraction = extract_for("help", "what can you do");
    assert!(extraction.values.is_empty());
}

#[test]
fn help_topics_name_catalog_intents_or_domains() {
    for topic in topic_names() {
        let known = CATALOG.intents().iter().any(|intent| {
            let name = intent.name.as_str();
            name == topic || name.split('.').next() == Some(topic)
        });
        assert!(
            known,
            "help topic `{topic}` names no intent or domain of the catalog"
        );
    }
}

#[test]
fn only_declared_slot_types_are_extracted() {
    let extraction = extract_for(
        "server.health",
        "is web-01 ok since CVE-2021-44228 last 2 hours",
    );
    assert_eq!(extraction.values.keys().collect::<Vec<_>>(), ["host"]);
}

// Command injection.

#[test]
fn page_message_with_shell_syntax_is_literal() {
    let extraction = extract_for(
        "oncall.page",
        "page the on-call team with message '`uptime` $(id); rm -rf /tmp/x'",
    );
    assert_eq!(
        arg(&extraction, "message").as_deref(),
        Some("`uptime` $(id); rm -rf /tmp/x")
    );
    assert!(extraction.invalid.is_empty(), "{extraction}");

    let extraction = extract_for(
        "incident.declare",
        "declare an incident: db down && rm -rf / | sh",
    );
    assert_eq!(
        arg(&extraction, "title").as_deref(),
        Some("db down && rm -rf / | sh")
    );
}

#[test]
fn names_wrapped_in_shell_syntax_are_rejected() {
    for (intent, raw, slot) in [
        (
            "service.restart",
            "restart nginx;reboot on web-01",
            "service",
        ),
        ("service.restart", "restart nginx on web-01;id", "host"),
        ("service.restart", "restart nginx on $(web-01)", "host"),
        ("server.health", "check web-01&&reboot", "host"),
        ("server.health", "check web-01|sh", "host"),
        ("user.disable", "disable jdoe$(id)", "user"),
        ("oncall.who", "who is on call for sre;id", "team"),
        (
            "deploy.rollback",
            "rollback nginx to v1.2;reboot",
            "version",
        ),
    ] {
        let extraction = extract_for(intent, raw);
        assert!(!extraction.values.contains_key(slot), "{raw}: {extraction}");
        assert!(
            invalid_slots(&extraction).contains(&slot),
            "{raw}: {extraction}"
        );
    }
}

#[test]
fn answers_with_shell_syntax_are_rejected() {
    let cases = [
        (SlotKind::Host, "web-01; rm -rf /"),
        (SlotKind::Host, "$(id)"),
        (SlotKind::Host, "-oProxyCommand=sh"),
        (SlotKind::Host, "web-01\nreboot"),
        (SlotKind::User, "jdoe && id"),
        (SlotKind::Service, "nginx|sh"),
        (SlotKind::Team, "sre;id"),
        (SlotKind::Package, "openssl$(id)"),
        (SlotKind::Version, "v1.2 && id"),
        (SlotKind::Environment, "prod id"),
    ];
    for (kind, answer) in cases {
        let result = parse_answer(&spec("slot", kind), answer, &INVENTORY, &now());
        assert!(
            matches!(result, Err(SlotError::UnsafeCharacters { .. })),
            "{kind} `{answer}`: {result:?}"
        );
    }
}

// Answers to questions.

#[test]
fn answers_are_parsed_as_the_slot_type() {
    let cases = [
        (SlotKind::Host, "web-01", "web-01"),
        (SlotKind::Host, "`db-02.prod.example.internal.`", "db-02"),
        (SlotKind::User, "<@U024BE7LH|alice>", "alice"),
        (SlotKind::User, "bob.smith", "bob.smith"),
        (SlotKind::Duration, "for 2 hours", "7200"),
        (
            SlotKind::TimeRange,
            "last 2 hours",
            "2024-03-10T12:30:00Z/2024-03-10T14:30:00Z",
        ),
        (SlotKind::Severity, "sev 2", "high"),
        (SlotKind::Cidr, "198.51.100.0/24", "198.51.100.0/24"),
        (SlotKind::Cve, "cve-2019-11510.", "CVE-2019-11510"),
        (SlotKind::Team, "SRE", "sre"),
        (SlotKind::Environment, "prod", "production"),
        (SlotKind::Text, "'disk full on db-02'", "disk full on db-02"),
        (
            SlotKind::Text,
            "`uptime` hangs &amp; $(id)",
            "`uptime` hangs & $(id)",
        ),
        (SlotKind::Topic, "restarting services", "service.restart"),
        (
            SlotKind::Url,
            "<http://example.org|example.org>",
            "example.org",
        ),
    ];
    for (kind, answer, expected) in cases {
        let value = parse_answer(&spec("slot", kind), answer, &INVENTORY, &now())
            .unwrap_or_else(|error| panic!("{kind} `{answer}`: {error}"));
        assert_eq!(value.to_arg(), expected, "{kind} `{answer}`");
    }
}

#[test]
fn answer_with_extra_words_is_rejected() {
    let result = parse_answer(
        &spec("host", SlotKind::Host),
        "web-01 please",
        &INVENTORY,
        &now(),
    );
    assert!(
        matches!(result, Err(SlotError::UnsafeCharacters { found: " ", .. })),
        "{result:?}"
    );
}

#[test]
fn unknown_answer_suggests_the_closest() {
    let error =
        parse_answer(&spec("host", SlotKind::Host), "web-99", &INVENTORY, &now()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown host `web-99`, did you mean `web-09`?"
    );
}

// Secrets.

#[test]
fn secret_slot_is_masked_in_display_and_problems() {
    let mut secret = spec("token", SlotKind::Text);
    secret.secret = true;
    let intent = intent_with(vec![secret.clone()]);
    let message = normalise("set the token: hunter2-very-secret");
    let extraction = extract(&intent, &message, &INVENTORY, &now());

    assert_eq!(
        arg(&extraction, "token").as_deref(),
        Some("hunter2-very-secret")
    );
    assert_eq!(extraction.shown("token").as_deref(), Some(MASK));
    assert!(!extraction.to_string().contains("hunter2"));
    assert!(!format!("{extraction:?}").contains("hunter2"));
    assert_eq!(extraction.to_masked_json()["token"], MASK);

    let mut secret_host = spec("host", SlotKind::Host);
    secret_host.secret = true;
    let intent = intent_with(vec![secret_host]);
    let extraction = extract(&intent, &normalise("check web-99"), &INVENTORY, &now());
    assert_eq!(extraction.invalid[0].value, MASK);
    assert!(
        !extraction.invalid[0].message.contains("web-99"),
        "{}",
        extraction.invalid[0].message
    );
}
