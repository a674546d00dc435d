//! daemon: joltd's containers, in memory, and what is done to them.
//!
//! Owns the table of containers (unique names), the operations the API
//! offers (run, list, inspect, stop, remove, where the logs are; a run
//! checks the request and the user's bundle before it makes anything), watching
//! each run's monitor through a pidfd, applying the restart policy when a
//! run ends, and re-adopting every container at start. Each change of a
//! container's status is written to the store before it is acted on,
//! except where a full disk must not hold a container up: a stop, a
//! removal, the end of a run and a restart go on when the save fails; the
//! record then stays in memory, marked unsaved (logged), and is saved by
//! the next save, or again every [`RESAVE_EVERY`] and at shutdown, until
//! it is written.
//!
//! Where a container's logs are is decided here too: in its directory, or
//! in one of its own under `--log-dir` (kept in its record); `remove`
//! deletes them before anything else, which frees space on a full disk.
//!
//! At start, and on a prune, what joltd made and has no record of is
//! reconciled (see [`crate::reconcile`]).
//!
//! The container's network (its netns, address and published ports) comes
//! from the network module: `run` sets it up once, before the bundle is
//! written (config.json joins the netns by path), so restarts and
//! re-adoption keep the same netns and address; `remove`, and a `run` that
//! failed, tear it down. The network library does its netns work on
//! threads of its own; joltd calls it from `spawn_blocking`, never on a
//! tokio worker.

use std::collections::{HashMap, HashSet};
use std::fs::DirBuilder;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::watch;

use crate::bundle;
use crate::container::{ImageUse, Invalid, Record, RunRequest, State, Status};
use crate::image::{Image, ImageError, Images, Removal};
use crate::layer;
use crate::logs::{self, Limit};
use crate::monitor::{self, BUNDLE_DIR, EXIT_FILE, MONITOR_FILE};
use crate::network::{self, Network};
use crate::oci::Jolt;
use crate::reconcile::{self, Mode, Report};
use crate::store::{Store, StoreError};
use crate::supervise;

/// How long `stop` waits after SIGKILL before it gives up.
const KILL_WAIT: Duration = Duration::from_secs(30);
/// How often records that could not be saved are tried again.
pub const RESAVE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("container {0}: no such container")]
    NotFound(String),
    #[error("container {name}: {why}")]
    Conflict { name: String, why: String },
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The user's bundle cannot be used as it is.
    #[error(transparent)]
    Bundle(bundle::BundleError),
    #[error("container {name}: {why}")]
    Failed { name: String, why: String },
    #[error("state: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// Where joltd keeps things and what it runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub state_dir: PathBuf,
    /// The `jolt` binary and its `--root`.
    pub jolt: Jolt,
    /// The joltd binary, run as `joltd monitor`.
    pub exe: PathBuf,
    /// The network every container is wired to.
    pub network: Network,
    /// Where new containers' logs go, a directory each; in the
    /// container's own directory when None.
    pub log_dir: Option<PathBuf>,
    /// The size limit of each container's log.
    pub log_limit: Limit,
}

/// One container: its record, and a counter of the runs that ended.
struct Entry {
    id: String,
    name: String,
    /// The ID of the image it runs, if it runs one.
    image: Option<String>,
    record: tokio::sync::Mutex<Record>,
    exits: watch::Sender<u64>,
    removed: AtomicBool,
    /// The record in memory differs from the one on disk: saving it
    /// failed.
    unsaved: AtomicBool,
}

impl Entry {
    fn new(record: Record) -> Arc<Entry> {
        Arc::new(Entry {
            id: record.id.clone(),
            name: record.spec.name.clone(),
            image: record.spec.image.as_ref().map(|i| i.id.clone()),
            record: tokio::sync::Mutex::new(record),
            exits: watch::Sender::new(0),
            removed: AtomicBool::new(false),
            unsaved: AtomicBool::new(false),
        })
    }
}

pub struct Daemon {
    cfg: Config,
    store: Store,
    images: Images,
    containers: Mutex<HashMap<String, Arc<Entry>>>,
    /// Requests that change containers (run, stop, remove) under way.
    in_flight: AtomicUsize,
}

/// Counts one request in [`Daemon::in_flight`] while it lives.
struct Busy<'a>(&'a AtomicUsize);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a `run` reserved, until it either runs ([`Reserved::keep`]) or is
/// undone ([`Reserved::release`]). Dropped otherwise (a panic), the undoing
/// happens in a task of its own.
struct Reserved {
    daemon: Option<Arc<Daemon>>,
    entry: Arc<Entry>,
}

impl Reserved {
    fn keep(mut self) {
        self.daemon = None;
    }

    async fn release(mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.unmake(&self.entry).await;
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            let entry = self.entry.clone();
            tokio::spawn(async move { daemon.unmake(&entry).await });
        }
    }
}

/// Where a container's log files are, and how to tell when the log is
/// complete.
pub struct Logs {
    pub dir: PathBuf,
    entry: Arc<Entry>,
}

impl Logs {
    /// Whether no more lines can come: the container is removed, or exited
    /// with no restart ahead.
    pub async fn finished(&self) -> bool {
        self.entry.removed.load(Ordering::SeqCst)
            || self.entry.record.lock().await.status.state == State::Exited
    }
}

impl Daemon {
    /// Opens the state directory and re-adopts every container in it.
    pub async fn start(cfg: Config) -> Result<Arc<Daemon>, DaemonError> {
        let store = Store::open(&cfg.state_dir)?;
        let loaded = store.load_all()?;
        for path in &loaded.removed {
            tracing::warn!(path = %path.display(), "removed what a joltd killed mid-write left");
        }
        for e in loaded.errors {
            tracing::error!("skipping a container: {e}");
        }
        let records = loaded.records;
        let images = Images::open(&store.images().join(crate::image::DIR))?;
        let daemon = Arc::new(Daemon {
            cfg,
            store,
            images,
            containers: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
        });
        let entries: Vec<_> = records.into_iter().map(Entry::new).collect();
        for e in &entries {
            daemon.table().insert(e.id.clone(), e.clone());
        }
        for e in entries {
            daemon.clone().adopt(e).await;
        }
        tokio::spawn(resave_every(Arc::downgrade(&daemon)));
        daemon.reconcile(Mode::Start).await;
        Ok(daemon)
    }

    /// Saves `rec`, the record of `entry`. A failure (a full disk) is
    /// logged and leaves the record marked unsaved, to be saved again:
    /// what is done to the container does not wait for its record.
    fn save(&self, entry: &Entry, rec: &Record) {
        match self.store.save(rec) {
            Ok(()) => {
                if entry.unsaved.swap(false, Ordering::SeqCst) {
                    tracing::info!(container = %entry.name, "record saved again");
                }
            }
            Err(e) if entry.unsaved.swap(true, Ordering::SeqCst) => {
                tracing::debug!(container = %entry.name, "{e}");
            }
            Err(e) => tracing::error!(
                container = %entry.name,
                "{e}; the record is kept in memory and saved again once it can be"
            ),
        }
    }

    /// Tries again to save the records that could not be saved; the
    /// names of those still unsaved.
    async fn resave(&self) -> Vec<String> {
        let entries: Vec<_> = self
            .table()
            .values()
            .filter(|e| e.unsaved.load(Ordering::SeqCst))
            .cloned()
            .collect();
        let mut left = Vec::new();
        for e in entries {
            let rec = e.record.lock().await;
            if e.removed.load(Ordering::SeqCst) || !e.unsaved.load(Ordering::SeqCst) {
                continue;
            }
            self.save(&e, &rec);
            if e.unsaved.load(Ordering::SeqCst) {
                left.push(e.name.clone());
            }
        }
        left
    }

    /// At shutdown: a last try to save every unsaved record, and a warning
    /// naming those whose last saved state the next start will use.
    pub async fn flush(&self) {
        for name in self.resave().await {
            tracing::warn!(
                container = %name,
                "its record could not be saved: the next start goes by the one saved before"
            );
        }
    }

    /// What joltd made and has no record of (see [`crate::reconcile`]):
    /// removes what no process uses, and reports a container that runs
    /// without a record, never killing it (`chaosctl system prune`).
    pub async fn prune(self: &Arc<Self>) -> Report {
        let _busy = self.busy();
        self.reconcile(Mode::Prune).await
    }

    async fn reconcile(self: &Arc<Self>, mode: Mode) -> Report {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let known = || this.table().keys().cloned().collect::<HashSet<_>>();
            reconcile::reconcile(
                &this.cfg.network,
                &this.cfg.jolt,
                &this.store.layers(),
                &known,
                mode,
            )
        })
        .await
        .expect("reconciling does not panic")
    }

    fn busy(&self) -> Busy<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(&self.in_flight)
    }

    /// Waits, at most `limit`, for the run, stop and remove requests under
    /// way to finish (joltd shutting down lets them complete rather than
    /// leave a half-made container for the next start to sort out).
    pub async fn quiesce(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("shutting down with requests still under way");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        self.containers.lock().expect("no panics while holding it")
    }

    fn find(&self, name: &str) -> Result<Arc<Entry>, DaemonError> {
        let table = self.table();
        table
            .get(name)
            .or_else(|| table.values().find(|e| e.name == name))
            .cloned()
            .ok_or_else(|| DaemonError::NotFound(name.to_string()))
    }

    /// Takes a container that was in the store when joltd started: a live
    /// monitor is watched again, a dead one's exit is recorded and the
    /// restart policy applied, a pending restart is scheduled.
    async fn adopt(self: Arc<Self>, entry: Arc<Entry>) {
        let dir = self.store.dir(&entry.id);
        let mut rec = entry.record.lock().await;
        match rec.status.state {
            State::Exited => {
                for f in [MONITOR_FILE, EXIT_FILE] {
                    let _ = std::fs::remove_file(dir.join(f));
                }
            }
            State::Restarting => {
                let wait = supervise::delay(rec.status.backoff_step);
                tokio::spawn(self.clone().restart_after(entry.clone(), wait));
            }
            State::Running | State::Creating => {
                let live = match monitor::info(&dir) {
                    Ok(info) => info.and_then(|i| Some((monitor::adopt(&i)?, i))),
                    Err(e) => {
                        tracing::warn!(container = %entry.name, "{e}");
                        None
                    }
                };
                match live {
                    Some((pidfd, info)) => {
                        tracing::info!(container = %entry.name, monitor = info.pid, "re-adopted");
                        rec.status.state = State::Running;
                        rec.status.pid = info.init_pid;
                        self.save(&entry, &rec);
                        tokio::spawn(self.clone().watch(entry.clone(), pidfd));
                    }
                    None => {
                        drop(rec);
                        tracing::info!(container = %entry.name, "exited while joltd was away");
                        self.ended(entry).await;
                    }
                }
            }
        }
    }

    /// Runs a new container; returns once it runs, or fails having left
    /// nothing behind.
    pub async fn run(self: &Arc<Self>, req: RunRequest) -> Result<Record, DaemonError> {
        let _busy = self.busy();
        let id = new_id();
        let mut spec = req.validate(&id)?;
        if let Some(reference) = &req.image {
            let image = self.images.find(reference)?;
            spec.image = Some(ImageUse {
                id: image.id,
                reference: reference.clone(),
            });
        }
        let (checked, images) = (spec.clone(), self.store.images());
        tokio::task::spawn_blocking(move || bundle::check(&checked, &images))
            .await
            .expect("bundle checking does not panic")
            .map_err(DaemonError::Bundle)?;
        let name = spec.name.clone();
        let mut record = Record {
            id: id.clone(),
            spec,
            created: monitor::now(),
            status: Status::new(),
            log_dir: self.cfg.log_dir.as_ref().map(|d| d.join(&id)),
        };
        let entry = Entry::new(record.clone());
        {
            // An image is not removed between here and the table showing
            // this container uses it.
            let _images = self.images.lock();
            if let Some(image) = &entry.image {
                if !self.images.rootfs(image).is_dir() {
                    return Err(ImageError::NotFound(req.image.unwrap_or_default()).into());
                }
            }
            let mut table = self.table();
            if table.values().any(|e| e.name == name) {
                return Err(DaemonError::Conflict {
                    name,
                    why: "already exists".into(),
                });
            }
            table.insert(id.clone(), entry.clone());
        }
        // From here on, whatever way this returns (or panics), what the run
        // reserved goes unless it ends running.
        let reserved = Reserved {
            daemon: Some(self.clone()),
            entry: entry.clone(),
        };
        let made = self.prepare(&mut record).await;
        let mut rec = entry.record.lock().await;
        let started = match made {
            Ok(()) => {
                rec.status.address = record.status.address;
                self.clone().start_run(&entry, &mut rec).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = started {
            reserved.release().await;
            return Err(e);
        }
        reserved.keep();
        tracing::info!(container = %name, id = %id, pid = ?rec.status.pid, "running");
        Ok(rec.clone())
    }

    /// Undoes a run that did not start, whatever step it failed at: the
    /// runtime's container (if the monitor got as far as creating it), the
    /// network (lease, ports, netns, veth, rules), the table entry and the
    /// directory with its record and bundle. Each step runs even if an
    /// earlier one failed; what could not be undone is logged, and the
    /// next reconcile finds it.
    async fn unmake(&self, entry: &Entry) {
        entry.removed.store(true, Ordering::SeqCst);
        let jolt = self.cfg.jolt.clone();
        let id = entry.id.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || jolt.delete(&id)).await {
            tracing::error!(container = %entry.name, "undoing a failed run: {e}");
        }
        if let Err(net) = self.teardown(&entry.id).await {
            tracing::error!(container = %entry.name, "undoing a failed run: {net}");
        }
        if let Some(dir) = self.cfg.log_dir.as_ref().map(|d| d.join(&entry.id)) {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => tracing::error!(
                    container = %entry.name,
                    "undoing a failed run: {}: {e}",
                    dir.display()
                ),
                _ => {}
            }
        }
        self.table().remove(&entry.id);
        if let Err(e) = layer::remove(&self.store.layer(&entry.id)) {
            tracing::error!(container = %entry.name, "undoing a failed run: {e}");
        }
        if let Err(rm) = self.store.remove(&entry.id) {
            tracing::error!(container = %entry.name, "undoing a failed run: {rm}");
        }
    }

    /// The container's directory, first record, network and bundle (the
    /// record first: a joltd killed meanwhile finds the container at its
    /// next start, rather than a directory it cannot read). The address
    /// goes into `record`.
    async fn prepare(&self, record: &mut Record) -> Result<(), DaemonError> {
        let dir = self.store.create_dir(&record.id)?;
        self.store.save(record)?;
        let name = record.spec.name.clone();
        if let Some(logs) = &record.log_dir {
            DirBuilder::new()
                .mode(0o700)
                .create(logs)
                .map_err(|e| DaemonError::Failed {
                    name: name.clone(),
                    why: format!("log directory {}: {e}", logs.display()),
                })?;
        }
        let mut req = network::Request::new(&record.id);
        req.ports = record.spec.ports.clone();
        let net = self.cfg.network.clone();
        let attached = tokio::task::spawn_blocking(move || net.setup(&req))
            .await
            .expect("network setup does not panic");
        let attachment = attached.map_err(|e| self.network_error(&name, e))?;
        record.status.address = Some(attachment.address);
        self.store.save(record)?;
        let (spec, images) = (record.spec.clone(), self.store.images());
        let bundle_dir = dir.join(BUNDLE_DIR);
        let layer_dir = self.store.layer(&record.id);
        tokio::task::spawn_blocking(move || {
            bundle::write(
                &bundle_dir,
                &spec,
                &images,
                Some(&attachment.netns),
                &layer_dir,
            )
        })
        .await
        .expect("bundle writing does not panic")
        .map_err(|e| DaemonError::Failed {
            name,
            why: e.to_string(),
        })?;
        Ok(())
    }

    /// A network error as the user should see it: a port or address
    /// another container holds is a conflict naming that container.
    fn network_error(&self, name: &str, e: network::Error) -> DaemonError {
        let owner_name = |owner: &str| {
            self.table()
                .get(owner)
                .map_or_else(|| owner.to_string(), |e| e.name.clone())
        };
        match e {
            network::Error::PortTaken { port, owner, .. } => DaemonError::Conflict {
                name: name.to_string(),
                why: format!(
                    "port {port} is already published by container {}",
                    owner_name(&owner)
                ),
            },
            network::Error::AddressTaken { address, owner, .. } => DaemonError::Conflict {
                name: name.to_string(),
                why: format!(
                    "address {address} is already used by container {}",
                    owner_name(&owner)
                ),
            },
            other => DaemonError::Failed {
                name: name.to_string(),
                why: format!("network: {other}"),
            },
        }
    }

    /// Tears down the network of container `id` (its rules, veth, netns
    /// and lease); tearing down what is not there is not an error.
    async fn teardown(&self, id: &str) -> Result<(), network::Error> {
        let net = self.cfg.network.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || net.teardown(&id))
            .await
            .expect("network teardown does not panic")
    }

    /// Starts one run through a new monitor and watches it; `rec` is
    /// Running afterwards, and saved.
    async fn start_run(
        self: Arc<Self>,
        entry: &Arc<Entry>,
        rec: &mut Record,
    ) -> Result<(), DaemonError> {
        let dir = self.store.dir(&entry.id);
        for f in [MONITOR_FILE, EXIT_FILE] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        let args = monitor::Args {
            jolt: self.cfg.jolt.clone(),
            id: entry.id.clone(),
            dir,
            log_dir: self.log_dir(rec),
            log_limit: self.cfg.log_limit,
        };
        let exe = self.cfg.exe.clone();
        let failed = |why: String| DaemonError::Failed {
            name: entry.name.clone(),
            why,
        };
        let started = tokio::task::spawn_blocking(move || monitor::spawn(&exe, &args))
            .await
            .expect("spawning does not panic")
            .map_err(failed)?;
        let pidfd = match jolt_runtime::pidfd::open(started.monitor_pid) {
            Ok(fd) => fd,
            Err(e) => {
                // The monitor goes on once its stdin closes: take the
                // container down with it, as nobody could watch it.
                let jolt = self.cfg.jolt.clone();
                let id = entry.id.clone();
                drop(started.ack);
                let _ = tokio::task::spawn_blocking(move || jolt.delete(&id)).await;
                return Err(failed(format!(
                    "pidfd of monitor {}: {e}",
                    started.monitor_pid
                )));
            }
        };
        drop(started.ack);
        rec.status.state = State::Running;
        rec.status.pid = Some(started.init_pid);
        rec.status.started = Some(monitor::now());
        // It runs now, saved or not: failing here would leave it running
        // unwatched.
        self.save(entry, rec);
        tokio::spawn(self.clone().watch(entry.clone(), pidfd));
        Ok(())
    }

    /// Waits for the monitor behind `pidfd` to exit, then records the end
    /// of the run.
    async fn watch(self: Arc<Self>, entry: Arc<Entry>, pidfd: OwnedFd) {
        // SAFETY: the OwnedFd moves into the AsyncFd and stays open, the
        // same fd, for as long as it lives.
        match unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) } {
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(e) => tracing::error!(container = %entry.name, "watching the monitor: {e}"),
        }
        self.ended(entry).await;
    }

    /// A run ended (its monitor is gone): record the exit, make sure the
    /// runtime's state is gone, and apply the restart policy.
    async fn ended(self: Arc<Self>, entry: Arc<Entry>) {
        let mut rec = entry.record.lock().await;
        if entry.removed.load(Ordering::SeqCst) {
            return;
        }
        let dir = self.store.dir(&entry.id);
        let exit = monitor::exit(&dir).unwrap_or_else(|e| {
            tracing::error!(container = %entry.name, "{e}");
            None
        });
        let jolt = self.cfg.jolt.clone();
        let id = entry.id.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || jolt.delete(&id)).await {
            tracing::error!(container = %entry.name, "{e}");
        }
        let ran = rec
            .status
            .started
            .as_deref()
            .and_then(|s| humantime::parse_rfc3339(s).ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        let policy = rec.spec.restart;
        let s = &mut rec.status;
        let restart =
            supervise::should_restart(policy, exit.as_ref(), s.restart_count, s.stop_requested);
        match &exit {
            Some(x) => tracing::info!(container = %entry.name, code = x.code, restart, "exited"),
            None => tracing::warn!(container = %entry.name, restart, "exited, status unknown"),
        }
        s.last_exit = exit;
        s.pid = None;
        s.backoff_step = supervise::next_step(s.backoff_step, ran);
        s.state = if restart {
            State::Restarting
        } else {
            State::Exited
        };
        self.count_dropped(&mut rec);
        self.save(&entry, &rec);
        for f in [MONITOR_FILE, EXIT_FILE] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        entry.exits.send_modify(|n| *n += 1);
        if restart {
            let wait = supervise::delay(rec.status.backoff_step);
            tokio::spawn(self.clone().restart_after(entry.clone(), wait));
        }
    }

    /// The restart policy's restart, after the back-off, unless the
    /// container was stopped or removed meanwhile.
    /// (Boxed: a restart watches a run whose end may restart it again.)
    fn restart_after(
        self: Arc<Self>,
        entry: Arc<Entry>,
        wait: Duration,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.restart_after_inner(entry, wait))
    }

    async fn restart_after_inner(self: Arc<Self>, entry: Arc<Entry>, wait: Duration) {
        tokio::time::sleep(wait).await;
        let mut rec = entry.record.lock().await;
        if entry.removed.load(Ordering::SeqCst) || rec.status.state != State::Restarting {
            return;
        }
        rec.status.restart_count += 1;
        if let Err(e) = self.clone().start_run(&entry, &mut rec).await {
            tracing::error!(container = %entry.name, "restart: {e}");
            rec.status.state = State::Exited;
            self.save(&entry, &rec);
            entry.exits.send_modify(|n| *n += 1);
        } else {
            tracing::info!(container = %entry.name, count = rec.status.restart_count, "restarted");
        }
    }

    /// The containers, oldest first; only those not exited unless `all`.
    pub async fn list(&self, all: bool) -> Vec<Record> {
        let entries: Vec<_> = self.table().values().cloned().collect();
        let mut out = Vec::new();
        for e in entries {
            let mut r = e.record.lock().await;
            self.count_dropped(&mut r);
            if all || r.status.state != State::Exited {
                out.push(r.clone());
            }
        }
        out.sort_by(|a, b| (&a.created, &a.id).cmp(&(&b.created, &b.id)));
        out
    }

    /// What running container `name` uses now (see [`crate::stats`]).
    pub async fn stats(&self, name: &str) -> Result<crate::stats::Stats, DaemonError> {
        let rec = self.inspect(name).await?;
        let pid = match (rec.status.state, rec.status.pid) {
            (State::Running, Some(pid)) => pid,
            (state, _) => {
                return Err(DaemonError::Conflict {
                    name: rec.spec.name,
                    why: format!("is {state}, not running: no stats"),
                })
            }
        };
        tokio::task::spawn_blocking(move || crate::stats::read(pid))
            .await
            .expect("reading stats does not panic")
            .map_err(|e| DaemonError::Failed {
                name: rec.spec.name,
                why: e.to_string(),
            })
    }

    pub async fn inspect(&self, name: &str) -> Result<Record, DaemonError> {
        let e = self.find(name)?;
        let mut r = e.record.lock().await;
        self.count_dropped(&mut r);
        Ok(r.clone())
    }

    /// Where the log files of the container `rec` describes are.
    fn log_dir(&self, rec: &Record) -> PathBuf {
        rec.log_dir
            .clone()
            .unwrap_or_else(|| self.store.dir(&rec.id))
    }

    /// Brings the count of log lines lost up to date from the log (the
    /// monitor counts them as they are lost).
    fn count_dropped(&self, rec: &mut Record) {
        let n = logs::dropped(&self.log_dir(rec));
        rec.status.log_dropped_lines = rec.status.log_dropped_lines.max(n);
    }

    /// Removes the log files of the container `rec` describes (their
    /// directory with them, when it is one of their own).
    fn remove_logs(&self, rec: &Record) -> io::Result<()> {
        match &rec.log_dir {
            Some(dir) => match std::fs::remove_dir_all(dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            None => logs::remove(&self.store.dir(&rec.id)),
        }
    }

    /// SIGTERM to the init, SIGKILL to all after `timeout`; the restart
    /// policy no longer applies. Returns once the run ended. A record that
    /// cannot be saved (a full disk) does not hold the stop up.
    pub async fn stop(&self, name: &str, timeout: Duration) -> Result<Record, DaemonError> {
        let _busy = self.busy();
        let entry = self.find(name)?;
        let conflict = |why: &str| DaemonError::Conflict {
            name: entry.name.clone(),
            why: why.into(),
        };
        let mut exits = {
            let mut rec = entry.record.lock().await;
            match rec.status.state {
                State::Running => {}
                State::Restarting => {
                    rec.status.state = State::Exited;
                    rec.status.stop_requested = true;
                    self.save(&entry, &rec);
                    return Ok(rec.clone());
                }
                State::Creating => return Err(conflict("is being created")),
                State::Exited => return Err(conflict("is not running")),
            }
            rec.status.stop_requested = true;
            self.save(&entry, &rec);
            entry.exits.subscribe()
        };
        if !timeout.is_zero() {
            self.kill(&entry, "TERM", false).await;
            if tokio::time::timeout(timeout, exits.changed()).await.is_ok() {
                return Ok(entry.record.lock().await.clone());
            }
        }
        self.kill(&entry, "KILL", true).await;
        match tokio::time::timeout(KILL_WAIT, exits.changed()).await {
            Ok(_) => Ok(entry.record.lock().await.clone()),
            Err(_) => Err(DaemonError::Failed {
                name: entry.name.clone(),
                why: format!("still running {KILL_WAIT:?} after SIGKILL"),
            }),
        }
    }

    async fn kill(&self, entry: &Entry, signal: &'static str, all: bool) {
        let jolt = self.cfg.jolt.clone();
        let id = entry.id.clone();
        // It may have exited meanwhile: then the wait that follows ends.
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || jolt.kill(&id, signal, all)).await {
            tracing::debug!(container = %entry.name, "{e}");
        }
    }

    /// Imports the image at `path` (on the node) into the store, named
    /// `name` when given.
    pub async fn import_image(
        &self,
        path: PathBuf,
        name: Option<String>,
    ) -> Result<Image, DaemonError> {
        let _busy = self.busy();
        let images = self.images.clone();
        let image = tokio::task::spawn_blocking(move || images.import(&path, name.as_deref()))
            .await
            .expect("importing does not panic")?;
        tracing::info!(image = %image.id, names = ?image.names, "imported");
        Ok(image)
    }

    /// Pulls `reference` from its registry into the store, named
    /// `REGISTRY/REPOSITORY:TAG`. The download is made in a directory of
    /// the store's own, removed whatever happens (at the next start after
    /// a crash).
    pub async fn pull_image(
        &self,
        reference: &str,
        credentials: Option<&crate::image::credentials::Credentials>,
    ) -> Result<Image, DaemonError> {
        let _busy = self.busy();
        let parsed = crate::image::pull::parse(reference)?;
        let layout = self.images.scratch()?;
        crate::image::pull::fetch(&parsed, credentials, layout.path()).await?;
        let images = self.images.clone();
        let name = crate::image::pull::name(&parsed);
        let image = tokio::task::spawn_blocking(move || {
            let imported = images.import(layout.path(), name.as_deref());
            drop(layout);
            imported
        })
        .await
        .expect("importing does not panic")?;
        tracing::info!(image = %image.id, %reference, "pulled");
        Ok(image)
    }

    /// Every image in the store.
    pub fn images(&self) -> Result<Vec<Image>, DaemonError> {
        Ok(self.images.list()?)
    }

    /// Removes the image `reference` names, unless a container (running
    /// or not) uses it; a name of an image that has others is only taken
    /// from it, whoever uses it.
    pub async fn remove_image(self: &Arc<Self>, reference: &str) -> Result<Removal, DaemonError> {
        let _busy = self.busy();
        let this = self.clone();
        let reference = reference.to_string();
        tokio::task::spawn_blocking(move || {
            // A run adds a container to the table only under this lock.
            let lock = this.images.lock();
            let image = this.images.find(&reference)?;
            let name = Images::matched_name(&image, &reference);
            if let Some(name) = name.filter(|_| image.names.len() > 1) {
                this.images.untag(&image.id, &name)?;
                tracing::info!(image = %image.id, %name, "untagged");
                return Ok(Removal {
                    untagged: vec![name],
                    deleted: None,
                });
            }
            let user = this
                .table()
                .values()
                .find(|e| e.image.as_deref() == Some(image.id.as_str()))
                .map(|e| e.name.clone());
            if let Some(container) = user {
                return Err(ImageError::InUse {
                    reference,
                    container,
                }
                .into());
            }
            let aside = this.images.set_aside(&image.id)?;
            // Runs wait for the lock: the rootfs goes without it.
            drop(lock);
            crate::image::delete_aside(&aside);
            tracing::info!(image = %image.id, "removed");
            Ok(Removal {
                untagged: image.names,
                deleted: Some(image.id),
            })
        })
        .await
        .expect("removing an image does not panic")
    }

    /// Removes a container that does not run (or, with `force`, kills it
    /// first): its runtime state, its logs (first: on a full disk that
    /// makes room for the network's and the store's own writes), its
    /// network, its directory with its record.
    pub async fn remove(&self, name: &str, force: bool) -> Result<(), DaemonError> {
        let _busy = self.busy();
        let entry = self.find(name)?;
        let state = entry.record.lock().await.status.state;
        match state {
            State::Creating => {
                return Err(DaemonError::Conflict {
                    name: entry.name.clone(),
                    why: "is being created".into(),
                })
            }
            State::Running | State::Restarting if !force => {
                return Err(DaemonError::Conflict {
                    name: entry.name.clone(),
                    why: format!("is {state} (stop it first, or rm -f)"),
                })
            }
            State::Running => {
                self.stop(name, Duration::ZERO).await?;
            }
            State::Restarting | State::Exited => {}
        }
        let rec = entry.record.lock().await;
        if rec.status.state == State::Running {
            return Err(DaemonError::Conflict {
                name: entry.name.clone(),
                why: "was started again meanwhile; try again".into(),
            });
        }
        entry.removed.store(true, Ordering::SeqCst);
        let jolt = self.cfg.jolt.clone();
        let id = entry.id.clone();
        let deleted = tokio::task::spawn_blocking(move || jolt.delete(&id))
            .await
            .expect("jolt delete does not panic");
        if let Err(e) = deleted {
            entry.removed.store(false, Ordering::SeqCst);
            return Err(DaemonError::Failed {
                name: entry.name.clone(),
                why: e.to_string(),
            });
        }
        if let Err(e) = self.remove_logs(&rec) {
            entry.removed.store(false, Ordering::SeqCst);
            return Err(DaemonError::Failed {
                name: entry.name.clone(),
                why: format!(
                    "logs {}: {e} (rm it again to retry)",
                    self.log_dir(&rec).display()
                ),
            });
        }
        if let Err(e) = self.teardown(&entry.id).await {
            entry.removed.store(false, Ordering::SeqCst);
            return Err(DaemonError::Failed {
                name: entry.name.clone(),
                why: format!("network: {e} (rm it again to retry)"),
            });
        }
        if let Err(e) = layer::remove(&self.store.layer(&entry.id)) {
            entry.removed.store(false, Ordering::SeqCst);
            return Err(DaemonError::Failed {
                name: entry.name.clone(),
                why: format!("{e} (rm it again to retry)"),
            });
        }
        self.store.remove(&entry.id)?;
        self.table().remove(&entry.id);
        drop(rec);
        tracing::info!(container = %entry.name, "removed");
        Ok(())
    }

    /// The network namespace file of container `id`.
    /// The network joltd wires containers to.
    pub fn network(&self) -> &Network {
        &self.cfg.network
    }

    /// The `jolt` joltd runs containers with.
    pub fn jolt(&self) -> &crate::oci::Jolt {
        &self.cfg.jolt
    }

    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.cfg.network.netns_path(id)
    }

    /// Where a container's log files are.
    pub async fn logs(&self, name: &str) -> Result<Logs, DaemonError> {
        let entry = self.find(name)?;
        let dir = self.log_dir(&*entry.record.lock().await);
        Ok(Logs { dir, entry })
    }
}

/// Tries again to save the records that could not be saved, every
/// [`RESAVE_EVERY`], for as long as the daemon lives.
async fn resave_every(daemon: Weak<Daemon>) {
    loop {
        tokio::time::sleep(RESAVE_EVERY).await;
        match daemon.upgrade() {
            Some(d) => {
                d.resave().await;
            }
            None => return,
        }
    }
}

/// A fresh container ID: 12 hex digits from the kernel's random source.
fn new_id() -> String {
    let mut bytes = [0u8; 6];
    let got = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if got.is_err() {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes.copy_from_slice(&(t as u64 ^ std::process::id() as u64).to_le_bytes()[..6]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
