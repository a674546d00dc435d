//! End-to-end tests of the support crate's helpers that drive programs
//! other than jolt: headless Chromium opening a page ([`jolt_e2e::chromium`])
//! and a Prometheus server of the test's own scraping a target
//! ([`jolt_e2e::prometheus`]). They prove that what those helpers report
//! is what the page and the server hold, and that they leave no process
//! or directory behind. They need neither root nor jolt; without
//! chromium or prometheus they skip, saying why. Nothing leaves loopback.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/prometheus.rs"]
mod prometheus;
