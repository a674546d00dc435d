//! `joltd`: the jolt node agent. Parses its command line, sets up logging,
//! reverts the faults its fault journal still holds, re-adopts the
//! containers in its state directory, and serves the API
//! until SIGTERM or SIGINT, leaving the containers running (and saving
//! the records a full disk kept in memory, if it can). `joltd
//! monitor` is the per-container monitor it starts (not for people);
//! `joltd network-rm` removes the network its flags name.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand, ValueEnum};
use jolt_agent::container::parse_memory;
use jolt_agent::logs::Limit;
use jolt_agent::network::{default_subnet, Chosen, Network, NetworkConfig, Subnet};
use jolt_agent::targets::{own::Own, ForeignRoots, Sources};
use jolt_agent::{api, client::DEFAULT_SOCKET, daemon, experiments, monitor, oci::Jolt};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
#[command(
    name = "joltd",
    version,
    about = "The jolt node agent: runs, supervises and re-adopts containers"
)]
struct Cli {
    /// The API socket
    #[arg(long, env = "JOLT_SOCKET", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Where container records, logs (unless --log-dir) and bundles, and
    /// the fault journal live
    #[arg(long, default_value = "/var/lib/jolt")]
    state_dir: PathBuf,
    /// Where containers' logs go, a directory each (default: each
    /// container's directory in --state-dir)
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// The size at which a container's log file is rotated: bytes, or a
    /// number with a unit k, m, g (at least 32k)
    #[arg(long, default_value = "10m", value_parser = parse_memory)]
    log_max_size: u64,
    /// How many log files a container keeps, the one written included;
    /// at a rotation the oldest is dropped
    #[arg(long, default_value_t = 2)]
    log_max_files: u32,
    /// The --root joltd gives jolt for its own containers (runtime state;
    /// tmpfs is best)
    #[arg(long, default_value = "/run/joltd")]
    jolt_root: PathBuf,
    /// A state root where jolt keeps the containers it runs for others
    /// (containerd, podman), read for chaos targets and never written: a
    /// directory per container, or per namespace of those. Repeatable;
    /// when given, replaces the defaults /run/containerd/runc (containerd's
    /// runc shim) and /run/jolt (podman, jolt run by hand)
    #[arg(long = "runtime-root", value_name = "DIR")]
    runtime_roots: Vec<PathBuf>,
    /// The jolt binary (default: beside joltd, else jolt on PATH)
    #[arg(long)]
    jolt: Option<PathBuf>,
    /// The bridge containers are wired to
    #[arg(long, default_value = "jolt0")]
    bridge: String,
    /// The containers' subnet (the bridge takes its first address).
    /// Without it: the one chosen at the network's first start and
    /// remembered in STATE_DIR/networks/BRIDGE/subnet, the first block of
    /// 10.90.0.0/16 .. 10.127.0.0/16, 172.20.0.0/16 .. 172.31.0.0/16 that
    /// no route of the node overlaps (10.88.0.0/16, podman's, is not among
    /// them)
    #[arg(long)]
    subnet: Option<Subnet>,
    /// Where containers' network namespaces are mounted
    #[arg(long, default_value = "/run/jolt/netns")]
    netns_dir: PathBuf,
    /// The network namespace (a file, e.g. /run/netns/NAME) that holds the
    /// bridge, the host ends and the firewall rules, instead of joltd's
    /// own; for tests and nesting
    #[arg(long)]
    node_netns: Option<PathBuf>,
    /// Log format on stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log debug messages too
    #[arg(long)]
    debug: bool,
    /// API connections served at once; at most half the open-file limit
    /// (past it, the oldest connections are asked to close once idle)
    #[arg(long, default_value_t = api::connections::MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_connections: usize,
    /// How long a client may take to send a request head (and how long an
    /// idle API connection stays open), as 30s or 1m
    #[arg(long, default_value_t = api::connections::HEADER_TIMEOUT.into(), value_parser = timeout)]
    header_timeout: humantime::Duration,
    /// How long a client may take to send a request body once its head
    /// has arrived, as 10s or 1m
    #[arg(long, default_value_t = api::connections::BODY_TIMEOUT.into(), value_parser = timeout)]
    body_timeout: humantime::Duration,
    /// Serve /metrics (and nothing else) over plain TCP on ADDR:PORT for
    /// a Prometheus server to scrape, e.g. 127.0.0.1:9464; off by default.
    /// The listener is in the node's network namespace
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Serve the whole API over TCP on ADDR:PORT with mutual TLS, for
    /// chaosctl --node and fleet files (needs --tls-ca, --tls-cert and
    /// --tls-key; off by default). The listener is in the node's network
    /// namespace; the Unix socket stays as it is
    #[arg(long, value_name = "ADDR:PORT", requires_all = ["tls_ca", "tls_cert", "tls_key"])]
    listen: Option<std::net::SocketAddr>,
    /// The CA a client's certificate must be signed by (PEM)
    #[arg(long, value_name = "FILE", requires = "listen")]
    tls_ca: Option<PathBuf>,
    /// joltd's certificate for --listen, with its chain (PEM)
    #[arg(long, value_name = "FILE", requires = "listen")]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "listen")]
    tls_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// An API timeout: a duration of at least 100 ms (0 would cut every
/// request off).
fn timeout(text: &str) -> Result<humantime::Duration, String> {
    let d: humantime::Duration = text.parse().map_err(|e| format!("{e} (e.g. 30s)"))?;
    if *d < std::time::Duration::from_millis(100) {
        return Err(format!("{text} is shorter than 100ms"));
    }
    Ok(d)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The monitor of one container run (joltd starts it; not for people)
    #[command(hide = true)]
    Monitor {
        #[arg(long)]
        jolt: PathBuf,
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        log_dir: PathBuf,
        #[arg(long)]
        log_max_size: u64,
        #[arg(long)]
        log_max_files: u32,
        id: String,
    },
    /// Remove the network the flags name (bridge, firewall table when no
    /// rule is left in it, its state); refused while a container uses it
    NetworkRm,
    /// Write joltd's man pages into DIR (for scripts/man; not for people)
    #[command(hide = true)]
    Man { dir: PathBuf },
}

fn main() -> ExitCode {
    // What joltd inherited (a jobserver pipe from cargo, a socket from a
    // shell) is not for its monitors, nor through them for jolt.
    // SAFETY: close_range with CLOEXEC only changes descriptor flags.
    unsafe {
        libc::close_range(
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
        )
    };
    let cli = Cli::parse();
    if let Some(Command::Man { dir }) = &cli.command {
        use clap::CommandFactory;
        return match jolt_runtime::manpages::write(Cli::command(), "8", dir) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("joltd: man pages in {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Monitor {
        jolt,
        root,
        dir,
        log_dir,
        log_max_size,
        log_max_files,
        id,
    }) = cli.command
    {
        let log_limit = match Limit::new(log_max_size, log_max_files) {
            Ok(l) => l,
            Err(e) => {
                // The first line joltd reads from its monitor.
                println!("error monitor: {e}");
                return ExitCode::FAILURE;
            }
        };
        let args = monitor::Args {
            jolt: Jolt { bin: jolt, root },
            id,
            dir,
            log_dir,
            log_limit,
        };
        return ExitCode::from(monitor::main(&args) as u8);
    }
    init_log(cli.log_format, cli.debug);
    if let Some(Command::NetworkRm) = cli.command {
        return match network(&cli).and_then(|n| Ok(n.remove()?)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The network joltd's flags name (the bridge names the network too).
fn network(cli: &Cli) -> Result<Network> {
    let subnet = match cli.subnet {
        Some(subnet) => subnet,
        None => {
            let (subnet, how) = default_subnet(
                &cli.state_dir,
                &cli.bridge,
                &cli.bridge,
                cli.node_netns.as_deref(),
            )?;
            let how = match how {
                Chosen::Remembered => "remembered",
                Chosen::Picked => "picked from the pool: the first block no route overlaps",
            };
            tracing::info!("network {}: subnet {subnet} ({how})", cli.bridge);
            subnet
        }
    };
    Ok(Network::new(NetworkConfig {
        name: cli.bridge.clone(),
        bridge: cli.bridge.clone(),
        subnet,
        gateway: subnet.first_host(),
        state_dir: cli.state_dir.clone(),
        netns_dir: cli.netns_dir.clone(),
        node_netns: cli.node_netns.clone(),
    })?)
}

fn init_log(format: LogFormat, debug: bool) {
    let level = if debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(cli: Cli) -> Result<()> {
    // Bad flags change nothing: checked before anything is made.
    let foreign = ForeignRoots::new(&cli.runtime_roots, &cli.jolt_root)?;
    let exe = std::env::current_exe().context("finding joltd's own binary")?;
    let jolt = cli.jolt.clone().unwrap_or_else(|| {
        let beside = exe.with_file_name("jolt");
        if beside.is_file() {
            beside
        } else {
            PathBuf::from("jolt")
        }
    });
    let log_limit =
        Limit::new(cli.log_max_size, cli.log_max_files).map_err(|e| anyhow!("--{e}"))?;
    let log_dir = match &cli.log_dir {
        Some(dir) => Some(log_dir(dir)?),
        None => None,
    };
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let network = network(&cli)?;
    // Another joltd on this socket owns the journal: refuse before
    // replaying it. The socket is bound once joltd is ready, so that a
    // client that connects finds the faults of an earlier run reverted.
    api::ensure_free(&cli.socket)?;
    let metrics_listener = match cli.metrics_listen {
        Some(addr) => Some(tcp_listener(&network, addr, "--metrics-listen")?),
        None => None,
    };
    let tls_listener = match (cli.listen, &cli.tls_ca, &cli.tls_cert, &cli.tls_key) {
        (Some(addr), Some(ca), Some(cert), Some(key)) => {
            let files = jolt_agent::tls::Files {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            };
            let config = files.server().context("--listen")?;
            let tcp = tcp_listener(&network, addr, "--listen")?;
            Some(api::tls_listener::Listener::new(tcp, config))
        }
        _ => None,
    };
    // Before anything else: no fault of an earlier run outlives it.
    let state_dir = cli.state_dir.clone();
    let (journal, recovered) =
        tokio::task::spawn_blocking(move || experiments::recover(&state_dir))
            .await
            .expect("journal replay does not panic")
            .context("replaying the fault journal")?;
    let cfg = daemon::Config {
        network,
        state_dir: cli.state_dir.clone(),
        jolt: Jolt {
            bin: jolt,
            root: cli.jolt_root,
        },
        exe,
        log_dir,
        log_limit,
    };
    let daemon = daemon::Daemon::start(cfg).await.context("starting")?;
    tracing::info!(roots = ?foreign.roots(), "reading foreign containers");
    let targets = Arc::new(Sources {
        own: Arc::new(Own(daemon.clone())),
        foreign: Arc::new(foreign),
    });
    let experiments = experiments::Experiments::open(
        &cli.state_dir,
        journal,
        recovered,
        targets.clone(),
        daemon.clone(),
    )
    .context("loading experiments")?;
    let listener = api::bind(&cli.socket)?;
    tracing::info!(socket = %cli.socket.display(), "listening");
    if let Some(l) = metrics_listener {
        tracing::info!(address = ?l.local_addr().ok(), "serving /metrics");
        tokio::spawn(api::metrics_listener::serve(l, experiments.clone()));
    }
    if let Some(l) = &tls_listener {
        tracing::info!(address = ?l.local_addr(), "serving the API with mutual TLS");
    }
    let agent = api::Agent {
        daemon: daemon.clone(),
        targets,
        experiments,
        limits: api::Limits {
            max_connections: cli.max_connections,
            header_timeout: cli.header_timeout.into(),
            body_timeout: cli.body_timeout.into(),
        },
    };
    api::serve(listener, tls_listener, agent, async {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
    .await;
    daemon.flush().await;
    let _ = std::fs::remove_file(&cli.socket);
    tracing::info!("shutting down; containers keep running and are re-adopted at the next start");
    Ok(())
}

/// A TCP socket bound to `addr` in the node's network namespace; `flag`
/// names it in errors.
fn tcp_listener(
    network: &Network,
    addr: std::net::SocketAddr,
    flag: &str,
) -> Result<tokio::net::TcpListener> {
    let listener = network.run_in_node(|| {
        let l = std::net::TcpListener::bind(addr).and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        });
        l.map_err(|source| jolt_agent::network::Error::Io {
            what: format!("{flag} {addr}"),
            source,
        })
    })?;
    Ok(tokio::net::TcpListener::from_std(listener)?)
}

/// `--log-dir`, made absolute (monitors run in /) and made (0700) when
/// missing.
fn log_dir(dir: &Path) -> Result<PathBuf> {
    let dir = std::path::absolute(dir).with_context(|| format!("--log-dir {}", dir.display()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("--log-dir {}: creating it", dir.display()))?;
    Ok(dir)
}
