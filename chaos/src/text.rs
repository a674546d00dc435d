//! text: what people write and hand to jolt (experiment files, request
//! bodies), before any parser sees it.
//!
//! Owns decoding the bytes ([`decode`]: UTF-8 only, a leading byte order
//! mark accepted and dropped, no control characters but tab, LF and CR),
//! with errors that give the byte offset and line; and saying serde's
//! messages in the words of the file rather than Rust's ([`plain`]:
//! "expected struct ExperimentFile" becomes "expected a mapping"). It
//! does not parse YAML or JSON itself (`experiment` does).

use std::fmt;

/// The UTF-8 byte order mark some editors write at the start of a file.
pub const BOM: &str = "\u{feff}";

/// Why bytes are not text jolt reads. Offsets count from the first byte
/// given (a byte order mark included); lines from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("not UTF-8 at byte offset {offset} (line {line}){}", if *.utf16 { "; it looks like UTF-16: save it as UTF-8" } else { "" })]
    NotUtf8 {
        offset: usize,
        line: usize,
        /// Starts with a UTF-16 byte order mark.
        utf16: bool,
    },
    #[error("control character {} at byte offset {offset} (line {line})", Codepoint(*.character))]
    Control {
        character: char,
        offset: usize,
        line: usize,
    },
}

/// `0x01` for a control character in ASCII, `U+0085` beyond.
struct Codepoint(char);

impl fmt::Display for Codepoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match u32::from(self.0) {
            c @ 0..=0x7f => write!(f, "0x{c:02x}"),
            c => write!(f, "U+{c:04X}"),
        }
    }
}

/// The text in `bytes`, without a leading byte order mark; refused when
/// not UTF-8 or holding a control character other than tab, LF or CR.
pub fn decode(bytes: &[u8]) -> Result<&str, TextError> {
    let line = |offset: usize| 1 + bytes[..offset].iter().filter(|b| **b == b'\n').count();
    let text = std::str::from_utf8(bytes).map_err(|e| TextError::NotUtf8 {
        offset: e.valid_up_to(),
        line: line(e.valid_up_to()),
        utf16: bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]),
    })?;
    let body = text.strip_prefix(BOM).unwrap_or(text);
    let skipped = text.len() - body.len();
    match body
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some((at, character)) => Err(TextError::Control {
            character,
            offset: skipped + at,
            line: line(skipped + at),
        }),
        None => Ok(body),
    }
}

/// `message` from serde with Rust's names for types replaced by plain
/// words: `struct Name` (with its `with N elements`) by `object` (what a
/// mapping is called where the text came from: "a mapping", "a JSON
/// object"), `enum Name` by "a name", integer and float types by "a whole
/// number ..." and "a number", and "unit value" by "null".
pub fn plain(message: &str, object: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("expected ") {
        let (head, tail) = rest.split_at(at + "expected ".len());
        out.push_str(head);
        let (words, used) = expected(tail, object);
        out.push_str(&words);
        rest = &tail[used..];
    }
    out.push_str(rest);
    out.replace("invalid type: unit value", "invalid type: null")
}

/// What follows "expected " in plain words, and how much of `tail` that
/// replaces (nothing when it is plain already).
fn expected(tail: &str, object: &str) -> (String, usize) {
    let word = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    for (kind, plain) in [("struct ", object), ("enum ", "a name")] {
        if let Some(after) = tail.strip_prefix(kind) {
            let mut used = kind.len() + word(after);
            let rest = &tail[used..];
            if let Some(n) = rest.strip_prefix(" with ") {
                let digits = n.find(|c: char| !c.is_ascii_digit()).unwrap_or(n.len());
                for unit in [" elements", " element"] {
                    if digits > 0 && n[digits..].starts_with(unit) {
                        used += " with ".len() + digits + unit.len();
                        break;
                    }
                }
            }
            return (plain.to_string(), used);
        }
    }
    let name = &tail[..word(tail)];
    let plain = match name {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "char" => "a single character",
        _ => return (String::new(), 0),
    };
    (plain.to_string(), name.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_utf8_without_control_characters() {
        assert_eq!(
            decode(b"name: x\r\n\tkey: y\n"),
            Ok("name: x\r\n\tkey: y\n")
        );
        assert_eq!(decode("\u{feff}name: x\n".as_bytes()), Ok("name: x\n"));
        assert_eq!(decode(b""), Ok(""));
        let e = decode(b"name: x\nfault: \xff\n").unwrap_err();
        assert_eq!(e.to_string(), "not UTF-8 at byte offset 15 (line 2)");
        let e = decode(b"\xff\xfen\x00a\x00").unwrap_err();
        assert_eq!(
            e.to_string(),
            "not UTF-8 at byte offset 0 (line 1); it looks like UTF-16: save it as UTF-8"
        );
        let e = decode(b"name: x\n\nseed: 1\x1b[0m\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "control character 0x1b at byte offset 16 (line 3)"
        );
        // The offset counts the byte order mark: it is the file's.
        let e = decode("\u{feff}a\0".as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "control character 0x00 at byte offset 4 (line 1)"
        );
        let e = decode("a: \u{85}".as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "control character U+0085 at byte offset 3 (line 1)"
        );
        let e = decode(b"a: \x7f").unwrap_err();
        assert_eq!(
            e.to_string(),
            "control character 0x7f at byte offset 3 (line 1)"
        );
        // A byte order mark anywhere else is text like any other.
        assert_eq!(decode("a\u{feff}".as_bytes()), Ok("a\u{feff}"));
    }

    #[test]
    fn serde_messages_lose_rusts_type_names() {
        let cases = [
            (
                "invalid type: sequence, expected struct ExperimentFile",
                "invalid type: sequence, expected a mapping",
            ),
            (
                "invalid length 0, expected struct RunRequest with 9 elements",
                "invalid length 0, expected a mapping",
            ),
            (
                "invalid length 2, expected struct Pair with 1 element at line 1",
                "invalid length 2, expected a mapping at line 1",
            ),
            (
                "invalid type: unit value, expected struct TargetsFile at line 2 column 10",
                "invalid type: null, expected a mapping at line 2 column 10",
            ),
            (
                "invalid value: integer `-1`, expected u64 at line 1 column 24",
                "invalid value: integer `-1`, expected a whole number, 0 or more at line 1 column 24",
            ),
            (
                "invalid type: floating point `1.5`, expected u32",
                "invalid type: floating point `1.5`, expected a whole number from 0 to 4294967295",
            ),
            (
                "invalid type: string \"x\", expected f64",
                "invalid type: string \"x\", expected a number",
            ),
            (
                "invalid type: integer `3`, expected enum OnFailure",
                "invalid type: integer `3`, expected a name",
            ),
            (
                "unknown variant `3`, expected `continue` or `stop`",
                "unknown variant `3`, expected `continue` or `stop`",
            ),
            (
                "invalid type: integer `1`, expected a string",
                "invalid type: integer `1`, expected a string",
            ),
            ("expected u64value", "expected u64value"),
            ("EOF while parsing a value", "EOF while parsing a value"),
        ];
        for (serde, want) in cases {
            assert_eq!(plain(serde, "a mapping"), want, "{serde}");
        }
    }
}
