//! Tally genesis (being written).
