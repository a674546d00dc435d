//! signals (being written)
