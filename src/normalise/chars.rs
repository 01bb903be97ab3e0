//! Character clean-up: the typographic variants that chat clients and
//! phones produce, mapped to the ASCII forms that slot syntax uses.

/// Maps curly quotes to straight ones, dashes and minus signs to `-`,
/// unicode spaces to a space and line separators to `\n`, and drops
/// zero-width and control characters. Line breaks are kept, because
/// quotes and long pastes are found line by line.
pub(super) fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                // `\r\n` is one line break, and a lone `\r` is one too.
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{ff07}' => {
                out.push('\'')
            }
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' | '\u{ff02}' => {
                out.push('"')
            }
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' => {
                out.push('-')
            }
            // Zero-width characters, and bidirectional controls that can
            // make text display in a different order than it is read.
            '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{00ad}' => {}
            c if c.is_whitespace() => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curly_quotes_become_straight() {
        assert_eq!(clean("\u{2018}a\u{2019} \u{201c}b\u{201d}"), "'a' \"b\"");
    }

    #[test]
    fn dashes_become_hyphens() {
        assert_eq!(
            clean("web\u{2013}01 \u{2014} db\u{2212}02"),
            "web-01 - db-02"
        );
    }

    #[test]
    fn unicode_spaces_become_spaces() {
        assert_eq!(clean("a\u{a0}b\u{2009}c\u{3000}d\tx"), "a b c d x");
    }

    #[test]
    fn line_breaks_are_unified() {
        assert_eq!(clean("a\r\nb\rc\u{2028}d"), "a\nb\nc\nd");
    }

    #[test]
    fn invisible_and_control_characters_are_dropped_or_spaced() {
        assert_eq!(clean("web\u{200b}-01"), "web-01");
        assert_eq!(clean("\u{feff}help"), "help");
        assert_eq!(clean("a\u{0}b\u{7f}c"), "a b c");
        assert_eq!(clean("\u{202e}evil\u{202c}"), "evil");
    }
}
