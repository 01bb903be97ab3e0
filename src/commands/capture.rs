//! Reading a child's output stream up to a byte limit while draining the rest.

use std::io::{self, Read};

/// Bytes kept from one output stream, and how many more were discarded.
#[derive(Debug, Default)]
pub(super) struct Captured {
    pub kept: Vec<u8>,
    pub dropped: u64,
}

/// Size of one read from a pipe; a Linux pipe buffers 64 KiB by default.
const CHUNK: usize = 8 * 1024;

/// Reads `reader` to its end, keeping the first `limit` bytes and counting
/// the rest. It keeps reading past the limit, so a chatty child does not
/// stall on a full pipe.
pub(super) fn read_limited(mut reader: impl Read, limit: usize) -> io::Result<Captured> {
    let mut captured = Captured::default();
    let mut buffer = [0u8; CHUNK];
    loop {
        let count = match reader.read(&mut buffer) {
            Ok(0) => return Ok(captured),
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let room = limit.saturating_sub(captured.kept.len());
        let keep = count.min(room);
        captured.kept.extend_from_slice(&buffer[..keep]);
        captured.dropped += (count - keep) as u64;
    }
}

impl Captured {
    /// Total bytes the stream produced.
    pub fn total(&self) -> u64 {
        self.kept.len() as u64 + self.dropped
    }

    /// Decodes the kept bytes as UTF-8, replacing invalid sequences, and
    /// appends a visible marker when bytes were dropped. A character cut in
    /// half by the limit is dropped whole and counted.
    pub fn into_text(self) -> String {
        let mut kept = self.kept;
        let mut dropped = self.dropped;
        if dropped > 0 {
            let cut = incomplete_suffix(&kept);
            kept.truncate(kept.len() - cut);
            dropped += cut as u64;
        }

        let mut text = String::from_utf8_lossy(&kept).into_owned();
        if dropped > 0 {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[output truncated: {dropped} bytes more]\n"));
        }
        text
    }
}

/// Length of a UTF-8 sequence left incomplete at the end of `bytes`.
fn incomplete_suffix(bytes: &[u8]) -> usize {
    // A UTF-8 sequence is at most 4 bytes, so an incomplete one starts
    // within the last 3.
    let start = bytes.len().saturating_sub(3);
    for index in (start..bytes.len()).rev() {
        let byte = bytes[index];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let length = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        let present = bytes.len() - index;
        return if present < length { present } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_stream_is_kept_whole() {
        let captured = read_limited(&b"hello\n"[..], 100).unwrap();
        assert_eq!(captured.total(), 6);
        assert_eq!(captured.into_text(), "hello\n");
    }

    #[test]
    fn long_stream_is_cut_with_marker() {
        let input = vec![b'a'; 20_000];
        let captured = read_limited(&input[..], 10).unwrap();
        assert_eq!(captured.kept.len(), 10);
        assert_eq!(captured.dropped, 19_990);
        assert_eq!(
            captured.into_text(),
            "aaaaaaaaaa\n[output truncated: 19990 bytes more]\n"
        );
    }

    #[test]
    fn cut_character_is_dropped_whole() {
        // "é" is two bytes, so a limit of 2 keeps `a` and half of `é`.
        let captured = read_limited("aé".as_bytes(), 2).unwrap();
        assert_eq!(
            captured.into_text(),
            "a\n[output truncated: 2 bytes more]\n"
        );
    }

    #[test]
    fn complete_suffix_is_not_cut() {
        assert_eq!(incomplete_suffix("aé".as_bytes()), 0);
        assert_eq!(incomplete_suffix("a€".as_bytes()), 0);
        assert_eq!(incomplete_suffix(&"a€".as_bytes()[..3]), 2);
        assert_eq!(incomplete_suffix(b"abc"), 0);
    }
}
