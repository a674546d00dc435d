//! cpu-stress: N workers, each busy for `load` percent of every 100 ms,
//! inside the target's cpu cgroup (v1: its cpu hierarchy; v2: its one
//! cgroup), for the fault's duration. The container's own CPU limit holds
//! them, as it holds the container.

use std::fmt;
use std::time::Duration;

use super::{spawn, undo, Spawn, Work};
use crate::experiment::human;
use crate::fault::{mismatch, refused, FaultError, Keys, Kind, Undo};
use crate::target::Target;
use jolt_runtime::cgroups::placement::Controller;

/// The period of a worker's busy/idle cycle.
const PERIOD: Duration = Duration::from_millis(100);

/// cpu-stress's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuStress {
    /// Worker processes, 1-1024.
    pub workers: u32,
    /// Percent (1-100) of one CPU each worker tries to use.
    pub load: f64,
    pub duration: Duration,
}

impl Kind for CpuStress {
    const NAME: &'static str = "cpu-stress";
    const KEYS: &'static [&'static str] = &["workers", "load", "duration"];
    const HOLDS: Option<&'static str> = Some("the cgroup's cpu stressors");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let workers = match keys.has("workers") {
            true => keys.integer("workers", 1..=1024).map(|w| w as u32),
            false => Some(1),
        };
        let load = match keys.has("load") {
            true => match keys.percent("load") {
                Some(0.0) => {
                    keys.problem("load", "0 would not load the CPU; give 1-100");
                    None
                }
                other => other,
            },
            false => Some(100.0),
        };
        let duration = keys.lasting("the workers run");
        Some(CpuStress {
            workers: workers?,
            load: load?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpu-stress workers={} load={}% for {}",
            self.workers,
            self.load,
            human(self.duration)
        )
    }

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        undo(target, Controller::Cpu, &self.to_line()).map_err(|why| refused::<Self>(target, why))
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        let Undo::Stressors { cgroup, marker } = undo else {
            return Err(mismatch::<Self>(target, undo));
        };
        let busy = PERIOD.mul_f64(self.load / 100.0);
        let procs = [cgroup.join("cgroup.procs")];
        for n in 0..self.workers {
            let spawned = spawn(&Spawn {
                marker,
                procs: &procs,
                work: Work::Cpu {
                    busy,
                    period: PERIOD,
                },
                duration: self.duration,
                oom_first: false,
            });
            if let Err(source) = spawned {
                return Err(FaultError::Kernel {
                    context: format!(
                        "container {}: cpu-stress: starting worker {} of {}",
                        target.name,
                        n + 1,
                        self.workers
                    ),
                    source,
                });
            }
        }
        Ok(())
    }
}

impl CpuStress {
    fn to_line(&self) -> String {
        crate::Fault::CpuStress(self.clone()).to_string()
    }
}
