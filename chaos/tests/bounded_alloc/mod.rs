//! A global allocator for property tests that counts what each thread
//! holds: [`peak_of`] tells the most a call held at once, and a thread
//! past [`HARD_LIMIT`] gets failed allocations (the test aborts) instead of
//! taking the machine's memory. Shared by the jolt-chaos and jolt-runtime
//! property tests (`#[path]`-included; install with `#[global_allocator]`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The most one case may hold at once.
pub const PEAK_BOUND: isize = 64 << 20;

/// Past this much live memory on one thread, allocations fail (and the
/// test aborts): far above `PEAK_BOUND`, it only keeps a runaway case from
/// taking the machine's memory before the bound is checked.
const HARD_LIMIT: isize = 1 << 30;

/// Counts the bytes each thread holds and the most it held.
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` bytes to this thread's count; false when that would pass
/// `HARD_LIMIT`.
fn note(delta: isize) -> bool {
    LIVE.try_with(|live| {
        let now = live.get() + delta;
        if delta > 0 && now > HARD_LIMIT {
            return false;
        }
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        true
    })
    .unwrap_or(true)
}

// SAFETY: every call goes to System with the caller's arguments; the
// counting only reads and writes this thread's cells.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size() as isize) {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size() as isize) {
            return std::ptr::null_mut();
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grow = new_size as isize - layout.size() as isize;
        if !note(grow) {
            return std::ptr::null_mut();
        }
        let moved = System.realloc(ptr, layout, new_size);
        if moved.is_null() {
            note(-grow);
        }
        moved
    }
}

/// Runs `f` and returns the most it held at once beyond what was live.
pub fn peak_of(f: impl FnOnce()) -> isize {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    f();
    PEAK.with(Cell::get) - before
}
