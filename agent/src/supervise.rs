//! supervise: the restart policy's decisions, as pure functions.
//!
//! Owns whether an exited container is started again and after how long
//! (exponential back-off that resets after a run long enough to count as
//! healthy). It does not start anything: the daemon acts on its answers.

use std::time::Duration;

use crate::container::{Exit, RestartPolicy};

/// The first back-off delay; each quick exit in a row doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// The back-off never waits longer than this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run at least this long resets the back-off.
pub const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// Whether `policy` starts a container again after `exit`, given how many
/// restarts it already had and whether it was stopped on request. An exit
/// joltd could not learn (its monitor died with it) counts as a failure.
pub fn should_restart(
    policy: RestartPolicy,
    exit: Option<&Exit>,
    restart_count: u32,
    stop_requested: bool,
) -> bool {
    if stop_requested {
        return false;
    }
    let failed = exit.is_none_or(Exit::failed);
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure { max } => failed && max.is_none_or(|m| restart_count < m),
    }
}

/// The back-off step after a run that lasted `ran`, given the step before
/// it: one more after a short run, back to 0 after a healthy one.
pub fn next_step(step: u32, ran: Duration) -> u32 {
    if ran >= HEALTHY_RUN {
        0
    } else {
        step.saturating_add(1)
    }
}

/// How long to wait before the restart at back-off `step` (1 is the first
/// quick exit): BACKOFF_BASE doubled step-1 times, at most BACKOFF_MAX.
pub fn delay(step: u32) -> Duration {
    let doublings = step.saturating_sub(1).min(20);
    (BACKOFF_BASE * 2u32.pow(doublings)).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32) -> Exit {
        Exit {
            code,
            signal: None,
            at: String::new(),
        }
    }

    #[test]
    fn policies_decide_on_the_exit() {
        let on_failure = RestartPolicy::OnFailure { max: None };
        assert!(!should_restart(RestartPolicy::No, Some(&exit(1)), 0, false));
        assert!(should_restart(
            RestartPolicy::Always,
            Some(&exit(0)),
            9,
            false
        ));
        assert!(should_restart(on_failure, Some(&exit(137)), 100, false));
        assert!(!should_restart(on_failure, Some(&exit(0)), 0, false));
        assert!(should_restart(on_failure, None, 0, false));
    }

    #[test]
    fn on_failure_stops_at_its_maximum() {
        let p = RestartPolicy::OnFailure { max: Some(2) };
        assert!(should_restart(p, Some(&exit(1)), 0, false));
        assert!(should_restart(p, Some(&exit(1)), 1, false));
        assert!(!should_restart(p, Some(&exit(1)), 2, false));
    }

    #[test]
    fn a_stop_request_overrides_every_policy() {
        assert!(!should_restart(
            RestartPolicy::Always,
            Some(&exit(1)),
            0,
            true
        ));
    }

    #[test]
    fn back_off_doubles_and_is_capped() {
        assert_eq!(delay(0), BACKOFF_BASE);
        assert_eq!(delay(1), BACKOFF_BASE);
        assert_eq!(delay(2), BACKOFF_BASE * 2);
        assert_eq!(delay(4), BACKOFF_BASE * 8);
        assert_eq!(delay(30), BACKOFF_MAX);
        assert_eq!(delay(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn a_healthy_run_resets_the_back_off() {
        assert_eq!(next_step(0, Duration::from_millis(10)), 1);
        assert_eq!(next_step(5, Duration::from_secs(1)), 6);
        assert_eq!(next_step(5, HEALTHY_RUN), 0);
        assert_eq!(next_step(u32::MAX, Duration::ZERO), u32::MAX);
    }
}
