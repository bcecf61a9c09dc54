//! The example price plans (examples/pricing) load and pass the ledger's form check, and the
//! example usage file prices under the plans that cover its items, to the amounts worked out
//! by hand here.

use std::path::Path;

use tally_client::pricing::read_plan_file;
use tally_client::usage::read_planned_usage;
use tally_types::ItemName;
use tally_types::pricing::{ChargeError, UsageLine, price_lines};

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

#[test]
fn every_demo_provider_has_a_plan_and_the_search_plans_compare() {
    let plan = |file: &str| read_plan_file(&Path::new(EXAMPLES).join(file)).expect(file);
    let plans = [
        plan("acme-standard.json"),
        plan("globex-tokens.json"),
        plan("initech-maps.json"),
        plan("hooli-search.json"),
    ];
    let members: Vec<&str> = plans.iter().map(|plan| plan.asset.issuer.as_str()).collect();
    assert_eq!(members, ["acme", "globex", "initech", "hooli"]);
    // The demo's 250 queries: acme 150 billable at 2 (300), globex 250 at 3 (750), hooli 200
    // billable at 1.8 (360); initech prices no queries.
    let queries = [UsageLine { item: ItemName::new("search.query").expect("valid"), units: 250 }];
    let totals: Vec<Option<u128>> = plans
        .iter()
        .map(|plan| price_lines(plan, &queries, |_| 0).ok().map(|charge| charge.total.0))
        .collect();
    assert_eq!(totals, [Some(300), Some(750), None, Some(360)]);
    // initech: 500 geocodes free per hold, then 0.5 each up to 100,000 billed, 0.4 after.
    let geocodes = [UsageLine { item: ItemName::new("maps.geocode").expect("valid"), units: 100_600 }];
    let charge = price_lines(&plans[2], &geocodes, |_| 99_000).expect("initech prices geocodes");
    // 100,100 billable from position 99,000: 1,000 at 0.5 (500) and 99,100 at 0.4 (39,640).
    assert_eq!(charge.total.0, 500 + 39_640);
}

/// A plan of `items` metered items with `tiers` tiers each, as a plan file's JSON.
fn plan_json(items: usize, tiers: usize) -> String {
    let items: Vec<String> = (0..items)
        .map(|index| {
            let tiers: Vec<String> = (0..tiers)
                .map(|tier| match tier + 1 == tiers {
                    true => r#"{"up_to":null,"unit_price":"1"}"#.to_owned(),
                    false => format!(r#"{{"up_to":{},"unit_price":"2"}}"#, (tier + 1) * 1_000),
                })
                .collect();
            format!(r#"{{"item":"endpoint.{index:02}","tiers":[{}]}}"#, tiers.join(","))
        })
        .collect();
    format!(
        r#"{{"plan_id":"big","version":1,"asset":"ACME@acme","title":"Big","items":[{}]}}"#,
        items.join(",")
    )
}

#[test]
fn a_plan_file_that_cannot_fit_one_transaction_is_refused_by_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("plan.json");
    // 50 items of two tiers (the settle bench's plan) fit.
    std::fs::write(&file, plan_json(50, 2)).expect("write");
    let plan = read_plan_file(&file).expect("fits one transaction");
    assert_eq!(plan.items.len(), 50);
    // 64 items of 8 tiers pass the form check but do not fit.
    std::fs::write(&file, plan_json(64, 8)).expect("write");
    let error = read_plan_file(&file).expect_err("too large").to_string();
    assert!(error.contains("bytes") && error.contains("fewer items, tiers or packs"), "{error}");
}
