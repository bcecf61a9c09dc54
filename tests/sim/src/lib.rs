//! Tally simulator (being written).
