//! Matching throughput: PlaceOffer ops processed per second by the ledger against a book of
//! 100,000 resting offers (50,000 asks selling ACME for GLX, 50,000 bids selling GLX for ACME),
//! in a `MemState`, with the state root computed for every block.
//!
//! Each block holds 1,000 single-op transactions from distinct accounts, a realistic mix:
//! - half are takers, alternately buying and selling ACME, each sized to cross 1–3 resting
//!   offers at the top of the book (normal and immediate-or-cancel in turn);
//! - half are new resting offers (asks and bids that do not cross), which insert into the
//!   middle of the book.
//!
//! Every iteration executes and commits one block on a copy of the same base state (copying
//! is not timed); throughput is in offers (ops). `execute_only` leaves out the commit (tree
//! update and root), to show the split. Signatures are not checked (execution never
//! does). The setup builds the book by executing PlaceOffer blocks, so the base state is one
//! the ledger itself produced.
//!
//! Run: `cargo bench -p tally-ledger --bench market`. A benchmark reports, never asserts.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_main};
use tally_ledger::{
    BlockContext, GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, MemState, execute_block,
};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::receipt::TxOutcome;
use tally_types::tx::{AssetFlags, OfferMode, PlaceOffer, Transaction};
use tally_types::{
    Amount, AssetId, ChainId, Height, MemberId, Op, OpId, Price, SecretKey, SignedTransaction,
};

/// Resting offers in the base book, half on each side.
const RESTING: usize = 100_000;
/// Offers each maker account places during setup (one transaction).
const OFFERS_PER_MAKER: usize = 10;
const MAKERS: usize = RESTING / OFFERS_PER_MAKER;
const TXS_PER_BLOCK: usize = 1_000;
/// Distinct pre-built blocks, each valid on the base state (disjoint signers), used in turn.
const BLOCKS: usize = 5;
/// Every resting offer sells this much (minor units).
const OFFER_AMOUNT: u128 = 100;

fn chain() -> ChainId {
    ChainId::new("tally-bench").expect("valid chain id")
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid asset")
}

fn glx() -> AssetId {
    "GLX@globex".parse().expect("valid asset")
}

/// A deterministic key per account index.
fn account_key(index: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    seed[31] = 0x3c;
    SecretKey::from_seed(&seed)
}

fn offer_id(index: usize) -> OpId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(index as u64).to_be_bytes());
    OpId(bytes)
}

/// An ask (sells ACME) that crosses no bid: 1.001 to 2.000 GLX per ACME.
fn ask(id: usize, spread: usize) -> PlaceOffer {
    PlaceOffer {
        offer_id: offer_id(id),
        sell: acme(),
        buy: glx(),
        amount: Amount(OFFER_AMOUNT),
        price: Price { numerator: 1_001 + (spread % 1_000) as u64, denominator: 1_000 },
        mode: OfferMode::Normal,
    }
}

/// A bid (sells GLX) that crosses no ask: asks 1.001 to ~10 ACME per GLX, i.e. pays at most
/// 0.999 to 0.1 GLX per ACME.
fn bid(id: usize, spread: usize) -> PlaceOffer {
    PlaceOffer {
        offer_id: offer_id(id),
        sell: glx(),
        buy: acme(),
        amount: Amount(OFFER_AMOUNT),
        price: Price { numerator: 1_000, denominator: 999 - (spread % 900) as u64 },
        mode: OfferMode::Normal,
    }
}

/// A taker crossing about `makers` resting offers at the top of one side: it pays up to 3 of
/// its asset per unit it buys, and sells about what `makers` offers at the top ask for.
fn taker(id: usize, buys_acme: bool, makers: u128, mode: OfferMode) -> PlaceOffer {
    let (sell, buy) = if buys_acme { (glx(), acme()) } else { (acme(), glx()) };
    PlaceOffer {
        offer_id: offer_id(id),
        sell,
        buy,
        amount: Amount(OFFER_AMOUNT * makers - OFFER_AMOUNT / 2),
        price: Price { numerator: 1, denominator: 3 },
        mode,
    }
}

fn tx(signer: &SecretKey, seq: u64, ops: Vec<Op>) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        signer: signer.public_key(),
        seq,
        valid_until_height: Height(1_000),
        ops: BoundedVec::new(ops).expect("at most 16 ops"),
        memo: BoundedBytes::empty(),
    }
    .sign(signer)
}

struct Setup {
    state: MemState,
    context: BlockContext,
    blocks: Vec<Vec<SignedTransaction>>,
}

/// Small deterministic pseudo-random sequence (splitmix64), without a `rand` dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// Not split: one fixture built top to bottom, each part from the ones above (comments name them).
fn setup() -> Setup {
    let accounts = MAKERS + BLOCKS * TXS_PER_BLOCK;
    let keys: Vec<SecretKey> = (0..accounts).map(account_key).collect();
    let issuer = |seed| SecretKey::from_seed(&[seed; 32]).public_key();
    let mut balances = Vec::with_capacity(accounts * 2);
    for key in &keys {
        for asset in [acme(), glx()] {
            balances.push(GenesisBalance { account: key.public_key(), asset, amount: Amount(1_000_000) });
        }
    }
    let genesis = GenesisLedger {
        members: vec![
            GenesisMember {
                id: MemberId::new("acme").expect("valid"),
                name: "Acme".into(),
                issuers: vec![issuer(1)],
            },
            GenesisMember {
                id: MemberId::new("globex").expect("valid"),
                name: "Globex".into(),
                issuers: vec![issuer(2)],
            },
        ],
        assets: [acme(), glx()]
            .into_iter()
            .map(|asset| GenesisAsset { asset, scale: 2, max_supply: None, flags: AssetFlags::default() })
            .collect(),
        balances,
        ..Default::default()
    };
    let mut state = MemState::from_genesis(&genesis).expect("valid genesis");

    // The base book: each maker places 5 asks and 5 bids in one transaction.
    let mut random = 7u64;
    let mut height = Height(0);
    for makers in keys[..MAKERS].chunks(TXS_PER_BLOCK) {
        height = height.next();
        let txs: Vec<SignedTransaction> = makers
            .iter()
            .map(|maker| {
                let ops = (0..OFFERS_PER_MAKER)
                    .map(|n| {
                        let spread = splitmix(&mut random) as usize;
                        Op::PlaceOffer(if n % 2 == 0 { ask(n, spread) } else { bid(n, spread) })
                    })
                    .collect();
                tx(maker, 1, ops)
            })
            .collect();
        let context = BlockContext { chain_id: chain(), height, time_ms: 1_700_000_000_000 + height.0 };
        let committed = state.execute_and_commit(&context, &txs).expect("setup block executes");
        assert!(committed.output.receipts.iter().all(|receipt| receipt.outcome == TxOutcome::Success));
    }

    let context = BlockContext { chain_id: chain(), height: height.next(), time_ms: 1_700_000_100_000 };
    let blocks = (0..BLOCKS)
        .map(|block| {
            (0..TXS_PER_BLOCK)
                .map(|index| {
                    let signer = &keys[MAKERS + block * TXS_PER_BLOCK + index];
                    let draw = splitmix(&mut random);
                    let offer = match index % 4 {
                        0 | 2 => {
                            let mode =
                                if index % 8 < 4 { OfferMode::Normal } else { OfferMode::ImmediateOrCancel };
                            taker(0, index % 4 == 0, 1 + u128::from(draw % 3), mode)
                        }
                        1 => ask(0, draw as usize),
                        _ => bid(0, draw as usize),
                    };
                    tx(signer, 1, vec![Op::PlaceOffer(offer)])
                })
                .collect()
        })
        .collect();
    Setup { state, context, blocks }
}

fn benches() {
    let setup = setup();
    // Outside the measurement: every transaction succeeds, and what the takers did.
    let mut fills = 0usize;
    for block in &setup.blocks {
        let output = execute_block(&setup.state, &setup.context, block).expect("valid block");
        assert!(output.receipts.iter().all(|receipt| receipt.outcome == TxOutcome::Success));
        fills += output.receipts.iter().map(|receipt| receipt.fills.len()).sum::<usize>();
    }
    let takers = BLOCKS * TXS_PER_BLOCK / 2;
    eprintln!(
        "market bench: {} entries in the base state, {:.2} fills per taker",
        setup.state.len(),
        fills as f64 / takers as f64
    );

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    let mut group = criterion.benchmark_group("market");
    group.throughput(Throughput::Elements(TXS_PER_BLOCK as u64));
    let mut next = 0usize;
    group.bench_function("offers_100k_book/execute_and_commit", |b| {
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
    group.bench_function("offers_100k_book/execute_only", |b| {
        b.iter(|| {
            next = (next + 1) % BLOCKS;
            execute_block(&setup.state, &setup.context, &setup.blocks[next]).expect("valid block")
        })
    });
    group.finish();
}

criterion_main!(benches);
