//! Property tests of the usage CSV (a file a gateway produces and a provider signs a
//! settlement over): arbitrary text never panics the parser; for valid files, the total is the
//! exact sum of the rows, the usage root does not depend on line order, and changing any one
//! row's canonical content changes the root.

use proptest::collection::vec;
use proptest::prelude::*;
use tally_client::usage::{USAGE_HEADER, parse_usage};

/// A valid row: (call id suffix, time, endpoint, units, amount in minor units at scale 2).
fn rows() -> impl Strategy<Value = Vec<(u32, u64, String, u64, u64)>> {
    vec((any::<u32>(), any::<u64>(), "/[a-z]{1,12}", any::<u64>(), 0u64..10_000_000), 1..20)
}

/// The CSV text of `rows` (call ids made unique by their index), in the given order.
fn csv(rows: &[(u32, u64, String, u64, u64)], order: &[usize]) -> String {
    let mut text = format!("{USAGE_HEADER}\n");
    for &index in order {
        let (suffix, time, endpoint, units, minor) = &rows[index];
        let amount = format!("{}.{:02}", minor / 100, minor % 100);
        text.push_str(&format!("req-{index}-{suffix},{time},{endpoint},{units},{amount}\n"));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), body in "[a-z0-9,./:\\-\r\n]{0,200}") {
        let _ = parse_usage(&text, 2);
        let _ = parse_usage(&format!("{USAGE_HEADER}\n{body}"), 2);
        let _ = parse_usage(&format!("{USAGE_HEADER}\n{body}"), 0);
    }

    #[test]
    fn totals_are_exact_and_roots_ignore_line_order(rows in rows(), seed in any::<u64>()) {
        let forward: Vec<usize> = (0..rows.len()).collect();
        let batch = parse_usage(&csv(&rows, &forward), 2).expect("a valid file");
        let total: u128 = rows.iter().map(|row| u128::from(row.4)).sum();
        prop_assert_eq!(batch.total.0, total);
        prop_assert_eq!(batch.rows.len(), rows.len());
        // Any other order of the same lines: the same root.
        let mut shuffled = forward.clone();
        let mut state = seed | 1;
        for index in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(index, (state % (index as u64 + 1)) as usize);
        }
        let again = parse_usage(&csv(&rows, &shuffled), 2).expect("a valid file");
        prop_assert_eq!(again.usage_root, batch.usage_root);
        // One more unit on one call: another root.
        let mut changed = rows.clone();
        let at = (seed % rows.len() as u64) as usize;
        changed[at].3 = changed[at].3.wrapping_add(1);
        let other = parse_usage(&csv(&changed, &forward), 2).expect("a valid file");
        prop_assert_ne!(other.usage_root, batch.usage_root);
    }
}
