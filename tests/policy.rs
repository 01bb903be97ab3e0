//! The access policy: validation fixtures, the shipped `policy.toml`, and
//! the decisions it makes for the demo users.

use std::path::{Path, PathBuf};
use std::process::Command;

use warroom::intent::{Catalog, Intent, Risk};
use warroom::inventory::UserId;
use warroom::normalise::ChannelId;
use warroom::policy::{Denial, Policy, PolicyError, PolicyProblem, Role};

const ALICE: &str = "U024BE7LH";
const TLEE: &str = "U06TLEE77";
const JDOE: &str = "U01JDOE42";
const MCHEN: &str = "U03MCHEN1";
const SVC_DEPLOY: &str = "U0CSVCDEP";

fn catalog() -> Catalog {
    Catalog::load(&root().join("intents")).expect("shipped intents load")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/policy").join(name)
}

fn shipped() -> (Policy, Catalog) {
    let catalog = catalog();
    let policy =
        Policy::load(&root().join("policy.toml"), &catalog).expect("shipped policy is valid");
    (policy, catalog)
}

fn problems(name: &str) -> Vec<PolicyProblem> {
    match Policy::load(&fixture(name), &catalog()) {
        Ok(_) => Vec::new(),
        Err(PolicyError::Invalid { problems, .. }) => problems,
        Err(error) => panic!("{name}: {error}"),
    }
}

fn intent<'c>(catalog: &'c Catalog, name: &str) -> &'c Intent {
    catalog
        .get(name)
        .unwrap_or_else(|| panic!("intent `{name}` is shipped"))
}

fn user(id: &str) -> UserId {
    UserId::new(id)
}

fn channel(id: &str) -> ChannelId {
    ChannelId::new(id)
}

/// Each invalid fixture, the field its one problem names (`None` for a
/// problem of the whole file), and a part of the message.
const INVALID_FIXTURES: [(&str, Option<&str>, &str); 14] = [
    (
        "display_name_user.toml",
        Some("users.alice"),
        "`alice` is not a Slack user id; use the immutable id",
    ),
    (
        "unknown_role.toml",
        Some("users.U01JDOE42"),
        "unknown role `superuser`; expected one of admin, viewer",
    ),
    (
        "unknown_intent.toml",
        Some("intents.\"service.restrat\""),
        "unknown intent `service.restrat`, did you mean `service.restart`?",
    ),
    ("unknown_field.toml", None, "unknown field `user`"),
    (
        "channel_name.toml",
        Some("channels.general"),
        "`general` is not a Slack channel id",
    ),
    (
        "channel_unknown_intent.toml",
        Some("channels.C0GENERAL"),
        "unknown intent `incidents.list`, did you mean `incident.list`?",
    ),
    (
        "no_approvers.toml",
        Some("approvers"),
        "no approver role, so the critical intents",
    ),
    (
        "nobody_approves.toml",
        Some("approvers"),
        "no user holds an approver role",
    ),
    (
        "group_display_name.toml",
        Some("groups.sre.members"),
        "`tlee` is not a Slack user id",
    ),
    (
        "duplicate_role.toml",
        Some("users.U01JDOE42"),
        "role `viewer` is listed twice",
    ),
    (
        "unknown_tier_role.toml",
        Some("risk.change"),
        "unknown role `operators`",
    ),
    (
        "unknown_tier.toml",
        None,
        "unknown field `write`, expected one of `read`, `change`, `critical`",
    ),
    (
        "user_without_roles.toml",
        Some("users.U01JDOE42"),
        "no roles: give the user a role or remove the entry",
    ),
    ("no_roles.toml", Some("roles"), "no roles defined"),
];

#[test]
fn each_invalid_fixture_gives_its_one_problem() {
    for (name, field, message) in INVALID_FIXTURES {
        let problems = problems(name);
        assert_eq!(problems.len(), 1, "{name}: {problems:#?}");
        let problem = &problems[0];
        assert_eq!(problem.file, fixture(name), "{name}");
        assert_eq!(problem.field.as_deref(), field, "{name}: {problem}");
        assert!(problem.message.contains(message), "{name}: {problem}");
    }
}

#[test]
fn toml_problem_names_its_line() {
    let problems = problems("unknown_field.toml");
    assert!(
        problems[0].message.starts_with("invalid TOML at line 17:"),
        "{}",
        problems[0]
    );
}

#[test]
fn valid_fixture_has_no_problem() {
    assert_eq!(problems("valid.toml"), Vec::new());
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let problems = problems("several_problems.toml");
    let fields: Vec<Option<&str>> = problems
        .iter()
        .map(|problem| problem.field.as_deref())
        .collect();
    assert_eq!(
        fields,
        [
            Some("users.U01JDOE42"),
            Some("users.alice"),
            Some("channels.general")
        ],
        "{problems:#?}"
    );
}

#[test]
fn invalid_policy_error_lists_file_field_and_message() {
    let error = Policy::load(&fixture("several_problems.toml"), &catalog()).unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("3 problem(s) in policy file"), "{text}");
    let line = format!(
        "{}: field `users.U01JDOE42`: unknown role `superuser`",
        fixture("several_problems.toml").display()
    );
    assert!(text.contains(&line), "{text}");
}

#[test]
fn missing_policy_file_is_a_read_error() {
    let error = Policy::load(&fixture("no_such_policy.toml"), &catalog()).unwrap_err();
    assert!(matches!(error, PolicyError::Read { .. }), "{error}");
}

#[test]
fn shipped_policy_has_two_approvers_at_least() {
    let (policy, _) = shipped();
    let approvers = policy.approvers();
    assert!(approvers.len() >= 2, "{approvers:?}");
    assert!(approvers.contains(&user(ALICE)));
    assert!(approvers.contains(&user(TLEE)));
    let roles: Vec<&str> = policy.roles().map(|(role, _)| role.as_str()).collect();
    assert_eq!(roles, ["admin", "operator", "responder", "viewer"]);
}

#[test]
fn roles_come_from_users_and_groups() {
    let (policy, _) = shipped();
    assert_eq!(
        policy.roles_of(&user(ALICE)),
        [Role::new("admin"), Role::new("operator")]
    );
    assert_eq!(
        policy.roles_of(&user(TLEE)),
        [Role::new("operator"), Role::new("responder")]
    );
    assert_eq!(policy.roles_of(&user(JDOE)), [Role::new("viewer")]);
    assert!(policy.roles_of(&user(SVC_DEPLOY)).is_empty());
}

#[test]
fn unknown_user_is_denied_everything() {
    let (policy, catalog) = shipped();
    let here = channel("C0SECOPS");
    for intent in catalog.intents() {
        let denial = policy
            .authorize(&user(SVC_DEPLOY), &here, intent)
            .unwrap_err();
        assert_eq!(
            denial,
            Denial::UnknownUser {
                user: user(SVC_DEPLOY)
            },
            "{}",
            intent.name
        );
    }
    assert!(
        policy
            .permitted(&user(SVC_DEPLOY), &here, &catalog)
            .is_empty()
    );
}

#[test]
fn viewer_reads_but_cannot_change() {
    let (policy, catalog) = shipped();
    let here = channel("C0SECOPS");
    assert_eq!(
        policy.authorize(&user(JDOE), &here, intent(&catalog, "server.health")),
        Ok(())
    );

    let denial = policy
        .authorize(&user(JDOE), &here, intent(&catalog, "service.restart"))
        .unwrap_err();
    assert_eq!(
        denial.to_string(),
        "`service.restart` needs role admin, operator or responder; you have viewer"
    );
    let permitted = policy.permitted(&user(JDOE), &here, &catalog);
    assert!(permitted.iter().all(|intent| intent.risk == Risk::Read
        || ["incident.declare", "oncall.page"].contains(&intent.name.as_str())));
}

#[test]
fn intent_roles_replace_tier_roles() {
    let (policy, catalog) = shipped();
    let here = channel("C0SECOPS");
    let disable = intent(&catalog, "user.disable");
    assert_eq!(policy.authorize(&user(ALICE), &here, disable), Ok(()));
    assert!(matches!(
        policy.authorize(&user(TLEE), &here, disable),
        Err(Denial::MissingRole { .. })
    ));
    let declare = intent(&catalog, "incident.declare");
    assert_eq!(policy.authorize(&user(JDOE), &here, declare), Ok(()));
}

#[test]
fn restricted_channel_allows_only_its_intents() {
    let (policy, catalog) = shipped();
    let general = channel("C0GENERAL");
    assert_eq!(
        policy.authorize(&user(ALICE), &general, intent(&catalog, "incident.list")),
        Ok(())
    );
    let denial = policy
        .authorize(&user(ALICE), &general, intent(&catalog, "service.restart"))
        .unwrap_err();
    assert!(
        matches!(denial, Denial::ChannelRestricted { .. }),
        "{denial}"
    );
    assert!(
        denial
            .to_string()
            .contains("not allowed in channel `C0GENERAL`"),
        "{denial}"
    );
}

#[test]
fn approval_needs_a_second_approver() {
    let (policy, catalog) = shipped();
    let here = channel("C0SECOPS");
    let block = intent(&catalog, "ip.block");

    let own = policy
        .authorize_approval(&user(TLEE), &user(TLEE), &here, block)
        .unwrap_err();
    assert!(matches!(own, Denial::SelfApproval { .. }), "{own}");
    let viewer = policy
        .authorize_approval(&user(JDOE), &user(TLEE), &here, block)
        .unwrap_err();
    assert!(matches!(viewer, Denial::NotApprover { .. }), "{viewer}");
    assert_eq!(
        policy.authorize_approval(&user(MCHEN), &user(TLEE), &here, block),
        Ok(())
    );
}

#[test]
fn invalid_policy_stops_chat_with_every_problem() {
    let output = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .current_dir(root())
        .args(["chat", "--user", ALICE, "--policy"])
        .arg(fixture("several_problems.toml"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the warroom binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to start: the access policy is invalid"),
        "{stderr}"
    );
    for field in ["users.alice", "users.U01JDOE42", "channels.general"] {
        assert!(
            stderr.contains(&format!("field `{field}`")),
            "{field}: {stderr}"
        );
    }
    assert!(output.stdout.is_empty(), "the bot answered messages");
}

#[test]
fn fixtures_directory_has_no_untested_file() {
    let tested: Vec<&str> = INVALID_FIXTURES
        .iter()
        .map(|(name, _, _)| *name)
        .chain(["valid.toml", "several_problems.toml"])
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            tested.contains(&name.as_str()),
            "fixture `{name}` is not tested"
        );
    }
}
