//! hooks (being written)
