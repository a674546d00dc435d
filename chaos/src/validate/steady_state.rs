//! The `steady-state` section as written and its validation into the
//! typed [`SteadyState`] of `probe`: one kind per probe, URLs and
//! addresses that parse, intervals, timeouts and tolerances within their
//! bounds, and a `recover-within` that fits the experiment. What needs
//! the node (an `exec` probe's container) is checked by the agent.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{valid_name, Problems, StringOrList};
use crate::experiment::human;
use crate::probe::{
    Check, Endpoint, Exec, Http, OnBreach, Probe, Prometheus, Status, SteadyState, Tolerance, Url,
    DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_WINDOW, MAX_PROBES, MAX_TIMEOUT, MAX_TOLERANCE,
    MIN_INTERVAL, PROBE_KINDS,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct SteadyStateFile {
    probes: Vec<ProbeFile>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    during: Option<bool>,
    #[serde(default)]
    after: Option<AfterFile>,
    #[serde(default)]
    on_breach: OnBreach,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AfterFile {
    recover_within: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ProbeFile {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    tolerance: Option<Value>,
    #[serde(default)]
    http: Option<HttpFile>,
    #[serde(default)]
    tcp: Option<TcpFile>,
    #[serde(default)]
    exec: Option<ExecFile>,
    #[serde(default)]
    prometheus: Option<PrometheusFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HttpFile {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    max_latency: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TcpFile {
    address: String,
    #[serde(default)]
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ExecFile {
    #[serde(default)]
    container: Option<String>,
    command: StringOrList,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PrometheusFile {
    url: String,
    query: String,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    timeout: Option<String>,
}

const SECTION: &str = "steady-state";

impl SteadyStateFile {
    /// `length` is the experiment's, when known.
    pub(crate) fn validate(
        self,
        p: &mut Problems,
        length: Option<Duration>,
    ) -> Option<SteadyState> {
        let before_count = p.0.len();
        if self.probes.is_empty() {
            p.add(
                format!("{SECTION}.probes"),
                "an empty list states no hypothesis; give a probe or remove steady-state",
            );
        }
        if self.probes.len() > MAX_PROBES {
            p.add(
                format!("{SECTION}.probes"),
                format!(
                    "{} probes; jolt runs at most {MAX_PROBES}",
                    self.probes.len()
                ),
            );
        }
        let mut names = HashSet::new();
        let mut probes = Vec::new();
        for (i, probe) in self.probes.into_iter().enumerate() {
            let path = format!("{SECTION}.probes[{i}]");
            if !names.insert(probe.name.clone()) {
                p.add(
                    format!("{path}.name"),
                    format!(
                        "{:?} names another probe too; give each its own",
                        probe.name
                    ),
                );
            }
            if let Some(probe) = probe.validate(p, &path) {
                probes.push(probe);
            }
        }
        let before = self
            .before
            .as_deref()
            .and_then(|b| p.duration(&format!("{SECTION}.before"), b, false));
        let path = format!("{SECTION}.after.recover-within");
        let recover_within = self
            .after
            .and_then(|a| p.duration(&path, &a.recover_within, false));
        if let (Some(rw), Some(length)) = (recover_within, length) {
            if rw > length {
                p.add(
                    &path,
                    format!(
                        "{} is longer than the experiment ({})",
                        human(rw),
                        human(length)
                    ),
                );
            }
        }
        // A probe must be able to run, and finish, after a fault ended:
        // its next tick may be an interval away, its run a timeout long.
        if let Some(rw) = recover_within {
            if let Some(slow) = probes.iter().find(|q| q.interval + q.timeout > rw) {
                p.add(
                    path,
                    format!(
                        "{} is shorter than probe {}'s interval and timeout ({} + {}): it could not pass again in time; give at least {}",
                        human(rw),
                        slow.name,
                        human(slow.interval),
                        human(slow.timeout),
                        human(slow.interval + slow.timeout)
                    ),
                );
            }
        }
        (p.0.len() == before_count).then_some(SteadyState {
            probes,
            before,
            during: self.during.unwrap_or(true),
            recover_within,
            on_breach: self.on_breach,
        })
    }
}

impl ProbeFile {
    fn validate(self, p: &mut Problems, path: &str) -> Option<Probe> {
        let before = p.0.len();
        if !valid_name(&self.name) {
            p.add(
                format!("{path}.name"),
                format!(
                    "{:?} is not a valid name (use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit)",
                    self.name
                ),
            );
        }
        let interval = match &self.interval {
            None => DEFAULT_INTERVAL,
            Some(text) => {
                let at = format!("{path}.interval");
                match p.duration(&at, text, false) {
                    Some(d) if d < MIN_INTERVAL => {
                        p.add(
                            at,
                            format!(
                                "{} is below {}, the shortest interval jolt runs a probe at",
                                human(d),
                                human(MIN_INTERVAL)
                            ),
                        );
                        DEFAULT_INTERVAL
                    }
                    Some(d) => d,
                    None => DEFAULT_INTERVAL,
                }
            }
        };
        let tolerance = tolerance(p, &format!("{path}.tolerance"), self.tolerance.as_ref());
        let given: Vec<&str> = PROBE_KINDS
            .iter()
            .zip([
                self.http.is_some(),
                self.tcp.is_some(),
                self.exec.is_some(),
                self.prometheus.is_some(),
            ])
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect();
        if given.len() != 1 {
            let found = match given.is_empty() {
                true => "none".to_string(),
                false => given.join(" and "),
            };
            p.add(
                path,
                format!(
                    "give exactly one probe kind: {} (found {found})",
                    PROBE_KINDS.join(", ")
                ),
            );
            return None;
        }
        let (check, timeout, max_latency) = if let Some(h) = self.http {
            let at = format!("{path}.http");
            let url = url(p, &format!("{at}.url"), &h.url);
            let method = h.method.unwrap_or_else(|| "GET".into());
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                p.add(
                    format!("{at}.method"),
                    format!(
                        "{method:?} is not an HTTP method (write it in capitals: GET, HEAD, POST)"
                    ),
                );
            }
            let status = statuses(p, &format!("{at}.status"), h.status.as_ref());
            let max_latency = h
                .max_latency
                .as_deref()
                .and_then(|m| p.duration(&format!("{at}.max-latency"), m, false));
            let check = url.map(|url| {
                Check::Http(Http {
                    url,
                    method,
                    status,
                    body: h.body,
                    max_latency,
                })
            });
            (check, h.timeout.map(|t| (at, t)), max_latency)
        } else if let Some(t) = self.tcp {
            let at = format!("{path}.tcp");
            let check = endpoint(p, &format!("{at}.address"), &t.address).map(Check::Tcp);
            (check, t.timeout.map(|t| (at, t)), None)
        } else if let Some(e) = self.exec {
            let at = format!("{path}.exec");
            let command = match e.command {
                StringOrList::One(s) => vec!["/bin/sh".into(), "-c".into(), s],
                StringOrList::List(l) => l,
            };
            if command.is_empty() || command[0].is_empty() {
                p.add(
                    format!("{at}.command"),
                    "no command; give a list like [cat, /ready] or a shell line",
                );
            }
            if let Some(c) = &e.container {
                if c.trim().is_empty() {
                    p.add(format!("{at}.container"), "empty container name");
                }
            }
            let check = Check::Exec(Exec {
                container: e.container,
                command,
                exit_code: e.exit_code.unwrap_or(0),
                output: e.output,
            });
            (Some(check), e.timeout.map(|t| (at, t)), None)
        } else if let Some(m) = self.prometheus {
            let at = format!("{path}.prometheus");
            let url = url(p, &format!("{at}.url"), &m.url);
            if m.query.trim().is_empty() {
                p.add(
                    format!("{at}.query"),
                    "empty query; give PromQL like up{job=\"web\"}",
                );
            }
            match (m.min, m.max) {
                (None, None) => p.add(&at, "give a bound on the query's value: min, max or both"),
                (Some(lo), Some(hi)) if lo > hi => p.add(
                    format!("{at}.min"),
                    format!("{lo} is above max ({hi}): no value passes"),
                ),
                _ => {}
            }
            for (key, v) in [("min", m.min), ("max", m.max)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    p.add(format!("{at}.{key}"), "not a finite number");
                }
            }
            let check = url.map(|url| {
                Check::Prometheus(Prometheus {
                    url,
                    query: m.query,
                    min: m.min,
                    max: m.max,
                })
            });
            (check, m.timeout.map(|t| (at, t)), None)
        } else {
            unreachable!("one kind was given")
        };
        let timeout = match timeout {
            None => DEFAULT_TIMEOUT.max(max_latency.unwrap_or_default()),
            Some((at, text)) => {
                let at = format!("{at}.timeout");
                match p.duration(&at, &text, false) {
                    Some(d) if d > MAX_TIMEOUT => {
                        p.add(
                            at,
                            format!(
                                "{} is longer than {}, the most a probe waits",
                                human(d),
                                human(MAX_TIMEOUT)
                            ),
                        );
                        DEFAULT_TIMEOUT
                    }
                    Some(d) => {
                        if let Some(m) = max_latency.filter(|m| *m > d) {
                            p.add(
                                at,
                                format!(
                                    "{} is shorter than max-latency ({}): a run is cut at the timeout",
                                    human(d),
                                    human(m)
                                ),
                            );
                        }
                        d
                    }
                    None => DEFAULT_TIMEOUT,
                }
            }
        };
        let check = check?;
        (p.0.len() == before).then_some(Probe {
            name: self.name,
            check,
            interval,
            timeout,
            tolerance: tolerance?,
        })
    }
}

/// `tolerance: 2`, `{consecutive: 2}` or `{percent: 20, window: 10}`;
/// none is 0 consecutive failures.
fn tolerance(p: &mut Problems, path: &str, v: Option<&Value>) -> Option<Tolerance> {
    let whole = |p: &mut Problems, at: &str, v: &Value, min: u64| -> Option<u32> {
        match v.as_u64() {
            Some(n) if n >= min && n <= u64::from(MAX_TOLERANCE) => Some(n as u32),
            _ => {
                p.add(
                    at,
                    format!("{v} is outside {min}-{MAX_TOLERANCE} (a whole number)"),
                );
                None
            }
        }
    };
    match v {
        None => Some(Tolerance::Consecutive(0)),
        Some(n @ Value::Number(_)) => whole(p, path, n, 0).map(Tolerance::Consecutive),
        Some(Value::Object(map)) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            match keys.as_slice() {
                ["consecutive"] => whole(p, &format!("{path}.consecutive"), &map["consecutive"], 0)
                    .map(Tolerance::Consecutive),
                ["percent"] | ["percent", "window"] | ["window", "percent"] => {
                    let at = format!("{path}.percent");
                    let percent = match map["percent"].as_f64() {
                        Some(x) if (0.0..100.0).contains(&x) => Some(x),
                        _ => {
                            p.add(
                                at,
                                format!(
                                    "{} is outside 0 to under 100 (the percentage of the window that may fail)",
                                    map["percent"]
                                ),
                            );
                            None
                        }
                    };
                    let window = match map.get("window") {
                        None => Some(DEFAULT_WINDOW),
                        Some(w) => whole(p, &format!("{path}.window"), w, 1),
                    };
                    Some(Tolerance::Percent {
                        percent: percent?,
                        window: window?,
                    })
                }
                _ => {
                    p.add(
                        path,
                        "expected a number of consecutive failures, {consecutive: N} or {percent: P, window: N}",
                    );
                    None
                }
            }
        }
        Some(other) => {
            p.add(
                path,
                format!("{other} is not a tolerance: give a number of consecutive failures, {{consecutive: N}} or {{percent: P, window: N}}"),
            );
            None
        }
    }
}

/// `status: 200`, `status: 2xx` or a list of those; none is 2xx.
fn statuses(p: &mut Problems, path: &str, v: Option<&Value>) -> Vec<Status> {
    let one = |p: &mut Problems, at: &str, v: &Value| -> Option<Status> {
        let parsed = match v {
            Value::Number(n) => n
                .as_u64()
                .filter(|c| (100..=599).contains(c))
                .map(|c| Status::Code(c as u16)),
            Value::String(s) => match s.as_bytes() {
                [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
                    Some(Status::Class(u16::from(d - b'0')))
                }
                _ => s
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .map(Status::Code),
            },
            _ => None,
        };
        if parsed.is_none() {
            p.add(
                at,
                format!("{v} is not a status code (100-599) or a class like 2xx"),
            );
        }
        parsed
    };
    match v {
        None => vec![Status::Class(2)],
        Some(Value::Array(list)) if list.is_empty() => {
            p.add(
                path,
                "an empty list passes nothing; give codes like [200, 3xx]",
            );
            Vec::new()
        }
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter_map(|(i, v)| one(p, &format!("{path}[{i}]"), v))
            .collect(),
        Some(v) => one(p, path, v).into_iter().collect(),
    }
}

/// `http://host[:port][/path]`.
fn url(p: &mut Problems, path: &str, text: &str) -> Option<Url> {
    let fail = |p: &mut Problems, why: &str| {
        p.add(path, format!("{text:?} is not a URL jolt can probe: {why}"));
        None
    };
    if text
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return fail(p, "it holds white space");
    }
    if text.starts_with("https://") {
        return fail(
            p,
            "https is not supported (jolt's probes speak plain HTTP); use http://",
        );
    }
    let Some(rest) = text.strip_prefix("http://") else {
        return fail(p, "it must start with http://");
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    if authority.contains('@') {
        return fail(p, "user names and passwords in URLs are not supported");
    }
    if tail.contains('#') {
        return fail(p, "a fragment (#...) is never sent; remove it");
    }
    let endpoint = match parse_endpoint(authority, Some(80)) {
        Ok(e) => e,
        Err(why) => return fail(p, &why),
    };
    let path_part = match tail {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    Some(Url {
        text: text.to_string(),
        endpoint,
        path: path_part,
    })
}

/// `host:port` for a tcp probe.
fn endpoint(p: &mut Problems, path: &str, text: &str) -> Option<Endpoint> {
    match parse_endpoint(text, None) {
        Ok(e) => Some(e),
        Err(why) => {
            p.add(path, format!("{text:?} is not an address: {why} (write host:port, e.g. 127.0.0.1:8080 or [::1]:80)"));
            None
        }
    }
}

/// `host:port`, `[v6]:port`, or with `default_port` a bare host.
fn parse_endpoint(text: &str, default_port: Option<u16>) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("an IPv6 address needs its closing ]".into());
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{host:?} is not an IPv6 address"));
        }
        match after {
            "" => (host, None),
            a => match a.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("expected :port after ]".into()),
            },
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write an IPv6 address in brackets: [::1]:80".into())
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let ok_host = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    if !ok_host {
        return Err(match host.is_empty() {
            true => "no host".into(),
            false => format!("{host:?} is not a host name or IP address"),
        });
    }
    let port = match (port, default_port) {
        (Some(p), _) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("port {p:?} is not 1-65535")),
        },
        (None, Some(d)) => d,
        (None, None) => return Err("no port".into()),
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_as_clients_write_them() {
        for (text, host, port) in [
            ("127.0.0.1:8080", "127.0.0.1", 8080),
            ("[::1]:80", "::1", 80),
            ("web.local:9", "web.local", 9),
        ] {
            let e = parse_endpoint(text, None).unwrap();
            assert_eq!((e.host.as_str(), e.port), (host, port), "{text}");
            assert_eq!(e.to_string(), text);
        }
        assert_eq!(parse_endpoint("web", Some(80)).unwrap().port, 80);
        for bad in [
            "web",
            ":80",
            "web:0",
            "web:99999",
            "::1:80",
            "[::1",
            "[zz]:80",
            "a b:1",
        ] {
            assert!(parse_endpoint(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_split_for_the_client() {
        let mut p = Problems::default();
        let u = url(&mut p, "u", "http://127.0.0.1:9090/api/v1/query?x=1").unwrap();
        assert_eq!(u.endpoint.port, 9090);
        assert_eq!(u.path, "/api/v1/query?x=1");
        assert_eq!(url(&mut p, "u", "http://web").unwrap().path, "/");
        assert_eq!(url(&mut p, "u", "http://web?a").unwrap().path, "/?a");
        assert!(p.0.is_empty());
        for bad in [
            "https://web/",
            "ftp://web",
            "http://",
            "http://u@web/",
            "http://web/#x",
            "http://we b/",
        ] {
            assert!(url(&mut p, "u", bad).is_none(), "{bad}");
        }
    }

    const BASE: &str = "
name: web
targets: {names: [web-1]}
schedule: {every: 10s}
duration: 1m
fault: {kind: pause, duration: 3s}
steady-state:
  before: 5s
  after: {recover-within: 10s}
  probes:
    - name: home
      interval: 200ms
      tolerance: 1
      http: {url: 'http://127.0.0.1:8080/', max-latency: 300ms}
";

    fn error(text: &str) -> String {
        let e = crate::Experiment::from_yaml_or_json(text, "x")
            .unwrap_err()
            .to_string();
        e.strip_prefix("x: ").unwrap_or(&e).to_string()
    }

    #[test]
    fn a_hypothesis_reads_with_its_defaults() {
        let e = crate::Experiment::from_yaml_or_json(BASE, "x").unwrap();
        let s = e.steady_state.unwrap();
        assert_eq!(s.before, Some(Duration::from_secs(5)));
        assert!(s.during);
        assert_eq!(s.on_breach, OnBreach::Abort);
        let p = &s.probes[0];
        assert_eq!(p.tolerance, Tolerance::Consecutive(1));
        assert_eq!(p.timeout, Duration::from_secs(1));
        assert_eq!(
            p.check.to_string(),
            "http GET http://127.0.0.1:8080/ within 300ms"
        );
        let Check::Http(h) = &p.check else { panic!() };
        assert_eq!(h.status, vec![Status::Class(2)]);
        let other = BASE.replace(
            "http: {url: 'http://127.0.0.1:8080/', max-latency: 300ms}",
            "exec: {command: 'test -f /ready', exit-code: 0}\n      tolerance: {percent: 20}",
        );
        let other = other.replace("      tolerance: 1\n", "");
        let s = crate::Experiment::from_yaml_or_json(&other, "x")
            .unwrap()
            .steady_state
            .unwrap();
        assert_eq!(
            s.probes[0].tolerance,
            Tolerance::Percent {
                percent: 20.0,
                window: 10
            }
        );
        assert_eq!(
            s.probes[0].check.to_string(),
            "exec in each target: /bin/sh -c test -f /ready"
        );
    }

    #[test]
    fn probe_errors_name_the_field() {
        let probe = "http: {url: 'http://127.0.0.1:8080/', max-latency: 300ms}";
        for (from, to, want) in [
            (probe, "tcp: {address: '127.0.0.1:80'}\n      http: {url: 'http://a/'}", "steady-state.probes[0]: give exactly one probe kind: http, tcp, exec, prometheus (found http and tcp)"),
            (probe, "interval: 1s", "steady-state.probes[0]: duplicate field `interval` at line 11 column 7"),
            ("interval: 200ms", "interval: 50ms", "steady-state.probes[0].interval: 50ms is below 100ms, the shortest interval jolt runs a probe at"),
            ("tolerance: 1", "tolerance: -1", "steady-state.probes[0].tolerance: -1 is outside 0-10000 (a whole number)"),
            ("tolerance: 1", "tolerance: {percent: 100}", "steady-state.probes[0].tolerance.percent: 100 is outside 0 to under 100 (the percentage of the window that may fail)"),
            ("tolerance: 1", "tolerance: {percent: 5, window: 0}", "steady-state.probes[0].tolerance.window: 0 is outside 1-10000 (a whole number)"),
            ("http://127.0.0.1:8080/", "http//127.0.0.1", "steady-state.probes[0].http.url: \"http//127.0.0.1\" is not a URL jolt can probe: it must start with http://"),
            (probe, "tcp: {address: '127.0.0.1'}", "steady-state.probes[0].tcp.address: \"127.0.0.1\" is not an address: no port (write host:port, e.g. 127.0.0.1:8080 or [::1]:80)"),
            ("recover-within: 10s", "recover-within: 2m", "steady-state.after.recover-within: 2m is longer than the experiment (1m)"),
            ("recover-within: 10s", "recover-within: 1s", "steady-state.after.recover-within: 1s is shorter than probe home's interval and timeout (200ms + 1s): it could not pass again in time; give at least 1s200ms"),
            (probe, "prometheus: {url: 'http://127.0.0.1:9090/api/v1/query', query: up}", "steady-state.probes[0].prometheus: give a bound on the query's value: min, max or both"),
            ("max-latency: 300ms}", "max-latency: 300ms, timeout: 100ms}", "steady-state.probes[0].http.timeout: 100ms is shorter than max-latency (300ms): a run is cut at the timeout"),
            ("name: home", "name: Home", "steady-state.probes[0].name: \"Home\" is not a valid name (use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit)"),
            ("url: 'http://127.0.0.1:8080/'", "url: 'http://127.0.0.1:8080/', status: [200, 6xx]", "steady-state.probes[0].http.status[1]: \"6xx\" is not a status code (100-599) or a class like 2xx"),
        ] {
            let text = BASE.replacen(from, to, 1);
            assert_ne!(text, BASE, "{from:?} not in BASE");
            assert_eq!(error(&text), want, "{from:?} -> {to:?}");
        }
        let none = BASE.replace(probe, "tolerance: 2");
        assert!(
            error(&none).starts_with("steady-state.probes[0]"),
            "{}",
            error(&none)
        );
    }
}
