//! Which containers one fire hits: filtering candidates by the
//! experiment's names, labels, annotations and origin, then applying its
//! mode with the seeded
//! RNG. Owns no container state; the agent passes what it knows as
//! [`Candidate`]s at each fire.

use std::collections::BTreeMap;

use rand::seq::index;

use crate::experiment::{Mode, Targets};
use crate::ChaosRng;

/// A container as the selector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Its OCI annotations (the spec's `annotations`).
    pub annotations: BTreeMap<String, String>,
    /// Who runs it: `joltd`, `podman`, `jolt` or `containerd/NAMESPACE`.
    pub origin: String,
    /// Only running containers are eligible.
    pub running: bool,
}

impl Targets {
    /// Whether `c` matches: its name or id is among `names` (if any are
    /// given), it carries every label in `labels` with the same value and
    /// every annotation in `annotations` with a value the pattern matches
    /// (`*` is any run of characters), and its origin is `origin` or
    /// below it (`containerd` holds `containerd/k8s.io`). Whether it runs
    /// is not considered here.
    pub fn matches(&self, c: &Candidate) -> bool {
        let named = self.names.is_empty() || self.names.iter().any(|n| *n == c.name || *n == c.id);
        let from = self.origin.as_ref().is_none_or(|o| {
            c.origin == *o
                || c.origin
                    .strip_prefix(o.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        named
            && from
            && self.labels.iter().all(|(k, v)| c.labels.get(k) == Some(v))
            && self
                .annotations
                .iter()
                .all(|(k, pattern)| c.annotations.get(k).is_some_and(|v| glob(pattern, v)))
    }

    /// How many of `eligible` matching containers a fire hits under `mode`:
    /// `fixed` larger than `eligible` takes them all, `percent` rounds up.
    pub fn count(&self, eligible: usize) -> usize {
        match self.mode {
            Mode::One => eligible.min(1),
            Mode::All => eligible,
            Mode::Fixed(n) => eligible.min(n as usize),
            Mode::Percent(p) => (eligible * p as usize).div_ceil(100).min(eligible),
        }
    }
}

/// Whether `text` matches `pattern`, whose `*` matches any run of
/// characters (none included); every other character matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Picks the containers one fire hits, sorted by id.
///
/// Eligible are the running candidates that [`Targets::matches`]; they are
/// ordered by id before drawing, so the same seed and the same candidates
/// in any order give the same pick. `all` (and a count covering every
/// eligible container) draws nothing from `rng`. An empty result means
/// nothing is eligible.
pub fn select<'a>(
    targets: &Targets,
    candidates: impl IntoIterator<Item = &'a Candidate>,
    rng: &mut ChaosRng,
) -> Vec<&'a Candidate> {
    let mut eligible: Vec<&Candidate> = candidates
        .into_iter()
        .filter(|c| c.running && targets.matches(c))
        .collect();
    eligible.sort_by(|a, b| a.id.cmp(&b.id));
    let count = targets.count(eligible.len());
    if count == eligible.len() {
        return eligible;
    }
    let mut picked: Vec<usize> = index::sample(rng, eligible.len(), count).into_vec();
    picked.sort_unstable();
    picked.into_iter().map(|i| eligible[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    fn fleet() -> Vec<Candidate> {
        let mk = |id: &str, app: &str, running: bool| Candidate {
            id: id.to_string(),
            name: format!("{app}-{id}"),
            labels: BTreeMap::from([
                ("app".to_string(), app.to_string()),
                ("tier".to_string(), "prod".to_string()),
            ]),
            annotations: BTreeMap::new(),
            origin: "joltd".into(),
            running,
        };
        vec![
            mk("c1", "web", true),
            mk("c2", "web", true),
            mk("c3", "web", true),
            mk("c4", "web", false),
            mk("c5", "db", true),
            mk("c6", "web", true),
            mk("c7", "web", true),
        ]
    }

    fn by_labels(labels: &[(&str, &str)], mode: Mode) -> Targets {
        Targets {
            names: Vec::new(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            origin: None,
            mode,
        }
    }

    fn ids(v: &[&Candidate]) -> Vec<String> {
        v.iter().map(|c| c.id.clone()).collect()
    }

    #[test]
    fn all_takes_every_running_match() {
        let f = fleet();
        let got = select(&by_labels(&[("app", "web")], Mode::All), &f, &mut rng(1));
        assert_eq!(
            ids(&got),
            ["c1", "c2", "c3", "c6", "c7"],
            "c4 is stopped, c5 is db"
        );
    }

    #[test]
    fn labels_must_all_match() {
        let f = fleet();
        let t = by_labels(&[("app", "db"), ("tier", "prod")], Mode::All);
        assert_eq!(ids(&select(&t, &f, &mut rng(1))), ["c5"]);
        let t = by_labels(&[("app", "db"), ("tier", "staging")], Mode::All);
        assert!(select(&t, &f, &mut rng(1)).is_empty());
    }

    #[test]
    fn names_match_a_name_or_an_id_and_combine_with_labels() {
        let f = fleet();
        let t = Targets {
            names: vec!["web-c1".into(), "c5".into(), "web-c4".into()],
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            origin: None,
            mode: Mode::All,
        };
        assert_eq!(ids(&select(&t, &f, &mut rng(1))), ["c1", "c5"]);
        let t = Targets {
            labels: BTreeMap::from([("app".into(), "web".into())]),
            ..t
        };
        assert_eq!(ids(&select(&t, &f, &mut rng(1))), ["c1"]);
    }

    #[test]
    fn one_picks_one_and_the_seed_decides_which() {
        let f = fleet();
        let t = by_labels(&[("app", "web")], Mode::One);
        let picks: Vec<Vec<String>> = (0..20).map(|s| ids(&select(&t, &f, &mut rng(s)))).collect();
        assert!(picks.iter().all(|p| p.len() == 1));
        assert!(
            picks.iter().any(|p| p != &picks[0]),
            "20 seeds all picked {:?}",
            picks[0]
        );
        assert_eq!(ids(&select(&t, &f, &mut rng(5))), picks[5]);
    }

    #[test]
    fn candidate_order_does_not_change_the_pick() {
        let f = fleet();
        let mut reversed = f.clone();
        reversed.reverse();
        let t = by_labels(&[("app", "web")], Mode::Fixed(2));
        assert_eq!(
            ids(&select(&t, &f, &mut rng(9))),
            ids(&select(&t, &reversed, &mut rng(9)))
        );
    }

    #[test]
    fn fixed_takes_n_or_everything_when_fewer_match() {
        let f = fleet();
        let got = select(
            &by_labels(&[("app", "web")], Mode::Fixed(3)),
            &f,
            &mut rng(2),
        );
        assert_eq!(got.len(), 3);
        assert!(got.windows(2).all(|w| w[0].id < w[1].id), "sorted by id");
        let got = select(
            &by_labels(&[("app", "web")], Mode::Fixed(50)),
            &f,
            &mut rng(2),
        );
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn percent_rounds_up_and_hits_at_least_one() {
        let t = by_labels(&[("app", "web")], Mode::Percent(30));
        assert_eq!(t.count(5), 2, "1.5 rounds up");
        assert_eq!(t.count(10), 3);
        assert_eq!(t.count(1), 1);
        assert_eq!(t.count(0), 0);
        assert_eq!(by_labels(&[], Mode::Percent(1)).count(3), 1);
        assert_eq!(by_labels(&[], Mode::Percent(100)).count(3), 3);
        let f = fleet();
        assert_eq!(select(&t, &f, &mut rng(4)).len(), 2);
    }

    /// Pods of a Kubernetes node, as containerd's CRI annotates them.
    fn pods() -> Vec<Candidate> {
        let mk = |id: &str, pod: &str, ns: &str, origin: &str| Candidate {
            id: id.to_string(),
            name: id.to_string(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::from([
                (
                    "io.kubernetes.cri.sandbox-name".to_string(),
                    pod.to_string(),
                ),
                (
                    "io.kubernetes.cri.sandbox-namespace".to_string(),
                    ns.to_string(),
                ),
            ]),
            origin: origin.to_string(),
            running: true,
        };
        vec![
            mk("a1", "web-7f9c-x2", "shop", "containerd/k8s.io"),
            mk("a2", "web-7f9c-q8", "shop", "containerd/k8s.io"),
            mk("a3", "web-7f9c-z1", "staging", "containerd/k8s.io"),
            mk("a4", "db-0", "shop", "containerd/k8s.io"),
            mk("a5", "web-1", "shop", "podman"),
        ]
    }

    fn by_annotations(pairs: &[(&str, &str)], origin: Option<&str>) -> Targets {
        Targets {
            names: Vec::new(),
            labels: BTreeMap::new(),
            annotations: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            origin: origin.map(str::to_string),
            mode: Mode::All,
        }
    }

    #[test]
    fn annotations_must_all_match_and_values_glob() {
        let p = pods();
        let t = by_annotations(
            &[
                ("io.kubernetes.cri.sandbox-name", "web-*"),
                ("io.kubernetes.cri.sandbox-namespace", "shop"),
            ],
            None,
        );
        assert_eq!(ids(&select(&t, &p, &mut rng(1))), ["a1", "a2", "a5"]);
        let t = by_annotations(&[("io.kubernetes.cri.sandbox-name", "web-7f9c-x2")], None);
        assert_eq!(ids(&select(&t, &p, &mut rng(1))), ["a1"]);
        let t = by_annotations(&[("io.kubernetes.cri.container-name", "*")], None);
        assert!(
            select(&t, &p, &mut rng(1)).is_empty(),
            "absent never matches"
        );
    }

    #[test]
    fn origin_matches_itself_and_what_is_below_it() {
        let p = pods();
        let pick = |o: &str| ids(&select(&by_annotations(&[], Some(o)), &p, &mut rng(1)));
        assert_eq!(pick("containerd"), ["a1", "a2", "a3", "a4"]);
        assert_eq!(pick("containerd/k8s.io"), ["a1", "a2", "a3", "a4"]);
        assert!(pick("containerd/default").is_empty());
        assert!(
            pick("containerd/k8s").is_empty(),
            "a prefix is not a namespace"
        );
        assert_eq!(pick("podman"), ["a5"]);
        assert!(pick("joltd").is_empty());
    }

    #[test]
    fn glob_stars_match_any_run() {
        for (pattern, text) in [
            ("web-*", "web-1"),
            ("web-*", "web-"),
            ("*", ""),
            ("*-db", "shop-db"),
            ("a*b*c", "abc"),
            ("a*b*c", "axxbyyc"),
            ("exact", "exact"),
        ] {
            assert!(glob(pattern, text), "{pattern} should match {text}");
        }
        for (pattern, text) in [
            ("web-*", "api-1"),
            ("*-db", "shop-dbx"),
            ("a*b*c", "acb"),
            ("a*a", "a"),
            ("exact", "exactly"),
        ] {
            assert!(!glob(pattern, text), "{pattern} should not match {text}");
        }
    }

    #[test]
    fn nothing_eligible_selects_nothing() {
        let f = fleet();
        let t = by_labels(&[("app", "cache")], Mode::One);
        assert!(select(&t, &f, &mut rng(1)).is_empty());
    }
}
