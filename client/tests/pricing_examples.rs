//! The example price plans (examples/pricing) load and pass the ledger's form check, and the
//! example usage file prices under the plans that cover its items, to the amounts worked out
//! by hand here.

use std::path::Path;

use tally_client::pricing::read_plan_file;
use tally_client::usage::read_planned_usage;
use tally_types::pricing::{ChargeError, price_lines};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/pricing");

#[test]
fn the_example_plans_load_and_price_the_example_usage() {
    let acme = read_plan_file(&Path::new(EXAMPLES).join("acme-standard.json")).expect("acme's plan");
    let globex = read_plan_file(&Path::new(EXAMPLES).join("globex-tokens.json")).expect("globex's plan");
    let usage = read_planned_usage(&Path::new(EXAMPLES).join("usage.csv")).expect("the usage file");
    assert_eq!(usage.rows.len(), 5);
    // globex prices every item: 3 queries at 3, 800 billable input tokens at 0.01 (8), 640
    // output tokens at 0.03 (19.2, rounded down to 19).
    let charge = price_lines(&globex, &usage.lines, |_| 0).expect("globex prices all");
    assert_eq!(charge.total.0, 9 + 8 + 19);
    // acme prices queries only.
    assert!(matches!(price_lines(&acme, &usage.lines, |_| 0), Err(ChargeError::UnknownItem(_))));
    let queries: Vec<_> =
        usage.lines.iter().filter(|line| line.item.as_str() == "search.query").cloned().collect();
    // 3 queries, within the 100 free per hold.
    assert_eq!(price_lines(&acme, &queries, |_| 0).expect("acme prices queries").total.0, 0);
}
