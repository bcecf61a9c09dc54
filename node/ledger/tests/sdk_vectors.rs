//! Vectors of the encodings added for badges whose claims the ledger proves and for the
//! community figures, written to `tests/golden/facts.json`: the `AnchorAchievements` op (bytes
//! and the JSON the node serves) and one key and value of each fact entry (`Usage`, `Spent`,
//! `AppUsage`, `Revenue`, `BadgeFigures`), made by the Rust types. The TypeScript SDK must
//! decode and re-encode each exactly (sdk/typescript/test/facts.test.ts), so a change here that
//! the SDK does not follow fails there.
//!
//! To rewrite the file after an intended change (say so in the change):
//!
//! ```text
//! TALLY_REGENERATE_GOLDEN=1 cargo test -p tally-ledger --test sdk_vectors
//! ```

use std::path::PathBuf;

use serde_json::{Value, json};
use tally_ledger::state::{AppUsageState, BadgeFiguresState, RevenueState, SpentState, UsageState};
use tally_ledger::{StateKey, StateValue};
use tally_types::codec::{BoundedString, BoundedVec, encode};
use tally_types::tx::{AchievementCount, AnchorAchievements, AnchorBadges, BadgeCanon, BadgeFormat};
use tally_types::{AchievementId, Amount, AppId, AssetId, Hash, Height, MemberId, Op, PublicKey};

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/facts.json")
}

fn entry(name: &str, key: StateKey, value: StateValue) -> Value {
    json!({
        "name": name,
        "key": hex::encode(key.to_bytes()),
        "key_json": key,
        "value": hex::encode(value.to_bytes()),
        "value_json": value,
    })
}

fn vectors() -> Value {
    let op = Op::AnchorAchievements(Box::new(AnchorAchievements {
        anchor: AnchorBadges {
            batch_root: Hash([0xab; 32]),
            leaf_count: 5,
            format: BadgeFormat::OpenBadges3,
            canon: BadgeCanon::JcsBlake3,
            metadata_uri: Some(BoundedString::new("https://badges.acme.example/batches/7").expect("short")),
        },
        achievements: BoundedVec::new(vec![
            AchievementCount {
                achievement: AchievementId::new("https://badges.acme.example/achievements/api-calls-1k")
                    .expect("valid"),
                count: 3,
            },
            AchievementCount {
                achievement: AchievementId::new("urn:uuid:7d0c-ab").expect("valid"),
                count: 2,
            },
        ])
        .expect("two"),
    }));
    let holder = PublicKey([0x11; 32]);
    let acme = MemberId::new("acme").expect("valid");
    let asset: AssetId = "ACME@acme".parse().expect("valid");
    // Values large enough that every byte of the little-endian integers matters.
    let entries = vec![
        entry(
            "usage",
            StateKey::Usage { holder, provider: acme.clone() },
            StateValue::Usage(UsageState {
                units: (1 << 100) + 1_000_001,
                settlements: (1 << 40) + 3,
                applications: 70_000,
            }),
        ),
        entry(
            "spent",
            StateKey::Spent { holder, provider: acme.clone(), asset: asset.clone() },
            StateValue::Spent(SpentState { amount: Amount(u128::MAX - 5), settlements: 9 }),
        ),
        entry(
            "app_usage",
            StateKey::AppUsage {
                holder,
                provider: acme.clone(),
                app: AppId::new("weather-bot").expect("valid"),
            },
            StateValue::AppUsage(AppUsageState {
                units: 120,
                settlements: 2,
                first_height: Height(u64::MAX - 1),
            }),
        ),
        entry(
            "revenue",
            StateKey::Revenue { account: holder, asset },
            StateValue::Revenue(RevenueState { market: Amount(1 << 100), grants: Amount(2_500) }),
        ),
        entry(
            "badge_figures",
            StateKey::BadgeFigures {
                member: acme,
                achievement: AchievementId::new("https://badges.acme.example/achievements/api-calls-1k")
                    .expect("valid"),
            },
            StateValue::BadgeFigures(BadgeFiguresState {
                anchored: (1 << 33) + 7,
                batches: 300,
                first_height: Height(12),
                last_height: Height(1 << 35),
            }),
        ),
    ];
    json!({
        "anchor_achievements": { "bytes": hex::encode(encode(&op)), "json": op },
        "entries": entries,
    })
}

#[test]
fn the_vectors_file_is_what_the_ledger_types_make() {
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
        "facts.json differs from the ledger types; if intended, rerun with TALLY_REGENERATE_GOLDEN=1"
    );
}

/// The file's bytes decode back to the values the JSON shows, so the SDK is checked against
/// what the node serves, not only against bytes.
#[test]
fn each_vector_decodes_to_its_json() {
    let built = vectors();
    for entry in built["entries"].as_array().expect("entries") {
        let key = StateKey::from_bytes(&hex::decode(entry["key"].as_str().expect("hex")).expect("hex"))
            .expect("key");
        let value = StateValue::from_bytes(&hex::decode(entry["value"].as_str().expect("hex")).expect("hex"))
            .expect("value");
        assert_eq!(serde_json::to_value(&key).expect("json"), entry["key_json"]);
        assert_eq!(serde_json::to_value(&value).expect("json"), entry["value_json"]);
        assert_eq!(key.kind(), value.kind());
    }
    let bytes = hex::decode(built["anchor_achievements"]["bytes"].as_str().expect("hex")).expect("hex");
    assert_eq!(bytes[0], 17, "AnchorAchievements is Op tag 17, after SettleApp");
}
