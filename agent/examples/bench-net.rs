//! bench-net: how long wiring a container's network takes, through the
//! library joltd uses. Run by scripts/bench-net, which makes the node
//! namespace and the directories and cleans up after it:
//!
//! ```text
//! bench-net NODE_NETNS STATE_DIR NETNS_DIR RUNS COUNT
//! ```
//!
//! 1. RUNS times: set up one container (netns, veth pair, address,
//!    routes, rules for one published TCP port) and tear it down; the
//!    median, min and max of each.
//! 2. COUNT containers set up one after another on one bridge, then torn
//!    down in the same order: the total of each, and the cost of the 1st,
//!    the middle and the last (the median of the 10 around each).
//!
//! Everything happens inside NODE_NETNS; no packet is sent.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jolt_agent::network::{Network, NetworkConfig, PortMapping, Request};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn summary(name: &str, v: &[Duration]) {
    println!(
        "  {name:<9} median {:7.2} ms   min {:7.2}   max {:7.2}   (n = {})",
        ms(median(v)),
        ms(*v.iter().min().unwrap()),
        ms(*v.iter().max().unwrap()),
        v.len()
    );
}

/// The median of the (up to) 10 values around position `at` (1-based).
fn around(v: &[Duration], at: usize) -> Duration {
    let start = at.saturating_sub(5).min(v.len().saturating_sub(10));
    median(&v[start..(start + 10).min(v.len())])
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, node, state, netns, runs, count] = args.as_slice() else {
        eprintln!("usage: bench-net NODE_NETNS STATE_DIR NETNS_DIR RUNS COUNT");
        std::process::exit(2);
    };
    let runs: usize = runs.parse().expect("RUNS is a number");
    let count: usize = count.parse().expect("COUNT is a number");
    let net = Network::new(NetworkConfig {
        name: "bench".into(),
        bridge: "jbench0".into(),
        subnet: "10.88.0.0/16".parse().unwrap(),
        gateway: Ipv4Addr::new(10, 88, 0, 1),
        state_dir: PathBuf::from(state),
        netns_dir: PathBuf::from(netns),
        node_netns: Some(PathBuf::from(node)),
    })
    .unwrap();
    let request =
        |i: usize| Request::new(&format!("bench-{i}")).port(PortMapping::tcp(10000 + i as u16, 80));
    // Warm-up: the bridge and the table exist before anything is timed.
    net.setup(&request(0)).unwrap();
    net.teardown("bench-0").unwrap();

    let (mut up, mut down) = (Vec::new(), Vec::new());
    for i in 1..=runs {
        let ((), t) = timed(|| drop(net.setup(&request(i)).unwrap()));
        up.push(t);
        let ((), t) = timed(|| net.teardown(&format!("bench-{i}")).unwrap());
        down.push(t);
    }
    println!("one container (netns + veth + address + route + rules for 1 TCP port), {runs} runs:");
    summary("setup", &up);
    summary("teardown", &down);

    let (mut up, mut down) = (Vec::new(), Vec::new());
    let ((), total_up) = timed(|| {
        for i in 1..=count {
            let ((), t) = timed(|| drop(net.setup(&request(i)).unwrap()));
            up.push(t);
        }
    });
    assert_eq!(net.leases().unwrap().len(), count);
    let ((), total_down) = timed(|| {
        for i in 1..=count {
            let ((), t) = timed(|| net.teardown(&format!("bench-{i}")).unwrap());
            down.push(t);
        }
    });
    assert!(net.leases().unwrap().is_empty());
    let mid = count.div_ceil(2);
    println!("{count} containers on one bridge, one after another:");
    for (name, v, total) in [("setup", &up, total_up), ("teardown", &down, total_down)] {
        println!(
            "  {name:<9} total {:8.1} ms   per container: #1 {:6.2} ms   #{mid} {:6.2} ms   #{count} {:6.2} ms   (median of the 10 around each)   ratio last/first {:.2}",
            ms(total),
            ms(around(v, 1)),
            ms(around(v, mid)),
            ms(around(v, count)),
            ms(around(v, count)) / ms(around(v, 1)),
        );
    }
    net.remove().unwrap();
}
