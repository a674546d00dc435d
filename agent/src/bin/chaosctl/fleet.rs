//! fleet: the joltd agents one chaosctl command talks to.
//!
//! The local joltd over its socket by default; with `--node ADDR`
//! (repeatable, TLS files from `--tls-ca`, `--tls-cert`, `--tls-key`) or a
//! fleet file (`--fleet FILE`: the TLS files and the nodes, each with a
//! name, an address and optionally the name its certificate holds), the
//! joltd of each node over mutual TLS. Commands that read or stop
//! experiments and containers ask every node at once and add a NODE
//! column; a node that fails is reported by name on stderr while the
//! others are shown, and the exit status is then 1.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use jolt_agent::client::{server_name_of, Client, ClientError};
use jolt_agent::tls::Files;
use serde::Deserialize;

/// Where the fleet comes from on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// A node's joltd to talk to over mutual TLS, ADDR:PORT of its
    /// --listen (repeatable); with --tls-ca, --tls-cert and --tls-key
    #[arg(
        long = "node",
        global = true,
        value_name = "ADDR:PORT",
        conflicts_with = "fleet"
    )]
    nodes: Vec<String>,
    /// A fleet file (YAML or JSON): ca, cert, key, and nodes (name,
    /// address, server-name)
    #[arg(long, global = true, env = "JOLT_FLEET", value_name = "FILE")]
    fleet: Option<PathBuf>,
    /// The CA joltd's certificates are signed by, for --node (PEM)
    #[arg(long, global = true, env = "JOLT_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// chaosctl's certificate for --node (PEM)
    #[arg(long, global = true, env = "JOLT_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM)
    #[arg(long, global = true, env = "JOLT_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
}

/// A fleet file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FleetFile {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    nodes: Vec<NodeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NodeEntry {
    name: String,
    address: String,
    /// The name joltd's certificate holds, when not the address's host.
    #[serde(default)]
    server_name: Option<String>,
}

/// One node: its name, and how to reach its joltd.
pub struct Node {
    pub name: String,
    pub client: Client,
}

/// The nodes a command talks to.
pub struct Nodes {
    pub list: Vec<Node>,
    /// Whether they were named (--node, --fleet): tables get a NODE column.
    pub named: bool,
}

impl Nodes {
    /// The local joltd at `socket`, or the nodes the flags name.
    pub fn from_flags(flags: &Flags, socket: &Path) -> Result<Nodes> {
        if let Some(file) = &flags.fleet {
            return fleet_file(file);
        }
        if flags.nodes.is_empty() {
            return Ok(Nodes {
                list: vec![Node {
                    name: "local".into(),
                    client: Client::new(socket),
                }],
                named: false,
            });
        }
        let (Some(ca), Some(cert), Some(key)) = (&flags.tls_ca, &flags.tls_cert, &flags.tls_key)
        else {
            bail!("--node needs --tls-ca, --tls-cert and --tls-key (or a fleet file: --fleet)");
        };
        let files = Files {
            ca: ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
        };
        let config = files.client()?;
        let mut list = Vec::new();
        for address in &flags.nodes {
            if list.iter().any(|n: &Node| n.name == *address) {
                bail!("--node {address}: given twice");
            }
            let name = server_name_of(address).map_err(anyhow::Error::msg)?;
            list.push(Node {
                name: address.clone(),
                client: Client::tls(address, address, name, config.clone()),
            });
        }
        Ok(Nodes { list, named: true })
    }

    /// The one node a command that acts on a single joltd talks to.
    pub fn one(&self, command: &str) -> Result<&Client> {
        match self.list.as_slice() {
            [node] => Ok(&node.client),
            many => bail!(
                "chaosctl {command} talks to one node at a time; {} are given (use one --node)",
                many.len()
            ),
        }
    }

    /// The client of the node named `name` (one of the list's).
    pub fn client(&self, name: &str) -> &Client {
        &self
            .list
            .iter()
            .find(|n| n.name == name)
            .expect("a node of the fleet")
            .client
    }

    /// `ask` of every node at once; the answers in the nodes' order.
    pub async fn each<'a, T, E, F, Fut>(&'a self, ask: F) -> Vec<(&'a str, Result<T, E>)>
    where
        F: Fn(&'a Node) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let asked = self.list.iter().map(ask);
        let answers = futures::future::join_all(asked).await;
        self.list
            .iter()
            .map(|n| n.name.as_str())
            .zip(answers)
            .collect()
    }
}

/// Reads a fleet file; its TLS paths are relative to its directory.
fn fleet_file(path: &Path) -> Result<Nodes> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("fleet {}", path.display()))?;
    let fleet: FleetFile =
        serde_yaml::from_str(&text).with_context(|| format!("fleet {}", path.display()))?;
    if fleet.nodes.is_empty() {
        bail!("fleet {}: nodes: none given", path.display());
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let files = Files {
        ca: base.join(&fleet.ca),
        cert: base.join(&fleet.cert),
        key: base.join(&fleet.key),
    };
    let config = files
        .client()
        .with_context(|| format!("fleet {}", path.display()))?;
    let mut list: Vec<Node> = Vec::new();
    for (i, n) in fleet.nodes.iter().enumerate() {
        let at = || format!("fleet {}: nodes[{i}]", path.display());
        if !jolt_runtime::names::name(&n.name, 64) {
            bail!(
                "{}: name {:?}: 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit",
                at(),
                n.name
            );
        }
        if list.iter().any(|o| o.name == n.name) {
            bail!("{}: name {:?} given twice", at(), n.name);
        }
        let name = match &n.server_name {
            Some(s) => rustls::pki_types::ServerName::try_from(s.clone())
                .map_err(|e| anyhow::anyhow!("{}: server-name {s:?}: {e}", at()))?,
            None => {
                server_name_of(&n.address).map_err(|e| anyhow::anyhow!("{}: address {e}", at()))?
            }
        };
        list.push(Node {
            name: n.name.clone(),
            client: Client::tls(&n.name, &n.address, name, config.clone()),
        });
    }
    Ok(Nodes { list, named: true })
}

/// The answers that came, and whether any node failed (each failure
/// printed on stderr naming its node). The local joltd's failure is the
/// command's, as it always was.
pub fn gather<'a, T, E: Into<anyhow::Error>>(
    nodes: &Nodes,
    answers: Vec<(&'a str, Result<T, E>)>,
) -> Result<(Vec<(&'a str, T)>, bool)> {
    let answers = answers
        .into_iter()
        .map(|(node, a)| (node, a.map_err(Into::into)));
    if !nodes.named {
        let mut ok = Vec::new();
        for (node, answer) in answers {
            ok.push((node, answer?));
        }
        return Ok((ok, false));
    }
    Ok(split(answers.collect()))
}

/// `method path` of every node, where the experiment or container it
/// names may be on some nodes only: a node that answers 404 does not
/// have it; none having it is the first 404's error.
pub async fn wherever<'a>(
    nodes: &'a Nodes,
    method: hyper::Method,
    path: &str,
) -> Result<(Vec<(&'a str, serde_json::Value)>, bool)> {
    let answers = nodes
        .each(|n| {
            let method = method.clone();
            async move { n.client.call::<serde_json::Value>(method, path, None).await }
        })
        .await;
    let mut missing = None;
    let mut found = Vec::new();
    for (node, answer) in answers {
        match answer {
            Err(e @ ClientError::Refused { status: 404, .. }) => {
                missing.get_or_insert(e);
            }
            other => found.push((node, other)),
        }
    }
    if found.is_empty() {
        return Err(missing.expect("every node answered").into());
    }
    gather(nodes, found)
}

/// Prints experiment statuses, one per node that answered: JSON (with a
/// node field when the nodes were named), or each status under a `node:`
/// line.
pub fn print_statuses(
    nodes: &Nodes,
    fmt: crate::output::Format,
    got: Vec<(&str, serde_json::Value)>,
) {
    match fmt {
        crate::output::Format::Json if nodes.named => json(nodes, got),
        crate::output::Format::Json => got.iter().for_each(|(_, s)| crate::output::json(s)),
        crate::output::Format::Table => {
            for (node, s) in &got {
                if nodes.named {
                    println!("node: {node}");
                }
                crate::experiment::print_status(s);
            }
        }
    }
}

/// A table's header and rows, with a NODE column first when the nodes
/// were named.
pub fn table(nodes: &Nodes, header: &[&str], rows: Vec<(&str, Vec<String>)>) {
    let mut head: Vec<&str> = header.to_vec();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(node, mut row)| {
            if nodes.named {
                row.insert(0, node.to_string());
            }
            row
        })
        .collect();
    if nodes.named {
        head.insert(0, "NODE");
    }
    crate::output::table(&head, &rows);
}

/// Items as JSON, each with a "node" field when the nodes were named.
pub fn json<T: serde::Serialize>(nodes: &Nodes, items: Vec<(&str, T)>) {
    let all: Vec<serde_json::Value> = items
        .into_iter()
        .map(|(node, item)| {
            let mut v = serde_json::to_value(item).expect("answers serialize");
            if let (true, Some(map)) = (nodes.named, v.as_object_mut()) {
                map.insert("node".into(), node.into());
            }
            v
        })
        .collect();
    crate::output::json(&all);
}

/// Prints the failures among `answers` on stderr, each naming its node
/// once; the answers that came; and whether any failed.
fn split<T>(answers: Vec<(&str, Result<T>)>) -> (Vec<(&str, T)>, bool) {
    let mut ok = Vec::new();
    let mut failed = false;
    for (node, answer) in answers {
        match answer {
            Ok(v) => ok.push((node, v)),
            Err(e) => {
                failed = true;
                let msg = crate::one_line(&e);
                match msg.starts_with("node ") {
                    true => eprintln!("chaosctl: {msg}"),
                    false => eprintln!("chaosctl: node {node}: {msg}"),
                }
            }
        }
    }
    (ok, failed)
}
