//! The arithmetic of the `tally-bench` load generator, kept apart from its I/O so it can be
//! tested: the open-loop send schedule, latency percentiles and the one-line summary.
//!
//! Times are offsets from the start of the load (`Duration`), so the logic never reads a clock.
//! The summary reports; it never judges a figure good or bad.

use std::fmt;
use std::time::Duration;

/// What the generator saw of one pre-signed transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxRecord {
    /// When its request was written to a node, if it was sent at all.
    pub submitted: Option<Duration>,
    /// When the generator saw it in a committed block.
    pub committed: Option<Duration>,
}

/// The result line of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Committed transactions per second, from the first submission to the last commit seen.
    pub committed_tps: u64,
    /// Median submit → commit latency in milliseconds (0 when nothing committed).
    pub p50_ms: u64,
    /// 99th percentile submit → commit latency in milliseconds (0 when nothing committed).
    pub p99_ms: u64,
    pub submitted: u64,
    pub committed: u64,
    /// Submitted but not seen committed: `submitted − committed`.
    pub lost: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed_tps={} p50_ms={} p99_ms={} submitted={} committed={} lost={}",
            self.committed_tps, self.p50_ms, self.p99_ms, self.submitted, self.committed, self.lost
        )
    }
}

/// When the open-loop schedule sends transaction `index` at `rate_per_second`: evenly spaced,
/// whatever the answers to earlier ones. `rate_per_second` must be at least 1.
pub fn send_offset(index: u64, rate_per_second: u64) -> Duration {
    debug_assert!(rate_per_second > 0, "the command line refuses a zero rate");
    let nanos = u128::from(index) * 1_000_000_000 / u128::from(rate_per_second.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The nearest-rank percentile (`percent` in 0..=100) of `sorted` (ascending), or `None` when
/// it is empty. Nearest-rank always returns an observed value, never an interpolation.
pub fn percentile(sorted: &[Duration], percent: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let percent = u64::from(percent.min(100));
    let count = sorted.len() as u64;
    // rank = ceil(percent/100 × count), at least 1.
    let rank = (percent * count).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).unwrap_or(usize::MAX)).copied()
}

/// Sums up a run. A commit seen "before" its submission (the block was fetched while the
/// response was in flight) counts as zero latency rather than wrapping around.
pub fn summarize(records: &[TxRecord]) -> Summary {
    let mut latencies = Vec::new();
    let mut submitted = 0u64;
    let mut first_submit: Option<Duration> = None;
    let mut last_commit: Option<Duration> = None;
    for record in records {
        let Some(submit) = record.submitted else { continue };
        submitted += 1;
        first_submit = Some(first_submit.map_or(submit, |first| first.min(submit)));
        if let Some(commit) = record.committed {
            latencies.push(commit.saturating_sub(submit));
            last_commit = Some(last_commit.map_or(commit, |last| last.max(commit)));
        }
    }
    latencies.sort_unstable();
    let committed = latencies.len() as u64;
    let committed_tps = match (first_submit, last_commit) {
        (Some(first), Some(last)) if last > first => {
            (committed as f64 / (last - first).as_secs_f64()).round() as u64
        }
        _ => 0,
    };
    let millis = |latency: Option<Duration>| latency.map_or(0, |latency| latency.as_millis() as u64);
    Summary {
        committed_tps,
        p50_ms: millis(percentile(&latencies, 50)),
        p99_ms: millis(percentile(&latencies, 99)),
        submitted,
        committed,
        lost: submitted - committed,
    }
}

/// A small, fast, seedable generator (SplitMix64) for choosing receivers and deriving throwaway
/// sender keys. Not for secrets that matter: bench accounts hold a few test credits on a local
/// network, and a seeded run is reproducible.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` ≥ 1); the modulo bias is negligible for the small bounds
    /// used here.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// 32 bytes, e.g. a key seed.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50), Some(ms(50)));
        assert_eq!(percentile(&sorted, 99), Some(ms(99)));
        assert_eq!(percentile(&sorted, 100), Some(ms(100)));
        assert_eq!(percentile(&sorted, 0), Some(ms(1)));
        assert_eq!(percentile(&[ms(7)], 99), Some(ms(7)));
        // Three values: p50 is the 2nd (ceil 1.5), p99 the 3rd.
        assert_eq!(percentile(&[ms(1), ms(2), ms(30)], 50), Some(ms(2)));
        assert_eq!(percentile(&[ms(1), ms(2), ms(30)], 99), Some(ms(30)));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn summary_counts_lost_and_measures_submit_to_commit() {
        let mut records = vec![TxRecord::default(); 6];
        // Never sent (late): counts nowhere.
        records[0] = TxRecord { submitted: None, committed: None };
        // Sent at 0 s, 1 s, 2 s, 3 s; committed 100, 200 and 400 ms later; one never committed.
        records[1] = TxRecord { submitted: Some(ms(0)), committed: Some(ms(100)) };
        records[2] = TxRecord { submitted: Some(ms(1_000)), committed: Some(ms(1_200)) };
        records[3] = TxRecord { submitted: Some(ms(2_000)), committed: Some(ms(2_400)) };
        records[4] = TxRecord { submitted: Some(ms(3_000)), committed: None };
        // Seen in a block before its response came back: zero latency, not a wrap-around.
        records[5] = TxRecord { submitted: Some(ms(1_900)), committed: Some(ms(1_850)) };
        let summary = summarize(&records);
        assert_eq!(summary.submitted, 5);
        assert_eq!(summary.committed, 4);
        assert_eq!(summary.lost, 1);
        // Latencies 0, 100, 200, 400 ms: p50 is the 2nd, p99 the 4th.
        assert_eq!(summary.p50_ms, 100);
        assert_eq!(summary.p99_ms, 400);
        // 4 commits from the first submission (0 s) to the last commit (2.4 s): 1.67/s → 2.
        assert_eq!(summary.committed_tps, 2);
        assert_eq!(
            summary.to_string(),
            "committed_tps=2 p50_ms=100 p99_ms=400 submitted=5 committed=4 lost=1"
        );
    }

    #[test]
    fn nothing_committed_reports_zeros() {
        let records = [TxRecord { submitted: Some(ms(5)), committed: None }];
        let summary = summarize(&records);
        assert_eq!(
            summary,
            Summary { committed_tps: 0, p50_ms: 0, p99_ms: 0, submitted: 1, committed: 0, lost: 1 }
        );
        assert_eq!(summarize(&[]).submitted, 0);
    }

    #[test]
    fn schedule_is_evenly_spaced() {
        assert_eq!(send_offset(0, 500), Duration::ZERO);
        assert_eq!(send_offset(1, 500), ms(2));
        assert_eq!(send_offset(500, 500), ms(1_000));
        assert_eq!(send_offset(1, 3), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn splitmix_is_deterministic_and_bounded() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.bytes32(), b.bytes32());
        assert!((0..1_000).all(|_| a.below(10) < 10));
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }
}
