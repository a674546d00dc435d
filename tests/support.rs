//! End-to-end tests of the support crate's helpers that drive programs
//! other than jolt: headless Chromium opening a page ([`jolt_e2e::chromium`]).
//! They prove that what those helpers report is what the page holds, and
//! that they leave no process or directory behind. They need neither root
//! nor jolt; without chromium they skip, saying why. Nothing leaves
//! loopback.

#[path = "support/chromium.rs"]
mod chromium;
