//! dbus: the four requests the systemd driver makes of systemd's manager
//! on the system bus (StartTransientUnit, SetUnitProperties, StopUnit,
//! ResetFailedUnit), behind the small [`Bus`] trait, and its zbus
//! implementation that waits for each job to finish.
//!
//! zbus's connection runs an executor thread; jolt talks to systemd only
//! from the parent jolt process, never before a fork that runs Rust code
//! in the child (the intermediate is forked before the scope is made).

use std::time::Duration;

use futures_lite::StreamExt;
use zbus::zvariant::{OwnedObjectPath, Value as DbusValue};

use super::properties::{Property, Value};

/// How long jolt waits for a systemd job (start or stop of the scope).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
/// The error systemd answers about a unit it does not know.
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

/// A failed request, as systemd or the bus worded it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BusError(pub String);

/// What the systemd driver asks of systemd.
pub trait Bus {
    /// Starts transient unit `unit` with `properties`, and waits until its
    /// job is done.
    fn start_unit(&self, unit: &str, properties: &[Property]) -> Result<(), BusError>;
    /// Changes properties of a running unit, for its lifetime.
    fn set_properties(&self, unit: &str, properties: &[Property]) -> Result<(), BusError>;
    /// Stops `unit` and waits until it is; a unit systemd does not know
    /// (stopped and collected already) is Ok.
    fn stop_unit(&self, unit: &str) -> Result<(), BusError>;
    /// Forgets a failed unit; Ok when it is not failed or not known.
    fn reset_failed(&self, unit: &str) -> Result<(), BusError>;
}

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
trait Manager {
    fn start_transient_unit(
        &self,
        name: &str,
        mode: &str,
        properties: Vec<(String, DbusValue<'_>)>,
        aux: Vec<(String, Vec<(String, DbusValue<'_>)>)>,
    ) -> zbus::Result<OwnedObjectPath>;

    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;

    fn set_unit_properties(
        &self,
        name: &str,
        runtime: bool,
        properties: Vec<(String, DbusValue<'_>)>,
    ) -> zbus::Result<()>;

    fn subscribe(&self) -> zbus::Result<()>;

    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: zbus::zvariant::ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

/// systemd's manager on the system bus.
pub struct SystemBus {
    proxy: ManagerProxy<'static>,
}

impl SystemBus {
    /// Connects to the system bus.
    pub fn connect() -> Result<SystemBus, BusError> {
        async_io::block_on(async {
            let connection = zbus::Connection::system().await.map_err(|e| {
                BusError(format!(
                    "connecting to the system bus (is dbus running?): {e}"
                ))
            })?;
            // No property cache: jolt reads none, and caching adds a match
            // rule (a round trip) to every connection.
            let proxy = ManagerProxy::builder(&connection)
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .await
                .map_err(text)?;
            // systemd sends JobRemoved only to clients that subscribed.
            proxy.subscribe().await.map_err(text)?;
            Ok(SystemBus { proxy })
        })
    }

    /// Runs `request`, which returns a job, and waits for the job's end.
    fn job<F>(&self, request: F) -> Result<(), BusError>
    where
        F: std::future::Future<Output = zbus::Result<OwnedObjectPath>>,
    {
        async_io::block_on(async {
            // Listening before asking: the job may end before the reply.
            let mut removed = self.proxy.receive_job_removed().await.map_err(text)?;
            let job = request.await.map_err(text)?;
            let wait = async {
                while let Some(signal) = removed.next().await {
                    let args = signal.args().map_err(text)?;
                    if *args.job() == *job {
                        return match *args.result() {
                            "done" => Ok(()),
                            result => Err(BusError(format!("the job ended: {result}"))),
                        };
                    }
                }
                Err(BusError("the bus connection closed".into()))
            };
            let timeout = async {
                async_io::Timer::after(JOB_TIMEOUT).await;
                Err(BusError(format!(
                    "the job {} did not end within {JOB_TIMEOUT:?}",
                    job.as_str()
                )))
            };
            futures_lite::future::or(wait, timeout).await
        })
    }
}

impl Bus for SystemBus {
    fn start_unit(&self, unit: &str, properties: &[Property]) -> Result<(), BusError> {
        self.job(
            self.proxy
                .start_transient_unit(unit, "replace", to_dbus(properties), Vec::new()),
        )
    }

    fn set_properties(&self, unit: &str, properties: &[Property]) -> Result<(), BusError> {
        async_io::block_on(
            self.proxy
                .set_unit_properties(unit, true, to_dbus(properties)),
        )
        .map_err(text)
    }

    fn stop_unit(&self, unit: &str) -> Result<(), BusError> {
        match self.job(self.proxy.stop_unit(unit, "replace")) {
            Err(e) if e.0.starts_with(NO_SUCH_UNIT) => Ok(()),
            other => other,
        }
    }

    fn reset_failed(&self, unit: &str) -> Result<(), BusError> {
        match async_io::block_on(self.proxy.reset_failed_unit(unit)).map_err(text) {
            Err(e) if e.0.starts_with(NO_SUCH_UNIT) => Ok(()),
            other => other,
        }
    }
}

/// A zbus error as "org.freedesktop.systemd1.Name: what systemd said".
fn text(e: zbus::Error) -> BusError {
    match e {
        zbus::Error::MethodError(name, Some(detail), _) => BusError(format!("{name}: {detail}")),
        zbus::Error::MethodError(name, None, _) => BusError(name.to_string()),
        other => BusError(other.to_string()),
    }
}

fn to_dbus(properties: &[Property]) -> Vec<(String, DbusValue<'static>)> {
    properties
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Bool(b) => DbusValue::from(*b),
                Value::U8(n) => DbusValue::from(*n),
                Value::I16(n) => DbusValue::from(*n),
                Value::U16(n) => DbusValue::from(*n),
                Value::I32(n) => DbusValue::from(*n),
                Value::U32(n) => DbusValue::from(*n),
                Value::I64(n) => DbusValue::from(*n),
                Value::U64(n) => DbusValue::from(*n),
                Value::F64(n) => DbusValue::from(*n),
                Value::Str(s) => DbusValue::from(s.clone()),
                Value::Bytes(b) => DbusValue::from(b.clone()),
                Value::U32s(v) => DbusValue::from(v.clone()),
                Value::Pairs(v) => DbusValue::from(v.clone()),
            };
            (name.clone(), value)
        })
        .collect()
}
