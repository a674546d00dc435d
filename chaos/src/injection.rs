//! injection: the protocol every fault follows, whatever its kind, so that
//! none is ever in the kernel without a journal entry that undoes it.
//!
//! 1. [`stage`]: the fault is prepared (read only; its [`crate::Undo`]
//!    found) and the undo journaled durably, ahead of its fire.
//! 2. [`inject`]: at the fire, prepared again (the container may have
//!    changed), journaled again only when the undo changed, then applied.
//!    A failed apply reverts whatever part of it went in, and drops the
//!    entry.
//! 3. [`crate::fault::revert`] takes it out at its time or on abort; the
//!    caller removes the entry once it has recorded the revert.
//! 4. After a crash, [`Journal::recover`] replays every entry left.
//!
//! These calls block (file syncs, `tc`); the agent runs them off its event
//! loop.

use crate::fault::{self, FaultError, Undo};
use crate::journal::{Entry, Journal, JournalError};
use crate::Fault;

/// Why a fault was not staged or injected.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error(transparent)]
    Fault(#[from] FaultError),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
}

/// Prepares `fault` for `entry.target` and journals what undoes it, before
/// anything changes. A fault with nothing to undo (kill) is not journaled.
pub fn stage(journal: &Journal, fault: &Fault, entry: Entry) -> Result<Entry, InjectError> {
    let undo = fault::prepare(fault, &entry.target)?;
    let entry = Entry { undo, ..entry };
    if entry.undo != Undo::Nothing {
        journal.record(&entry)?;
    }
    Ok(entry)
}

/// Applies a staged fault: prepared again first, and journaled again
/// only when what undoes it changed since it was staged. On failure
/// nothing of it stays, in the kernel or the journal.
pub fn inject(journal: &Journal, fault: &Fault, staged: Entry) -> Result<Entry, InjectError> {
    let entry = match fault::prepare(fault, &staged.target) {
        Ok(undo) if undo == staged.undo => staged,
        Ok(undo) => {
            let entry = Entry { undo, ..staged };
            journal.record(&entry)?;
            entry
        }
        Err(e) => {
            let _ = journal.remove(&staged.id);
            return Err(e.into());
        }
    };
    if let Err(e) = fault::apply(fault, &entry.target, &entry.undo) {
        let _ = fault::revert(&entry.undo);
        let _ = journal.remove(&entry.id);
        return Err(e.into());
    }
    Ok(entry)
}
