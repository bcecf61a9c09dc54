//! Tally ledger (being written).
