//! Ledger throughput on one core.
//!
//! 1. `transfers`: blocks of 1,000 signed transfers among 10,000 funded accounts, each executed
//!    and committed (state root computed) on a copy of the same state. Signatures are not
//!    checked (execution never does); building the blocks and copying the state are not timed.
//!    Throughput is in transfers.
//! 2. `signatures`: the signature rule (ZIP-215, `tally_types::keys`) on signed transfers, one
//!    at a time (`check_form_and_signature`, `verify_raw`, and ed25519-dalek's `verify_strict`,
//!    the rule before ZIP-215, for comparison) and in batches of 64 and 256 (`verify_batch`,
//!    `check_batch`, and `check_batch` with one bad signature, which bisection must find).
//!    Batch throughput is per signature.
//!
//! Each is measured twice: in wall-clock time (criterion's default) and in on-CPU time (wall
//! time minus the time the thread spent runnable but waiting for a core, from the kernel's
//! `/proc/thread-self/schedstat`). On a shared machine the second is the one-core figure.
//!
//! Run: `cargo bench -p tally-ledger --bench execute`. A benchmark reports, never asserts.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, Criterion, Throughput, criterion_main};
use tally_ledger::{
    AccountState, BlockContext, GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, MemState,
    StateKey, StateValue, WriteSet, execute_block,
};
use tally_types::codec::{BoundedBytes, BoundedVec, encode};
use tally_types::keys::{Namespace, SignatureItem, signing_message, verify_batch};
use tally_types::tx::{AssetFlags, Transaction, Transfer, check_batch};
use tally_types::{Amount, AssetId, ChainId, Height, MemberId, Op, SecretKey, SignedTransaction};

const ACCOUNTS: usize = 10_000;
const TXS_PER_BLOCK: usize = 1_000;
/// Distinct pre-built blocks, each valid on the base state (disjoint senders), used in turn.
const BLOCKS: usize = 10;

fn chain() -> ChainId {
    ChainId::new("tally-bench").expect("valid chain id")
}

/// A deterministic key per account index.
fn account_key(index: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    seed[31] = 0xbe;
    SecretKey::from_seed(&seed)
}

/// A small deterministic pseudo-random sequence (splitmix64), so the receivers are spread
/// over the whole account set without a `rand` dependency.
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
}

fn setup() -> Setup {
    let keys: Vec<SecretKey> = (0..ACCOUNTS).map(account_key).collect();
    let asset: AssetId = "CRED@acme".parse().expect("valid asset");
    let genesis = GenesisLedger {
        members: vec![GenesisMember {
            id: MemberId::new("acme").expect("valid member"),
            name: "Acme".into(),
            issuers: vec![SecretKey::from_seed(&[1; 32]).public_key()],
        }],
        assets: vec![GenesisAsset {
            asset: asset.clone(),
            scale: 2,
            max_supply: None,
            flags: AssetFlags::default(),
        }],
        balances: keys
            .iter()
            .map(|key| GenesisBalance {
                account: key.public_key(),
                asset: asset.clone(),
                amount: Amount(1_000_000),
            })
            .collect(),
        ..Default::default()
    };
    let mut state = MemState::from_genesis(&genesis).expect("valid genesis");
    // Steady state: every account has sent before (seq 1), so a block updates entries
    // rather than creating them.
    let seqs: WriteSet = keys
        .iter()
        .map(|key| {
            (
                StateKey::Account { account: key.public_key() },
                Some(StateValue::Account(AccountState { seq: 1 })),
            )
        })
        .collect();
    state.commit(&seqs).expect("commits");

    let context = BlockContext { chain_id: chain(), height: Height(2), time_ms: 1_700_000_000_000 };
    let mut random = 42u64;
    let blocks = (0..BLOCKS)
        .map(|block| {
            (0..TXS_PER_BLOCK)
                .map(|index| {
                    let sender = &keys[(block * TXS_PER_BLOCK + index) % ACCOUNTS];
                    let mut receiver = (splitmix(&mut random) % ACCOUNTS as u64) as usize;
                    if keys[receiver].public_key() == sender.public_key() {
                        receiver = (receiver + 1) % ACCOUNTS;
                    }
                    let op = Op::Transfer(Transfer {
                        asset: asset.clone(),
                        to: keys[receiver].public_key(),
                        amount: Amount(1 + splitmix(&mut random) as u128 % 1_000),
                    });
                    Transaction {
                        chain_id: chain(),
                        signer: sender.public_key(),
                        seq: 2,
                        valid_until_height: Height(100),
                        ops: BoundedVec::new(vec![op]).expect("one op"),
                        memo: BoundedBytes::empty(),
                    }
                    .sign(sender)
                })
                .collect()
        })
        .collect();
    Setup { state, context, blocks }
}

/// Wall-clock time minus the time this thread waited for a core: what the work would take on
/// an idle core. Reads the kernel's run-queue delay for the thread, which is exact whenever
/// the thread is running (it is updated each time the thread gets a core back).
struct OnCpu;

/// Nanoseconds this thread has spent runnable but not running (second field of schedstat).
fn run_queue_delay_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("on-CPU measurement needs /proc/thread-self/schedstat (Linux with schedstats)");
    text.split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("schedstat's second field is the run-queue delay in nanoseconds")
}

impl Measurement for OnCpu {
    type Intermediate = (std::time::Instant, u64);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        let delay = run_queue_delay_ns();
        (std::time::Instant::now(), delay)
    }
    fn end(&self, (start, delay_at_start): Self::Intermediate) -> Self::Value {
        let wall = start.elapsed();
        let waited = run_queue_delay_ns().saturating_sub(delay_at_start);
        wall.saturating_sub(Duration::from_nanos(waited))
    }
    fn add(&self, first: &Self::Value, second: &Self::Value) -> Self::Value {
        *first + *second
    }
    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Formats nanoseconds and per-second throughputs, like criterion's own wall-time formatter.
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical_ns {
            ns if ns < 1e3 => (1.0, "ns"),
            ns if ns < 1e6 => (1e-3, "µs"),
            ns if ns < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|value| *value *= factor);
        unit
    }
    fn scale_throughputs(
        &self,
        typical_ns: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match *throughput {
            Throughput::Elements(count) | Throughput::ElementsAndBytes { elements: count, .. } => {
                count as f64
            }
            Throughput::Bytes(count) | Throughput::BytesDecimal(count) => count as f64,
            Throughput::Bits(count) => count as f64,
        };
        let per_second = per_iteration * 1e9 / typical_ns;
        let (divisor, unit) = match per_second {
            rate if rate < 1e3 => (1.0, "elem/s"),
            rate if rate < 1e6 => (1e3, "Kelem/s"),
            _ => (1e6, "Melem/s"),
        };
        values.iter_mut().for_each(|value| *value = per_iteration * 1e9 / *value / divisor);
        unit
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn transfers<M: Measurement>(c: &mut Criterion<M>, setup: &Setup, clock: &str) {
    let mut group = c.benchmark_group(format!("ledger/{clock}"));
    group.throughput(Throughput::Elements(TXS_PER_BLOCK as u64));
    let mut next = 0usize;
    group.bench_function("transfers/execute_and_commit", |b| {
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
    group.bench_function("transfers/execute_only", |b| {
        b.iter(|| {
            next = (next + 1) % BLOCKS;
            execute_block(&setup.state, &setup.context, &setup.blocks[next]).expect("valid block")
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("signatures/{clock}"));
    group.throughput(Throughput::Elements(1));
    let tx = &setup.blocks[0][0];
    group.bench_function("check_form_and_signature", |b| {
        b.iter(|| black_box(tx).check_form_and_signature().expect("valid signature"))
    });
    let message = signing_message(Namespace::Tx, &tx.tx.chain_id, &encode(&tx.tx));
    group.bench_function("verify_raw", |b| {
        b.iter(|| tx.tx.signer.verify_raw(black_box(&message), &tx.signature).expect("valid signature"))
    });
    let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&tx.tx.signer.0).expect("valid key");
    let dalek_signature = ed25519_dalek::Signature::from_bytes(&tx.signature.0);
    group.bench_function("verify_strict_dalek", |b| {
        b.iter(|| dalek_key.verify_strict(black_box(&message), &dalek_signature).expect("valid signature"))
    });
    for size in [64, 256] {
        let txs = &setup.blocks[0][..size];
        let messages: Vec<Vec<u8>> =
            txs.iter().map(|tx| signing_message(Namespace::Tx, &tx.tx.chain_id, &encode(&tx.tx))).collect();
        let items: Vec<SignatureItem<'_>> = txs
            .iter()
            .zip(&messages)
            .map(|(tx, message)| SignatureItem { key: &tx.tx.signer, message, signature: &tx.signature })
            .collect();
        let mut one_bad = txs.to_vec();
        one_bad[size / 2].signature.0[40] ^= 1;
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(format!("verify_batch/{size}"), |b| {
            b.iter(|| assert!(verify_batch(black_box(&items)).iter().all(Result::is_ok)))
        });
        group.bench_function(format!("check_batch/{size}"), |b| {
            b.iter(|| assert!(check_batch(black_box(txs)).iter().all(Result::is_ok)))
        });
        group.bench_function(format!("check_batch_one_bad/{size}"), |b| {
            b.iter(|| assert_eq!(check_batch(black_box(&one_bad)).iter().filter(|r| r.is_err()).count(), 1))
        });
    }
    group.finish();
}

fn configure<M: Measurement>(criterion: Criterion<M>) -> Criterion<M> {
    criterion.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4))
}

fn benches() {
    let setup = setup();
    // Sanity, outside the measurement: every transfer of every block succeeds.
    for block in &setup.blocks {
        let output = execute_block(&setup.state, &setup.context, block).expect("valid block");
        assert!(output.receipts.iter().all(|receipt| receipt.outcome == tally_types::TxOutcome::Success));
    }
    let mut wall = configure(Criterion::default()).configure_from_args();
    transfers(&mut wall, &setup, "wall");
    let mut on_cpu = configure(Criterion::default().with_measurement(OnCpu)).configure_from_args();
    transfers(&mut on_cpu, &setup, "on_cpu");
}

criterion_main!(benches);
