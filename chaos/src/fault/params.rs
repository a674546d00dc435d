//! params: reading one fault's keys from the experiment file. A fault is
//! a mapping (`{kind: network-loss, percent: 5, duration: 1m}`); its kind
//! says which keys it takes ([`super::Kind::KEYS`]), and its `parse` reads
//! them through [`Keys`], which turns every wrong value into a
//! [`crate::FieldError`] at the key's path (`fault.percent`,
//! `faults[1].peers[0].cidr`) instead of stopping at the first.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::validate::Problems;

/// The keys of one fault mapping, as read by its kind.
pub struct Keys<'a> {
    /// `fault` or `faults[i]`.
    prefix: String,
    kind: String,
    map: BTreeMap<String, Value>,
    problems: &'a mut Problems,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(
        prefix: String,
        kind: String,
        map: BTreeMap<String, Value>,
        problems: &'a mut Problems,
    ) -> Keys<'a> {
        Keys {
            prefix,
            kind,
            map,
            problems,
        }
    }

    /// The fault's kind, as written.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The path of `key` in the file: `fault.latency`.
    pub fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.prefix)
    }

    /// Whether the file sets `key`.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Records a problem with `key`.
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        let path = self.path(key);
        self.problems.add(path, message);
    }

    /// Records that `key` is required: `required for KIND: WHAT`.
    pub fn missing(&mut self, key: &str, what: &str) {
        let message = format!("required for {}: {what}", self.kind);
        self.problem(key, message);
    }

    /// The raw value of `key`, if set.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// `read` of `key`, which the kind requires: when the file does not
    /// set it, the problem says `required for KIND: WHAT`.
    pub fn required<T>(
        &mut self,
        key: &str,
        what: &str,
        read: impl FnOnce(&mut Self, &str) -> Option<T>,
    ) -> Option<T> {
        if !self.has(key) {
            self.missing(key, what);
            return None;
        }
        read(self, key)
    }

    /// One of `options` (as written, and its value), `default` when the
    /// file does not set `key`.
    pub fn choice<T: Copy>(&mut self, key: &str, options: &[(&str, T)], default: T) -> Option<T> {
        if !self.has(key) {
            return Some(default);
        }
        let given = self.string(key)?;
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == given) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let expected = match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        self.problem(
            key,
            format!("unknown {key} {given:?} (expected {expected})"),
        );
        None
    }

    /// A string value (a number is taken as its text, as YAML users
    /// expect of `port: 80` next to `rate: 10mbit`).
    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            other => {
                let shown = shown(other);
                self.problem(key, format!("expected text, got {shown}"));
                None
            }
        }
    }

    /// A number value.
    pub fn number(&mut self, key: &str) -> Option<f64> {
        match self.map.get(key)? {
            Value::Number(n) => n.as_f64(),
            other => {
                let shown = shown(other);
                self.problem(key, format!("expected a number, got {shown}"));
                None
            }
        }
    }

    /// A whole number in `range`.
    pub fn integer(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let n = self.number(key)?;
        if n.fract() != 0.0 || n < *range.start() as f64 || n > *range.end() as f64 {
            self.problem(
                key,
                format!(
                    "{n} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            return None;
        }
        Some(n as u64)
    }

    /// A percentage, 0-100.
    pub fn percent(&mut self, key: &str) -> Option<f64> {
        let v = self.number(key)?;
        if !(0.0..=100.0).contains(&v) {
            self.problem(key, format!("{v} is outside 0-100 (percent)"));
            return None;
        }
        Some(v)
    }

    /// A duration (`100ms`, `1m30s`), positive unless `zero_ok`.
    pub fn duration(&mut self, key: &str, zero_ok: bool) -> Option<Duration> {
        let text = self.string(key)?;
        let path = self.path(key);
        self.problems.duration(&path, &text, zero_ok)
    }

    /// A rate in bits per second, written as tc writes rates: `10mbit`,
    /// `500kbit`, `1gbit` (k, m, g, t: powers of 1000), or in bytes per
    /// second with `bps`: `1mbps` is 8 Mbit/s. At least 8 kbit/s.
    pub fn rate(&mut self, key: &str) -> Option<u64> {
        let text = self.string(key)?;
        match parse_rate(&text) {
            Some(bits) if bits >= 8_000 => Some(bits),
            Some(_) => {
                self.problem(
                    key,
                    format!("{text:?} is below 8kbit, the least jolt shapes to"),
                );
                None
            }
            None => {
                self.problem(
                    key,
                    format!("{text:?} is not a rate; write e.g. 512kbit, 10mbit, 1gbit (or 1mbps in bytes)"),
                );
                None
            }
        }
    }

    /// A size in bytes: `1500`, `32kb`, `64k`, `256mb`, `1g`, `512MiB`
    /// (k, m, g: powers of 1024, as tc and Docker read sizes).
    pub fn bytes(&mut self, key: &str) -> Option<u64> {
        let text = self.string(key)?;
        let parsed = parse_bytes(&text);
        if parsed.is_none() {
            self.problem(
                key,
                format!("{text:?} is not a size; write e.g. 1500, 32kb, 256mb, 1gb"),
            );
        }
        parsed
    }

    /// The fault's `duration`, required: `what` says what lasts that long.
    pub fn lasting(&mut self, what: &str) -> Option<Duration> {
        self.required("duration", &format!("how long {what}"), |k, key| {
            k.duration(key, false)
        })
    }
}

/// Splits `10mbit` into 10 and "mbit".
fn number_and_unit(text: &str) -> Option<(f64, String)> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number: f64 = text[..end].parse().ok()?;
    (number.is_finite() && number >= 0.0)
        .then_some((number, text[end..].trim().to_ascii_lowercase()))
}

/// Bits per second from tc's rate words (see [`Keys::rate`]).
pub(crate) fn parse_rate(text: &str) -> Option<u64> {
    let (n, unit) = number_and_unit(text)?;
    let (scale, bytes) = match unit.as_str() {
        "bit" => (1.0, false),
        "kbit" => (1e3, false),
        "mbit" => (1e6, false),
        "gbit" => (1e9, false),
        "tbit" => (1e12, false),
        "bps" => (1.0, true),
        "kbps" => (1e3, true),
        "mbps" => (1e6, true),
        "gbps" => (1e9, true),
        _ => return None,
    };
    let bits = n * scale * if bytes { 8.0 } else { 1.0 };
    (bits <= u64::MAX as f64).then_some(bits.round() as u64)
}

/// Bytes from a size (see [`Keys::bytes`]).
pub(crate) fn parse_bytes(text: &str) -> Option<u64> {
    let (n, unit) = number_and_unit(text)?;
    let scale: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = n * scale;
    (bytes.fract() == 0.0 && bytes <= u64::MAX as f64).then_some(bytes as u64)
}

/// A value as an error message shows it.
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(json: &str, p: &'a mut Problems) -> Keys<'a> {
        let map: BTreeMap<String, Value> = serde_json::from_str(json).unwrap();
        Keys::new("fault".into(), "network-loss".into(), map, p)
    }

    #[test]
    fn values_of_the_wrong_type_are_problems_at_their_path() {
        let mut p = Problems::default();
        let mut k = keys(r#"{"percent": "five", "duration": 5, "port": [1]}"#, &mut p);
        assert_eq!(k.percent("percent"), None);
        assert_eq!(k.duration("duration", false), None);
        assert_eq!(k.string("port"), None);
        let shown: Vec<String> = p.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            [
                r#"fault.percent: expected a number, got "five""#,
                r#"fault.duration: "5" is not a duration (time unit needed, for example 5sec or 5ms); write e.g. 100ms, 30s, 1m30s, 2h"#,
                "fault.port: expected text, got a list",
            ]
        );
    }

    #[test]
    fn required_keys_and_choices_name_what_is_expected() {
        let mut p = Problems::default();
        let mut k = keys(r#"{"direction": "sideways", "oom": "any"}"#, &mut p);
        assert_eq!(
            k.required("rate", "the rate, e.g. 1mbit", |k, key| k.rate(key)),
            None
        );
        let dirs = [("to", 1), ("from", 2), ("both", 3)];
        assert_eq!(k.choice("direction", &dirs, 3), None);
        assert_eq!(k.choice("oom", &[("stressor", 1), ("any", 2)], 1), Some(2));
        assert_eq!(k.choice("scope", &[("init", 1), ("all", 2)], 1), Some(1));
        let shown: Vec<String> = p.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            [
                "fault.rate: required for network-loss: the rate, e.g. 1mbit",
                r#"fault.direction: unknown direction "sideways" (expected to, from or both)"#,
            ]
        );
    }

    #[test]
    fn rates_and_sizes_are_read_as_tc_reads_them() {
        assert_eq!(parse_rate("10mbit"), Some(10_000_000));
        assert_eq!(parse_rate("1.5Gbit"), Some(1_500_000_000));
        assert_eq!(parse_rate("1mbps"), Some(8_000_000));
        assert_eq!(parse_rate("512 kbit"), Some(512_000));
        assert_eq!(parse_rate("10"), None);
        assert_eq!(parse_rate("fast"), None);
        assert_eq!(parse_bytes("32kb"), Some(32 * 1024));
        assert_eq!(parse_bytes("256MiB"), Some(256 << 20));
        assert_eq!(parse_bytes("1500"), Some(1500));
        assert_eq!(parse_bytes("0.5k"), Some(512));
        assert_eq!(parse_bytes("0.3"), None);
        assert_eq!(parse_bytes("-1k"), None);
        let mut p = Problems::default();
        let mut k = keys(r#"{"rate": "1kbit", "size": "lots"}"#, &mut p);
        assert_eq!(k.rate("rate"), None);
        assert_eq!(k.bytes("size"), None);
        let shown: Vec<String> = p.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            [
                r#"fault.rate: "1kbit" is below 8kbit, the least jolt shapes to"#,
                r#"fault.size: "lots" is not a size; write e.g. 1500, 32kb, 256mb, 1gb"#,
            ]
        );
    }

    #[test]
    fn numbers_are_checked_against_their_range() {
        let mut p = Problems::default();
        let mut k = keys(r#"{"percent": 101, "workers": 2.5, "ok": 3}"#, &mut p);
        assert_eq!(k.percent("percent"), None);
        assert_eq!(k.integer("workers", 1..=64), None);
        assert_eq!(k.integer("ok", 1..=64), Some(3));
        assert_eq!(k.lasting("packets are dropped"), None);
        let shown: Vec<String> = p.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            [
                "fault.percent: 101 is outside 0-100 (percent)",
                "fault.workers: 2.5 is not a whole number from 1 to 64",
                "fault.duration: required for network-loss: how long packets are dropped",
            ]
        );
    }
}
