//! systemd: the `jolt --systemd-cgroup` driver, as runc's. The container's
//! cgroup is a transient scope unit (`jolt-<id>.scope` in system.slice, or
//! what `slice:prefix:name` says) that systemd makes over D-Bus with the
//! container's first process in it, `Delegate=yes`, no default
//! dependencies, its resources as unit properties and the
//! `org.systemd.property.*` annotations. The cgroupfs core then writes the
//! files systemd has no property for (and, on v1, makes the hierarchies
//! systemd does not manage); freezing, signalling and reading counters are
//! the core's, on the scope's directories.
//!
//! Owns the scope's life: started at create, its properties updated with
//! the files at update, stopped and reset (if failed) at destroy.

mod dbus;
pub mod properties;
mod unit;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use dbus::{Bus, BusError, SystemBus};
pub use unit::{expand_slice, Scope};

use super::fs::{Cgroupfs, Hierarchy};
use super::{CgroupError, CgroupManager, Settings};

/// The directory systemd makes when it runs as the init (sd_booted(3)).
pub const RUNNING_MARKER: &str = "/run/systemd/system";

/// Fails, naming the cause, when systemd is not this host's init.
pub fn check_running() -> Result<(), CgroupError> {
    if Path::new(RUNNING_MARKER).is_dir() {
        Ok(())
    } else {
        Err(CgroupError::NoSystemd {
            marker: RUNNING_MARKER,
        })
    }
}

/// A container's cgroup as a systemd scope, with the cgroupfs core `H` on
/// its directories.
#[derive(Debug)]
pub struct Systemd<H: Hierarchy> {
    scope: Scope,
    fs: Cgroupfs<H>,
}

impl<H: Hierarchy> Systemd<H> {
    /// The scope whose cgroup is at `path` (as [`Scope::path`] made it).
    pub fn open(path: &str) -> Result<Self, CgroupError> {
        Ok(Systemd {
            scope: Scope::from_path(path)?,
            fs: Cgroupfs::open(path)?,
        })
    }

    /// The connection to systemd, made once per jolt process (`jolt run`
    /// creates and deletes: one connection).
    fn bus(&self) -> Result<&'static SystemBus, CgroupError> {
        static BUS: OnceLock<SystemBus> = OnceLock::new();
        check_running()?;
        if let Some(bus) = BUS.get() {
            return Ok(bus);
        }
        let bus = SystemBus::connect().map_err(|e| self.error("connect", e))?;
        tracing::debug!("{}: connected to systemd", self.scope.unit);
        Ok(BUS.get_or_init(|| bus))
    }

    fn error(&self, what: &str, e: BusError) -> CgroupError {
        CgroupError::Systemd {
            unit: self.scope.unit.clone(),
            what: what.to_string(),
            detail: e.0,
        }
    }

    fn invalid(&self, field: &'static str, reason: String) -> CgroupError {
        CgroupError::InvalidResources {
            path: self.fs.path().to_string(),
            field,
            reason,
        }
    }

    /// Starts the scope holding `holder` with every property, then writes
    /// the files; stops the scope again if the files fail.
    fn start(&self, bus: &dyn Bus, settings: Settings, holder: i32) -> Result<(), CgroupError> {
        let holder = u32::try_from(holder)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| {
                self.error("start", BusError(format!("{holder} is not a process id")))
            })?;
        let id = self.scope.unit.trim_end_matches(".scope");
        let mut props = properties::scope(&self.scope.slice, holder, id, H::UNIFIED);
        if let Some(resources) = settings.resources {
            // The core's checks first: nothing is started for bad input.
            self.fs.check(resources)?;
            props.extend(
                properties::resources(resources, H::UNIFIED).map_err(|e| self.invalid("cpu", e))?,
            );
            if let Some(rules) = resources.devices().as_ref().filter(|r| !r.is_empty()) {
                let names = std::fs::read_to_string("/proc/devices")
                    .map(|text| properties::parse_proc_devices(&text))
                    .unwrap_or_default();
                let name_of = |kind: char, major: i64| names.get(&(kind, major)).cloned();
                props.extend(properties::devices(
                    &crate::devices::with_defaults(rules),
                    &name_of,
                ));
            }
        }
        if let Some(annotations) = settings.annotations {
            props.extend(properties::from_annotations(annotations).map_err(|e| {
                CgroupError::Systemd {
                    unit: self.scope.unit.clone(),
                    what: "properties".into(),
                    detail: e,
                }
            })?);
        }
        bus.start_unit(&self.scope.unit, &props)
            .map_err(|e| self.error("StartTransientUnit", e))?;
        tracing::debug!("{}: started in {}", self.scope.unit, self.scope.slice);
        if let Err(err) = self.fs.make(settings.resources, false) {
            if let Err(e) = self.teardown(bus) {
                tracing::warn!("after a failed create: {e}");
            }
            return Err(err);
        }
        Ok(())
    }

    /// Kills what is left (so that systemd's stop does not wait for a
    /// SIGTERM to be heeded), stops the scope (systemd removes its cgroup),
    /// resets it if it failed, and removes what is left of the directories
    /// (v1 hierarchies systemd does not manage). A scope systemd no longer
    /// knows is not an error.
    fn teardown(&self, bus: &dyn Bus) -> Result<(), CgroupError> {
        self.fs.kill_until_empty()?;
        bus.stop_unit(&self.scope.unit)
            .map_err(|e| self.error("StopUnit", e))?;
        tracing::debug!("{}: stopped", self.scope.unit);
        bus.reset_failed(&self.scope.unit)
            .map_err(|e| self.error("ResetFailedUnit", e))?;
        self.fs.destroy()
    }
}

impl<H: Hierarchy> CgroupManager for Systemd<H> {
    fn path(&self) -> &str {
        self.fs.path()
    }

    fn host_dirs(&self) -> Vec<(String, PathBuf)> {
        self.fs.host_dirs()
    }

    fn create(&self, settings: Settings, holder: i32) -> Result<(), CgroupError> {
        self.start(self.bus()?, settings, holder)
    }

    /// The unit's properties first, for systemd to keep (it rewrites the
    /// files from them on a reload), then the files, as runc does.
    fn update(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError> {
        self.fs.check(resources)?;
        let props =
            properties::resources(resources, H::UNIFIED).map_err(|e| self.invalid("cpu", e))?;
        if !props.is_empty() {
            self.bus()?
                .set_properties(&self.scope.unit, &props)
                .map_err(|e| self.error("SetUnitProperties", e))?;
        }
        self.fs.update(resources)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        self.fs.freeze()
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        self.fs.thaw()
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        self.fs.pids()
    }

    fn signal_all(&self, signal: libc::c_int) -> Result<(), CgroupError> {
        self.fs.signal_all(signal)
    }

    fn stats(&self) -> Result<cgroups_rs::stats::CgroupStats, CgroupError> {
        self.fs.stats()
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        self.teardown(self.bus()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::V2;
    use std::cell::RefCell;

    /// Records requests; fails StartTransientUnit when told to.
    #[derive(Default)]
    struct FakeBus {
        calls: RefCell<Vec<String>>,
        fail_start: bool,
    }

    impl Bus for FakeBus {
        fn start_unit(&self, unit: &str, props: &[properties::Property]) -> Result<(), BusError> {
            let names: Vec<&str> = props.iter().map(|(n, _)| n.as_str()).collect();
            self.calls
                .borrow_mut()
                .push(format!("start {unit} {}", names.join(",")));
            if self.fail_start {
                return Err(BusError(
                    "org.freedesktop.systemd1.UnitExists: Unit jolt-web.scope already exists."
                        .into(),
                ));
            }
            Ok(())
        }
        fn set_properties(&self, unit: &str, _: &[properties::Property]) -> Result<(), BusError> {
            self.calls.borrow_mut().push(format!("set {unit}"));
            Ok(())
        }
        fn stop_unit(&self, unit: &str) -> Result<(), BusError> {
            self.calls.borrow_mut().push(format!("stop {unit}"));
            Ok(())
        }
        fn reset_failed(&self, unit: &str) -> Result<(), BusError> {
            self.calls.borrow_mut().push(format!("reset {unit}"));
            Ok(())
        }
    }

    fn manager() -> Systemd<V2> {
        let path = Scope::parse(None, &format!("unit-test-{}", std::process::id()))
            .unwrap()
            .path();
        Systemd::open(&path).unwrap()
    }

    #[test]
    fn a_refused_start_is_reported_with_the_unit_and_makes_nothing_else() {
        let bus = FakeBus {
            fail_start: true,
            ..FakeBus::default()
        };
        let systemd = manager();
        let err = systemd
            .start(&bus, Settings::default(), 42)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "systemd unit {}: StartTransientUnit: org.freedesktop.systemd1.UnitExists: \
                 Unit jolt-web.scope already exists.",
                systemd.scope.unit
            )
        );
        let calls = bus.calls.borrow();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(
            calls[0].contains("Slice,Delegate,PIDs,DefaultDependencies"),
            "{calls:?}"
        );
        assert!(systemd.host_dirs().iter().all(|(_, d)| !d.exists()));
    }

    #[test]
    fn bad_resources_or_annotations_start_nothing() {
        let bus = FakeBus::default();
        let systemd = manager();
        let resources = oci_spec::runtime::LinuxResourcesBuilder::default()
            .memory(
                oci_spec::runtime::LinuxMemoryBuilder::default()
                    .limit(100)
                    .swap(50)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let settings = Settings {
            resources: Some(&resources),
            annotations: None,
        };
        let err = systemd.start(&bus, settings, 42).unwrap_err().to_string();
        assert!(err.contains("linux.resources.memory.swap"), "{err}");
        let annotations = std::collections::HashMap::from([(
            "org.systemd.property.CPUWeight".to_string(),
            "uint64 lots".to_string(),
        )]);
        let settings = Settings {
            resources: None,
            annotations: Some(&annotations),
        };
        let err = systemd.start(&bus, settings, 42).unwrap_err().to_string();
        assert!(
            err.contains("annotation org.systemd.property.CPUWeight"),
            "{err}"
        );
        assert!(systemd.start(&bus, Settings::default(), 0).is_err());
        assert!(bus.calls.borrow().is_empty(), "{:?}", bus.calls.borrow());
    }

    #[test]
    fn teardown_stops_then_resets_the_unit_and_is_fine_when_it_is_gone() {
        let bus = FakeBus::default();
        let systemd = manager();
        systemd.teardown(&bus).unwrap();
        systemd.teardown(&bus).unwrap();
        let unit = &systemd.scope.unit;
        assert_eq!(
            *bus.calls.borrow(),
            [
                format!("stop {unit}"),
                format!("reset {unit}"),
                format!("stop {unit}"),
                format!("reset {unit}")
            ]
        );
    }

    #[test]
    fn without_systemd_the_error_names_it() {
        if Path::new(RUNNING_MARKER).is_dir() {
            return;
        }
        assert_eq!(
            check_running().unwrap_err().to_string(),
            "--systemd-cgroup: systemd is not running (no /run/systemd/system)"
        );
    }
}
