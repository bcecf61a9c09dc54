//! Settlement throughput under price plans: Settle ops with 50 usage lines each, processed per
//! second by the ledger, in a `MemState`, with the state root computed for every block.
//!
//! The base state is one the ledger itself produced: acme published a plan of 50 metered items
//! (each with two graduated tiers, some with a free allowance per hold); 5,000 developers each
//! authorized spending under that plan version, and acme placed a hold on each. Every
//! benchmark block holds 1,000 single-op Settle transactions from acme's gateway key (one
//! per developer, each developer once per block), each with 50 lines (every item, 1 to 20,000
//! units) and the amount the plan gives: the ledger prices every line again against the
//! plan, the holder's cumulative billed units for the tier position, and the hold's allowance,
//! and refuses any other amount.
//!
//! Each iteration executes and commits one block on a copy of the same base state (copying is
//! not timed); `execute_only` leaves out the commit. Signatures are not checked (execution
//! never does). It also prints the encoded size of one signed Settle transaction with 50 lines.
//!
//! The baseline, `no_plan`, settles 1,000 holds that no plan governs (no lines, any amount up
//! to the hold), on the same base state: the ratio is the cost of pricing 50 lines.
//!
//! Run: `cargo bench -p tally-ledger --bench settle`. A benchmark reports, never asserts.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_main};
use tally_ledger::{
    BlockContext, GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, MemState, execute_block,
};
use tally_types::codec::{BoundedBytes, BoundedString, BoundedVec, encode};
use tally_types::pricing::{PlanItem, PlanRef, PricePlan, Tier, UnitPrice, UsageLine, price_lines};
use tally_types::receipt::TxOutcome;
use tally_types::tx::{AssetFlags, AuthorizeSpend, Hold, Settle, Transaction};
use tally_types::{
    Amount, AssetId, ChainId, Hash, Height, ItemName, MemberId, Op, OpId, PlanId, SecretKey,
    SignedTransaction,
};

/// Developers with a hold under the plan; every benchmark block settles against 1,000 of them.
const HOLDERS: usize = 5_000;
/// Developers with a hold under no plan (the baseline: a settlement the ledger does not price).
const PLAIN_HOLDERS: usize = 1_000;
const TXS_PER_BLOCK: usize = 1_000;
/// Distinct pre-built blocks, each valid on the base state, used in turn.
const BLOCKS: usize = HOLDERS / TXS_PER_BLOCK;
/// Usage lines per settlement (and metered items in the plan).
const LINES: usize = 50;
/// Holds placed per setup transaction (the op limit per transaction).
const HOLDS_PER_TX: usize = 16;
const HOLD_AMOUNT: u128 = 10_000_000;

fn chain() -> ChainId {
    ChainId::new("tally-bench").expect("valid chain id")
}

fn acme_asset() -> AssetId {
    "ACME@acme".parse().expect("valid asset")
}

fn acme() -> MemberId {
    MemberId::new("acme").expect("valid member id")
}

fn issuer() -> SecretKey {
    SecretKey::from_seed(&[1; 32])
}

/// A deterministic key per developer.
fn holder_key(index: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    seed[31] = 0x5e;
    SecretKey::from_seed(&seed)
}

fn op_id(tag: u8, index: usize) -> OpId {
    let mut bytes = [0u8; 16];
    bytes[0] = tag;
    bytes[8..].copy_from_slice(&(index as u64).to_be_bytes());
    OpId(bytes)
}

fn item_name(index: usize) -> ItemName {
    ItemName::new(format!("endpoint.{index:02}")).expect("valid item name")
}

fn plan_ref() -> PlanRef {
    PlanRef { plan_id: PlanId::new("metered").expect("valid plan id"), version: 1 }
}

/// 50 items; item `i` costs `0.00i+1` per unit up to 5,000 units a holder settles, half that
/// after; every third item has 100 units free per hold.
fn plan() -> PricePlan {
    let items = (0..LINES)
        .map(|index| {
            let first = UnitPrice::parse(&format!("0.{:03}", index + 1)).expect("valid price");
            let after = UnitPrice(first.0 / 2);
            PlanItem {
                item: item_name(index),
                included_per_hold: if index % 3 == 0 { 100 } else { 0 },
                tiers: BoundedVec::new(vec![
                    Tier { up_to: Some(5_000), unit_price: first },
                    Tier { up_to: None, unit_price: after },
                ])
                .expect("two tiers"),
            }
        })
        .collect();
    PricePlan {
        plan_id: plan_ref().plan_id,
        version: 1,
        asset: acme_asset(),
        title: BoundedString::new("Metered").expect("short"),
        items: BoundedVec::new(items).expect("at most 64 items"),
        packs: BoundedVec::empty(),
    }
}

fn tx(signer: &SecretKey, seq: u64, ops: Vec<Op>) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        signer: signer.public_key(),
        seq,
        valid_until_height: Height(1_000_000),
        ops: BoundedVec::new(ops).expect("at most 16 ops"),
        memo: BoundedBytes::empty(),
    }
    .sign(signer)
}

/// Small deterministic pseudo-random sequence (splitmix64), without a `rand` dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Setup {
    state: MemState,
    context: BlockContext,
    blocks: Vec<Vec<SignedTransaction>>,
    /// One block of settlements under no plan (the baseline).
    plain: Vec<SignedTransaction>,
}

/// Executes `txs` as the next block and checks that every one succeeded.
fn run_block(state: &mut MemState, height: &mut Height, txs: &[SignedTransaction]) {
    *height = height.next();
    let context = BlockContext { chain_id: chain(), height: *height, time_ms: 1_700_000_000_000 + height.0 };
    let committed = state.execute_and_commit(&context, txs).expect("setup block executes");
    for (receipt, tx) in committed.output.receipts.iter().zip(txs) {
        assert_eq!(receipt.outcome, TxOutcome::Success, "setup transaction {:?} failed", tx.tx.ops);
    }
}

// Not split: one fixture built top to bottom, each part from the ones above (comments name them).
fn setup() -> Setup {
    let holders: Vec<SecretKey> = (0..HOLDERS + PLAIN_HOLDERS).map(holder_key).collect();
    let issuer = issuer();
    let genesis = GenesisLedger {
        members: vec![GenesisMember { id: acme(), name: "Acme".into(), issuers: vec![issuer.public_key()] }],
        assets: vec![GenesisAsset {
            asset: acme_asset(),
            scale: 2,
            max_supply: None,
            flags: AssetFlags::default(),
        }],
        balances: holders
            .iter()
            .map(|key| GenesisBalance {
                account: key.public_key(),
                asset: acme_asset(),
                amount: Amount(HOLD_AMOUNT),
            })
            .collect(),
        ..Default::default()
    };
    let mut state = MemState::from_genesis(&genesis).expect("valid genesis");
    let mut height = Height(0);
    let mut issuer_seq = 1;

    // The plan.
    run_block(&mut state, &mut height, &[tx(&issuer, issuer_seq, vec![Op::PublishPlan(Box::new(plan()))])]);
    issuer_seq += 1;
    // Every developer agrees to it (the last PLAIN_HOLDERS to spending under no plan).
    for (chunk_index, chunk) in holders.chunks(TXS_PER_BLOCK).enumerate() {
        let txs: Vec<SignedTransaction> = chunk
            .iter()
            .map(|holder| {
                let authorize = AuthorizeSpend {
                    provider: acme(),
                    asset: acme_asset(),
                    cap: Amount(HOLD_AMOUNT),
                    expires_at_ms: u64::MAX,
                    plan: (chunk_index * TXS_PER_BLOCK < HOLDERS).then(plan_ref),
                };
                tx(holder, 1, vec![Op::AuthorizeSpend(authorize)])
            })
            .collect();
        run_block(&mut state, &mut height, &txs);
    }
    // A hold on each (16 per transaction from the issuer).
    let holds: Vec<SignedTransaction> = holders
        .chunks(HOLDS_PER_TX)
        .enumerate()
        .map(|(chunk_index, chunk)| {
            let ops = chunk
                .iter()
                .enumerate()
                .map(|(offset, holder)| {
                    Op::Hold(Hold {
                        hold_id: op_id(0x40, chunk_index * HOLDS_PER_TX + offset),
                        holder: holder.public_key(),
                        asset: acme_asset(),
                        amount: Amount(HOLD_AMOUNT),
                        expires_at_ms: u64::MAX,
                    })
                })
                .collect();
            let signed = tx(&issuer, issuer_seq, ops);
            issuer_seq += 1;
            signed
        })
        .collect();
    run_block(&mut state, &mut height, &holds);

    // The benchmark blocks: block b settles the holds of developers b*1000 .. b*1000+999, with
    // the amounts the plan gives (nothing billed before: each is its holder's first settlement).
    let plan = plan();
    let mut random = 11u64;
    let blocks = (0..BLOCKS)
        .map(|block| {
            (0..TXS_PER_BLOCK)
                .map(|index| {
                    let holder = block * TXS_PER_BLOCK + index;
                    let lines: Vec<UsageLine> = (0..LINES)
                        .map(|item| UsageLine {
                            item: item_name(item),
                            units: 1 + splitmix(&mut random) % 20_000,
                        })
                        .collect();
                    let charge = price_lines(&plan, &lines, |_| 0).expect("the plan prices its own items");
                    let settle = Settle {
                        hold_id: op_id(0x40, holder),
                        batch_id: op_id(0x50, holder),
                        amount: charge.total,
                        usage_root: Hash([index as u8; 32]),
                        lines: BoundedVec::new(lines).expect("at most 64 lines"),
                    };
                    tx(&issuer, issuer_seq + index as u64, vec![Op::Settle(settle)])
                })
                .collect()
        })
        .collect();
    let plain = (HOLDERS..HOLDERS + PLAIN_HOLDERS)
        .map(|holder| {
            let settle = Settle {
                hold_id: op_id(0x40, holder),
                batch_id: op_id(0x50, holder),
                amount: Amount(1 + u128::from(splitmix(&mut random) % 100_000)),
                usage_root: Hash([holder as u8; 32]),
                lines: BoundedVec::empty(),
            };
            tx(&issuer, issuer_seq + (holder - HOLDERS) as u64, vec![Op::Settle(settle)])
        })
        .collect();
    let context = BlockContext { chain_id: chain(), height: height.next(), time_ms: 1_700_000_100_000 };
    Setup { state, context, blocks, plain }
}

fn benches() {
    let setup = setup();
    // Outside the measurement: every settlement succeeds, and how large one is.
    for block in setup.blocks.iter().chain([&setup.plain]) {
        let output = execute_block(&setup.state, &setup.context, block).expect("valid block");
        assert!(output.receipts.iter().all(|receipt| receipt.outcome == TxOutcome::Success));
    }
    let one = &setup.blocks[0][0];
    eprintln!(
        "settle bench: {} entries in the base state; one signed Settle with {LINES} lines is {} bytes ({} bytes of ops)",
        setup.state.len(),
        encode(one).len(),
        encode(&one.tx.ops).len(),
    );

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    let mut group = criterion.benchmark_group("settle");
    group.throughput(Throughput::Elements(TXS_PER_BLOCK as u64));
    let mut next = 0usize;
    group.bench_function("50_lines/execute_and_commit", |b| {
        b.iter_batched(
            || {
                next = (next + 1) % BLOCKS;
                (setup.state.clone(), &setup.blocks[next])
            },
            |(mut state, block)| {
                let output = execute_block(&state, &setup.context, block).expect("valid block");
                let root = state.commit(&output.writes).expect("commits");
                black_box(root);
                // Returned so that dropping the state copy is not timed.
                (state, output)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("50_lines/execute_only", |b| {
        b.iter(|| {
            next = (next + 1) % BLOCKS;
            execute_block(&setup.state, &setup.context, &setup.blocks[next]).expect("valid block")
        })
    });
    group.bench_function("no_plan/execute_and_commit", |b| {
        b.iter_batched(
            || setup.state.clone(),
            |mut state| {
                let output = execute_block(&state, &setup.context, &setup.plain).expect("valid block");
                let root = state.commit(&output.writes).expect("commits");
                black_box(root);
                (state, output)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_main!(benches);
