//! Long pastes: a message much longer than any request is cut to the line
//! or sentence that contains the request, and the rest becomes data,
//! instead of being truncated silently at the model's sequence length.

use super::markup;
use super::{Cut, RequestPart};

/// The request lines to keep and the lines moved to data.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Shortened {
    /// Lines of the request, still with Slack markup.
    pub kept: Vec<String>,
    /// Lines moved to data, still with Slack markup.
    pub moved: Vec<String>,
    pub cut: Option<Cut>,
}

/// Maximum length, in characters, of request text taken whole. Requests in
/// the intent catalog and the training data are at most 112 characters, so
/// a longer text almost always contains a paste. The model reads at most 256
/// word pieces. Syslog and application log lines split into one piece per
/// 2.2 to 2.7 characters with the model's vocabulary, so 400 characters of
/// them (about 185 pieces) fit, while a line of hex digests, at one piece
/// per 1.5 characters, may not.
pub(super) const MAX_TEXT_CHARS: usize = 400;

/// Maximum length, in characters, of the line or sentence kept as the
/// request of a long message: nearly twice the longest exemplar.
pub(super) const MAX_REQUEST_CHARS: usize = 200;

/// Minimum share of letters among the non-space characters of a request,
/// in tenths. Log lines full of numbers, addresses and punctuation fall
/// below it, while `is 10.20.4.17 up and healthy?` (56%) stays above.
const MIN_LETTER_TENTHS: usize = 5;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Keeps all lines when together they are short. Otherwise keeps the first
/// of these that looks like a request: the first line, the last line, the
/// first sentence, the last sentence.
pub(super) fn shorten(lines: &[&str]) -> Shortened {
    let total: usize =
        lines.iter().map(|line| visible_chars(line)).sum::<usize>() + lines.len().saturating_sub(1);
    if total <= MAX_TEXT_CHARS {
        return Shortened {
            kept: lines.iter().map(|line| line.to_string()).collect(),
            ..Shortened::default()
        };
    }

    if let [first, middle @ .., last] = lines {
        if is_request(first) {
            let moved: Vec<&str> = middle.iter().copied().chain([*last]).collect();
            return keep(first, &moved, RequestPart::FirstLine);
        }
        if is_request(last) {
            let moved: Vec<&str> = [*first].into_iter().chain(middle.iter().copied()).collect();
            return keep(last, &moved, RequestPart::LastLine);
        }
    } else if let [line] = lines
        && let Some(boundaries) = sentence_boundaries(line)
    {
        let (first, rest) = line.split_at(boundaries.first);
        if is_request(first) {
            return keep(first, &[rest], RequestPart::FirstSentence);
        }
        let (before, last) = line.split_at(boundaries.last);
        if is_request(last) {
            return keep(last, &[before], RequestPart::LastSentence);
        }
    }

    Shortened {
        kept: Vec::new(),
        moved: lines.iter().map(|line| line.to_string()).collect(),
        cut: Some(Cut::RequestNotIsolated { chars: total }),
    }
}

fn keep(request: &str, moved: &[&str], part: RequestPart) -> Shortened {
    let moved: Vec<String> = moved
        .iter()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    let moved_chars = moved.iter().map(|line| visible_chars(line)).sum();
    Shortened {
        kept: vec![request.trim().to_string()],
        moved,
        cut: Some(Cut::RequestKept { part, moved_chars }),
    }
}

/// Returns the length of a line in the model text: markup resolved,
/// whitespace collapsed.
fn visible_chars(line: &str) -> usize {
    let plain = markup::render_plain(line);
    let words = plain.split_whitespace();
    let (count, chars) = words.fold((0_usize, 0_usize), |(count, chars), word| {
        (count + 1, chars + word.chars().count())
    });
    chars + count.saturating_sub(1)
}

fn is_request(line: &str) -> bool {
    visible_chars(line) <= MAX_REQUEST_CHARS && looks_like_request(&markup::render_plain(line))
}

/// Checks whether a line reads as a person's request rather than pasted output:
/// two or more words, mostly letters, and no timestamp, bracket or counter
/// at its start.
fn looks_like_request(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [first, second, ..] = words.as_slice() else {
        return false;
    };

    let non_space = line.chars().filter(|c| !c.is_whitespace()).count();
    let letters = line.chars().filter(|c| c.is_alphabetic()).count();
    if letters * 10 < non_space * MIN_LETTER_TENTHS {
        return false;
    }

    let starts_like_log = first.starts_with(['[', '{', '<', '(', '|'])
        || is_date_or_time(first)
        || (first.len() >= 3 && first.chars().all(|c| c.is_ascii_digit()))
        || (MONTHS.contains(&first.to_ascii_lowercase().as_str())
            && second.chars().all(|c| c.is_ascii_digit()));
    !starts_like_log
}

/// Checks whether a word starts with `YYYY-MM-DD` or `H:MM`.
fn is_date_or_time(word: &str) -> bool {
    let bytes = word.as_bytes();
    let digit = |index: usize| bytes.get(index).is_some_and(u8::is_ascii_digit);
    let at = |index: usize, byte: u8| bytes.get(index) == Some(&byte);

    let date = (0..4).all(digit) && at(4, b'-') && digit(5) && digit(6) && at(7, b'-');
    let short_time = digit(0) && at(1, b':') && digit(2) && digit(3);
    let long_time = digit(0) && digit(1) && at(2, b':') && digit(3) && digit(4);
    date || short_time || long_time
}

/// Byte offsets that end the first sentence and start the last one.
struct Boundaries {
    first: usize,
    last: usize,
}

/// Finds the sentence ends of a line: `.`, `?`, `!` or `:` followed by
/// whitespace, outside `<…>` markup. Returns `None` for a single sentence.
fn sentence_boundaries(line: &str) -> Option<Boundaries> {
    let mut ends = Vec::new();
    let mut inside_markup = false;
    let mut chars = line.char_indices().peekable();

    while let Some((index, c)) = chars.next() {
        match c {
            '<' => inside_markup = true,
            '>' => inside_markup = false,
            '.' | '?' | '!' | ':'
                if !inside_markup && chars.peek().is_some_and(|(_, next)| next.is_whitespace()) =>
            {
                ends.push(index + 1);
            }
            _ => {}
        }
    }
    let ends: Vec<usize> = ends
        .into_iter()
        .filter(|&end| !line[end..].trim().is_empty())
        .collect();

    Some(Boundaries {
        first: *ends.first()?,
        last: *ends.last()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_lines(count: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                format!(
                    "2024-03-0{} 10:0{}:11 db-02 kernel: oom-killer pid={}",
                    i % 9 + 1,
                    i % 10,
                    4000 + i
                )
            })
            .collect()
    }

    #[test]
    fn short_text_is_kept_whole() {
        let shortened = shorten(&["restart nginx", "on web-01"]);
        assert_eq!(shortened.kept, ["restart nginx", "on web-01"]);
        assert_eq!(shortened.cut, None);
    }

    #[test]
    fn request_before_a_paste_is_kept() {
        let logs = log_lines(12);
        let mut lines = vec!["can you check what happened on db-02?"];
        lines.extend(logs.iter().map(String::as_str));
        let shortened = shorten(&lines);
        assert_eq!(shortened.kept, ["can you check what happened on db-02?"]);
        assert_eq!(shortened.moved.len(), 12);
        assert!(matches!(
            shortened.cut,
            Some(Cut::RequestKept {
                part: RequestPart::FirstLine,
                ..
            })
        ));
    }

    #[test]
    fn request_after_a_paste_is_kept() {
        let logs = log_lines(12);
        let mut lines: Vec<&str> = logs.iter().map(String::as_str).collect();
        lines.push("what does this mean for db-02?");
        let shortened = shorten(&lines);
        assert_eq!(shortened.kept, ["what does this mean for db-02?"]);
        assert!(matches!(
            shortened.cut,
            Some(Cut::RequestKept {
                part: RequestPart::LastLine,
                ..
            })
        ));
    }

    #[test]
    fn request_sentence_of_one_long_line_is_kept() {
        let line = format!("is this bad? {}", log_lines(8).join(" "));
        let shortened = shorten(&[&line]);
        assert_eq!(shortened.kept, ["is this bad?"]);
        assert!(matches!(
            shortened.cut,
            Some(Cut::RequestKept {
                part: RequestPart::FirstSentence,
                ..
            })
        ));
    }

    #[test]
    fn paste_without_request_is_not_isolated() {
        let logs = log_lines(20);
        let lines: Vec<&str> = logs.iter().map(String::as_str).collect();
        let shortened = shorten(&lines);
        assert!(shortened.kept.is_empty());
        assert_eq!(shortened.moved.len(), 20);
        assert!(matches!(
            shortened.cut,
            Some(Cut::RequestNotIsolated { .. })
        ));
    }

    #[test]
    fn one_huge_word_is_not_isolated() {
        let junk = "x".repeat(20_000);
        let shortened = shorten(&[&junk]);
        assert!(shortened.kept.is_empty());
        assert_eq!(
            shortened.cut,
            Some(Cut::RequestNotIsolated { chars: 20_000 })
        );
    }

    #[test]
    fn log_lines_do_not_look_like_requests() {
        assert!(!looks_like_request("2024-03-01 10:00:11 db-02 kernel: oom"));
        assert!(!looks_like_request(
            "Mar 3 10:00:11 db-02 sshd[441]: Failed password"
        ));
        assert!(!looks_like_request("[error] 4411#0: upstream timed out"));
        assert!(!looks_like_request("10.20.1.11 - - 200 512 0.001"));
        assert!(looks_like_request("is 10.20.4.17 up and healthy?"));
        assert!(looks_like_request("why is web-03 so slow"));
        assert!(!looks_like_request("help"));
    }
}
