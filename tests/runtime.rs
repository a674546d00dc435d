//! e2e runtime tests (being written)
