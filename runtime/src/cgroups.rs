//! cgroups (being written)
