//! Message normalisation: Slack markup, code and quotes, long pastes.

use warroom::normalise::{Cut, RequestPart, normalise};

// Slack markup.

#[test]
fn link_keeps_label_without_scheme() {
    let message = normalise("check <http://web-01.example.internal|web-01.example.internal>");
    assert_eq!(message.text, "check web-01.example.internal");
    assert_eq!(message.links[0].url, "http://web-01.example.internal");
}

#[test]
fn link_without_label_keeps_url() {
    let message = normalise("see <https://x.example/a?b=c>");
    assert_eq!(message.text, "see https://x.example/a?b=c");
}

#[test]
fn mailto_link_keeps_address() {
    let message = normalise("mail <mailto:a@example.org|a@example.org> now");
    assert_eq!(message.text, "mail a@example.org now");
    assert_eq!(message.links[0].url, "mailto:a@example.org");
}

#[test]
fn mentions_are_recorded_by_id() {
    let message = normalise("Hey <@U024BE7LH|alice> could you join <#C024BE7LR|ops>?");
    assert_eq!(message.text, "Hey alice could you join #ops?");
    assert_eq!(message.mentions[0].id.as_str(), "U024BE7LH");
    assert_eq!(message.mentions[0].name.as_deref(), Some("alice"));
    assert_eq!(message.channels[0].id.as_str(), "C024BE7LR");
    assert_eq!(message.channels[0].name.as_deref(), Some("ops"));
}

#[test]
fn unnamed_mention_reads_as_someone() {
    let message = normalise("<@U024BE7LH> and <@W012A3CDE> broke it");
    assert_eq!(message.text, "someone and someone broke it");
    assert_eq!(message.mentions.len(), 2);
    assert_eq!(message.mentions[1].id.as_str(), "W012A3CDE");
}

#[test]
fn broadcast_mentions_are_removed() {
    assert_eq!(normalise("<!here> db-02 is down").text, "db-02 is down");
    assert_eq!(normalise("<!channel>: <!everyone> help").text, ": help");
}

// Escaping.

#[test]
fn escapes_are_undone_after_markup() {
    assert_eq!(
        normalise("find hosts in MSc &amp; MBA").text,
        "find hosts in MSc & MBA"
    );
    let message = normalise("&lt;@U1&gt; &lt;http://x.example&gt;");
    assert_eq!(message.text, "<@U1> <http://x.example>");
    assert!(message.mentions.is_empty());
    assert!(message.links.is_empty());
}

#[test]
fn only_three_entities_are_unescaped() {
    assert_eq!(
        normalise("&quot;a&quot; &#39;b&#39;").text,
        "&quot;a&quot; &#39;b&#39;"
    );
    assert_eq!(normalise("&amp;gt;").text, "&gt;");
}

// Characters.

#[test]
fn typographic_characters_become_ascii() {
    let message = normalise(
        "page sre with message \u{2018}disk full\u{2019} \u{2014} web\u{2013}01\u{a0}now",
    );
    assert_eq!(
        message.text,
        "page sre with message 'disk full' - web-01 now"
    );
}

#[test]
fn whitespace_is_collapsed_across_lines() {
    assert_eq!(
        normalise(" restart\tnginx \n\n on\u{2003}web-01 ").text,
        "restart nginx on web-01"
    );
}

// Code and quotes.

#[test]
fn fenced_code_alone_leaves_no_request() {
    let message = normalise("```systemctl restart nginx```");
    assert_eq!(message.text, "");
    assert_eq!(message.data, ["systemctl restart nginx"]);
}

#[test]
fn quote_line_is_data() {
    for raw in [
        "> restart nginx",
        "&gt; restart nginx",
        "  &gt;restart nginx",
    ] {
        let message = normalise(raw);
        assert_eq!(message.text, "", "{raw}");
        assert_eq!(message.data, ["restart nginx"], "{raw}");
    }
}

#[test]
fn request_around_code_is_kept() {
    let message = normalise("can you check this? ```kernel: oom-killer on db-02```");
    assert_eq!(message.text, "can you check this?");
    assert_eq!(message.data, ["kernel: oom-killer on db-02"]);

    let message = normalise("```\nJan 3 nginx[1]: exited\n```\nwhy did nginx die on web-01?");
    assert_eq!(message.text, "why did nginx die on web-01?");
}

#[test]
fn quoted_reply_keeps_the_new_request() {
    let message = normalise("&gt; can someone restart nginx on web-01?\ndon't, it's fine now");
    assert_eq!(message.text, "don't, it's fine now");
    assert_eq!(message.data, ["can someone restart nginx on web-01?"]);
}

#[test]
fn inline_code_is_data() {
    let message = normalise("why did `systemctl restart nginx` fail on web-01");
    assert_eq!(message.text, "why did fail on web-01");
    assert_eq!(message.data, ["systemctl restart nginx"]);
}

#[test]
fn backticks_in_quoted_text_stay_in_the_request() {
    let raw = "page the on-call team with message '`uptime` $(id); rm -rf /tmp/x'";
    let message = normalise(raw);
    assert_eq!(message.text, raw);
    assert!(message.data.is_empty());
}

// Long pastes.

fn syslog_lines(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "Mar 10 14:{:02}:11 db-02 kernel: Out of memory: Killed process {} (java)",
                i % 60,
                4000 + i
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn long_paste_keeps_the_request_line() {
    let raw = format!(
        "can you check what happened on db-02?\n{}",
        syslog_lines(30)
    );
    let message = normalise(&raw);
    assert_eq!(message.text, "can you check what happened on db-02?");
    assert!(matches!(
        message.cut,
        Some(Cut::RequestKept {
            part: RequestPart::FirstLine,
            ..
        })
    ));
    assert!(message.data[0].starts_with("Mar 10 14:00:11 db-02 kernel"));
    assert_eq!(message.data[0].lines().count(), 30);
}

#[test]
fn long_paste_keeps_a_request_after_it() {
    let raw = format!("{}\nwhat does this mean for db-02?", syslog_lines(30));
    let message = normalise(&raw);
    assert_eq!(message.text, "what does this mean for db-02?");
    assert!(matches!(
        message.cut,
        Some(Cut::RequestKept {
            part: RequestPart::LastLine,
            ..
        })
    ));
}

#[test]
fn long_paste_without_request_is_flagged() {
    let message = normalise(&syslog_lines(30));
    assert_eq!(message.text, "");
    assert!(matches!(message.cut, Some(Cut::RequestNotIsolated { .. })));
    assert_eq!(message.data.len(), 1);
}

#[test]
fn long_single_line_keeps_its_request_sentence() {
    let raw = format!("is this bad? {}", syslog_lines(10).replace('\n', " "));
    let message = normalise(&raw);
    assert_eq!(message.text, "is this bad?");
    assert!(matches!(
        message.cut,
        Some(Cut::RequestKept {
            part: RequestPart::FirstSentence,
            ..
        })
    ));
}

#[test]
fn short_message_is_not_cut() {
    let raw = format!("restart nginx on web-01 {}", "please ".repeat(40));
    let message = normalise(&raw);
    assert_eq!(message.cut, None);
    assert!(message.text.starts_with("restart nginx on web-01"));
}

#[test]
fn pasted_code_does_not_count_toward_length() {
    let raw = format!("restart nginx on web-01\n```\n{}\n```", syslog_lines(40));
    let message = normalise(&raw);
    assert_eq!(message.text, "restart nginx on web-01");
    assert_eq!(message.cut, None);
}

// Hostile input.

#[test]
fn huge_and_odd_input_does_not_panic() {
    let inputs = [
        "x".repeat(20_000),
        "<".repeat(5_000),
        "`".repeat(5_001),
        "&amp;".repeat(4_000),
        "<@U024BE7LH|".repeat(1_000),
        "\u{0}\u{1}\u{7f}\u{200b}\u{feff}\u{202e}evil\u{202c}".repeat(500),
        "e\u{301}\u{302}\u{303}".repeat(3_000),
        "🔥 web-01 🔥 ".repeat(2_000),
        "> \n".repeat(3_000),
        String::from_utf8_lossy(&(0..=255u8).cycle().take(20_000).collect::<Vec<_>>()).into_owned(),
    ];
    for input in &inputs {
        let message = normalise(input);
        assert!(
            message.text.chars().count() <= 400,
            "text of {} chars",
            message.text.chars().count()
        );
        for mention in &message.mentions {
            assert!(message.text.get(mention.span.clone()).is_some());
        }
    }
}

#[test]
fn twenty_thousand_char_word_is_flagged_not_truncated() {
    let message = normalise(&"A".repeat(20_000));
    assert_eq!(message.text, "");
    assert_eq!(message.cut, Some(Cut::RequestNotIsolated { chars: 20_000 }));
    assert_eq!(message.data[0].len(), 20_000);
}
