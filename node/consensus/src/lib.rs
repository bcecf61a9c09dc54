//! Tally consensus (being written).
