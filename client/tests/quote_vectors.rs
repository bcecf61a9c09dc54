//! Quote vectors: what the Rust client makes of planned usage files (parsed lines or the error)
//! and what each plan charges for them (`price_under`, the pure part of `tally price quote`),
//! written to `tests/golden/quotes.json`. The TypeScript SDK's `parsePlannedUsage`, `plansPricing`
//! and `quote` must reproduce the file exactly (sdk/typescript/test/quote.test.ts); the explorer
//! quotes a dropped usage file with them.
//!
//! To rewrite the file after an intended change (say so in the change):
//!
//! ```text
//! TALLY_REGENERATE_GOLDEN=1 cargo test -p tally-client --test quote_vectors
//! ```

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tally_client::pricing::{
    ItemUsage, PlanUsage, PlanVersion, price_under, pricing_candidates, read_plan_file,
};
use tally_client::usage::parse_planned_usage;
use tally_types::pricing::PricePlan;
use tally_types::{Amount, Height, ItemName, MemberId};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/pricing");

/// A plan with fractional prices, three tiers, an allowance, and an item dear enough to overflow.
const EDGE_PLAN: &str = r#"{
  "plan_id": "edge", "version": 3, "asset": "EDGE@edge", "title": "Edge cases",
  "items": [
    { "item": "dear", "tiers": [{ "up_to": null, "unit_price": "170141183460469231731687303715.884105728" }] },
    { "item": "search.query", "included_per_hold": 7, "tiers": [
      { "up_to": 3, "unit_price": "0.333333333" },
      { "up_to": 1000, "unit_price": "0.000000001" },
      { "up_to": 18446744073709551614, "unit_price": "2.5" },
      { "up_to": null, "unit_price": "1" } ] },
    { "item": "tokens.input", "tiers": [{ "up_to": null, "unit_price": "0.001" }] }
  ]
}"#;

fn candidates() -> Vec<PlanVersion> {
    let version = |member: &str, plan: PricePlan, status: &str| PlanVersion {
        member: MemberId::new(member).expect("member"),
        plan_id: plan.plan_id.clone(),
        version: plan.version,
        status: status.to_owned(),
        published_at: Height(2),
        retired_at: (status == "retired").then_some(Height(9)),
        plan,
    };
    let file = |name: &str| read_plan_file(&Path::new(EXAMPLES).join(name)).expect(name);
    let edge: PricePlan = serde_json::from_str(EDGE_PLAN).expect("the edge plan");
    let mut retired = file("hooli-search.json");
    retired.version = 2;
    vec![
        version("acme", file("acme-standard.json"), "active"),
        version("globex", file("globex-tokens.json"), "active"),
        version("initech", file("initech-maps.json"), "active"),
        version("hooli", file("hooli-search.json"), "active"),
        version("hooli", retired, "retired"),
        version("edge", edge, "active"),
    ]
}

/// Usage files: the examples, edge cases that parse, and files each refused for one reason.
fn usages() -> Vec<(&'static str, String)> {
    let example = |name: &str| std::fs::read_to_string(Path::new(EXAMPLES).join(name)).expect(name);
    let header = "call_id,time_ms,endpoint,item,units";
    let max = u64::MAX;
    vec![
        ("search.csv", example("search.csv")),
        ("usage.csv", example("usage.csv")),
        (
            "crlf, trailing blank lines, summed per item",
            format!(
                "{header}\r\nb,1,/s,search.query,6\r\na,2,/s,search.query,5\r\nc,3,/t,tokens.input,1500\r\n\r\n\n"
            ),
        ),
        ("a zero line is left out", format!("{header}\nz,1,/s,search.query,0\ny,1,/t,tokens.input,9\n")),
        ("only zero units", format!("{header}\nz,1,/s,search.query,0\n")),
        ("an overflowing charge", format!("{header}\nx,1,/d,dear,2\n")),
        ("units at u64 max", format!("{header}\nx,1,/s,search.query,{max}\n")),
        ("bad header", "call_id,time_ms,endpoint,units,amount\nx,1,/s,1,1\n".to_owned()),
        ("empty", format!("{header}\n")),
        ("blank line inside", format!("{header}\na,1,/s,search.query,1\n\nb,1,/s,search.query,1\n")),
        ("four fields", format!("{header}\na,1,/s,1\n")),
        ("bad call id", format!("{header}\na b,1,/s,search.query,1\n")),
        ("bad time", format!("{header}\na,-1,/s,search.query,1\n")),
        ("endpoint with a quote", format!("{header}\na,1,/\"s,search.query,1\n")),
        ("bad item", format!("{header}\na,1,/s,Search.Query,1\n")),
        ("units not a number", format!("{header}\na,1,/s,search.query,1.5\n")),
        ("units beyond u64", format!("{header}\na,1,/s,search.query,18446744073709551616\n")),
        ("repeated call id", format!("{header}\na,1,/s,search.query,1\na,2,/s,search.query,1\n")),
        ("units add up past u64", format!("{header}\na,1,/s,search.query,{max}\nb,1,/s,search.query,1\n")),
        (
            "65 items",
            std::iter::once(header.to_owned())
                .chain((0..65).map(|i| format!("c{i},1,/s,item.{i:02},1")))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ]
}

/// Tier positions to quote from: a new holder's, and one near the tiers' edges.
fn positions() -> Vec<Option<PlanUsage>> {
    let usage = |item: &str, billed: u64| ItemUsage {
        item: ItemName::new(item).expect("item"),
        units: billed,
        billed,
        charged: Amount(0),
    };
    vec![
        None,
        Some(PlanUsage {
            height: Height(10),
            items: vec![
                usage("search.query", 999_950),
                usage("tokens.input", 99_999_990),
                usage("tokens.output", 3),
            ],
        }),
    ]
}

fn vectors() -> Value {
    let plans = candidates();
    let mut cases = Vec::new();
    for (name, csv) in usages() {
        let parsed = match parse_planned_usage(&csv) {
            Ok(batch) => batch,
            Err(error) => {
                cases.push(json!({ "name": name, "csv": csv, "error": error.to_string() }));
                continue;
            }
        };
        let items: Vec<ItemName> = parsed.lines.iter().map(|line| line.item.clone()).collect();
        let wanted: Vec<String> = pricing_candidates(plans.clone(), &items)
            .iter()
            .map(|version| format!("{}/{}@{}", version.member, version.plan_id, version.version))
            .collect();
        let quotes: Vec<Value> = positions()
            .iter()
            .map(|position| {
                let results: Vec<Value> = plans
                    .iter()
                    .map(|version| {
                        let plan = format!("{}/{}@{}", version.member, version.plan_id, version.version);
                        match price_under(version, &parsed.lines, position.as_ref()) {
                            Ok(charge) => {
                                json!({ "plan": plan, "total": charge.total, "lines": charge.lines })
                            }
                            Err(error) => json!({ "plan": plan, "error": error.to_string() }),
                        }
                    })
                    .collect();
                json!({ "position": position.as_ref().map(|usage| &usage.items), "results": results })
            })
            .collect();
        cases.push(json!({
            "name": name, "csv": csv, "calls": parsed.rows.len(), "lines": parsed.lines,
            "candidates": wanted, "quotes": quotes,
        }));
    }
    json!({
        "about": "Quote vectors: planned usage files parsed and priced under each plan by the Rust client. \
                  Checked by client/tests/quote_vectors.rs and sdk/typescript/test/quote.test.ts; \
                  rewrite with TALLY_REGENERATE_GOLDEN=1 cargo test -p tally-client --test quote_vectors",
        "plans": plans,
        "cases": cases,
    })
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/quotes.json")
}

#[test]
fn quote_vectors_file_matches_the_client() {
    let built = vectors();
    let mut text = serde_json::to_string_pretty(&built).expect("serialize");
    text.push('\n');
    let path = vectors_path();
    if std::env::var("TALLY_REGENERATE_GOLDEN").is_ok_and(|value| value == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create tests/golden");
        std::fs::write(&path, text).expect("write the vectors");
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("cannot read {}: {error}; run with TALLY_REGENERATE_GOLDEN=1 to create it", path.display())
    });
    let stored: Value = serde_json::from_str(&stored).expect("the vectors are JSON");
    assert_eq!(
        stored, built,
        "quotes.json differs from the client; if intended, rerun with TALLY_REGENERATE_GOLDEN=1"
    );
}

#[test]
fn the_vectors_cover_every_outcome() {
    let built = vectors();
    let cases = built["cases"].as_array().expect("cases");
    let text = built.to_string();
    // Every charge error and the usage errors appear, so the SDK is checked against each.
    for needle in [
        "is not in the plan",
        "overflows",
        "is not a whole number",
        "repeats line",
        "blank line",
        "64 usage lines",
    ] {
        assert!(text.contains(needle), "no vector says `{needle}`");
    }
    assert!(cases.iter().any(|case| case["candidates"].as_array().is_some_and(|c| c.len() >= 3)));
}
