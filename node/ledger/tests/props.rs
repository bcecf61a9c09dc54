//! Property tests: random sequences of issue, grant, transfer and burn ops (valid and invalid,
//! including refused blocks) over a handful of accounts and assets keep every state and history
//! invariant after every block, and executing the same blocks twice gives identical writes,
//! receipts and roots.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use tally_ledger::{BlockOutput, MemState, StateKey, WriteSet};
use tally_types::codec::BoundedString;
use tally_types::receipt::TxOutcome;
use tally_types::tx::{GrantKind, RewardReason, Transaction, Void};
use tally_types::{Hash, Height, Op, SecretKey, SignedTransaction};

/// Signers and receivers: acme's two issuers, globex's issuer, three holders.
fn accounts() -> Vec<SecretKey> {
    let a = actors();
    vec![a.acme, a.acme2, a.globex, a.alice, a.bob, a.carol]
}

/// Genesis assets, assets the ops may issue, and one that never exists.
const ASSETS: [&str; 7] =
    ["ACME@acme", "PROMO@acme", "GLX@globex", "NEW@acme", "NEW@globex", "ACME@globex", "NOPE@acme"];
const CODES: [&str; 3] = ["NEW", "ACME", "PROMO"];

#[derive(Clone, Debug)]
enum OpSpec {
    Issue { code: usize, scale: u8, max_supply: Option<u128>, flags: u32 },
    Grant { id: u8, asset: usize, to: usize, amount: u128, kind: u8, with_reason: bool },
    Transfer { asset: usize, to: usize, amount: u128 },
    Burn { asset: usize, amount: u128 },
    NotSupported,
}

#[derive(Clone, Debug)]
struct TxSpec {
    signer: usize,
    ops: Vec<OpSpec>,
    /// Added to the correct seq: non-zero makes the block invalid.
    seq_offset: i64,
    /// Makes the block invalid by expiry.
    expired: bool,
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        12 => 1u128..400,
        1 => Just(0u128),
        1 => (u128::MAX - 3)..=u128::MAX,
        1 => 500_000u128..1_100_000,
    ]
}

/// An asset index: mostly genesis assets, sometimes issued or unknown ones.
fn any_asset() -> impl Strategy<Value = usize> {
    prop_oneof![6 => Just(0usize), 2 => Just(1usize), 4 => Just(2usize), 3 => 3..ASSETS.len()]
}

/// An asset of the signer's own member when it is an issuer (so that most grants are allowed),
/// any asset otherwise.
fn grant_asset(signer: usize) -> BoxedStrategy<usize> {
    match signer {
        // acme's issuers: ACME, PROMO, NEW@acme.
        0 | 1 => {
            prop_oneof![6 => Just(0usize), 2 => Just(1usize), 2 => Just(3usize), 1 => any_asset()].boxed()
        }
        // globex's issuer: GLX, NEW@globex, ACME@globex.
        2 => prop_oneof![6 => Just(2usize), 2 => Just(4usize), 2 => Just(5usize), 1 => any_asset()].boxed(),
        _ => any_asset().boxed(),
    }
}

/// An op for `signer`: issuers mostly issue and grant, holders mostly transfer and burn, and
/// every kind of op is tried by everyone now and then.
fn op_spec(signer: usize) -> impl Strategy<Value = OpSpec> {
    let account = 0..accounts().len();
    let is_issuer = signer <= 2;
    let issue = (
        0..CODES.len(),
        0u8..=20,
        prop_oneof![2 => Just(None), 1 => Just(Some(0u128)), 2 => (1u128..5_000).prop_map(Some)],
        prop_oneof![3 => Just(0u32), 1 => 0u32..8],
    )
        .prop_map(|(code, scale, max_supply, flags)| OpSpec::Issue { code, scale, max_supply, flags });
    let kind_and_reason = prop_oneof![
        4 => (Just(0u8), Just(false)),
        2 => (Just(1u8), Just(true)),
        2 => (Just(2u8), Just(false)),
        1 => (0u8..3, any::<bool>()),
    ];
    let grant = (0u8..12, grant_asset(signer), account.clone(), amount(), kind_and_reason).prop_map(
        |(id, asset, to, amount, (kind, with_reason))| OpSpec::Grant {
            id,
            asset,
            to,
            amount,
            kind,
            with_reason,
        },
    );
    let transfer = (any_asset(), account, amount()).prop_map(|(asset, to, amount)| OpSpec::Transfer {
        asset,
        to,
        amount,
    });
    let burn = (any_asset(), amount()).prop_map(|(asset, amount)| OpSpec::Burn { asset, amount });
    let (issue_weight, grant_weight, transfer_weight) = if is_issuer { (2, 8, 3) } else { (1, 1, 8) };
    prop_oneof![
        issue_weight => issue,
        grant_weight => grant,
        transfer_weight => transfer,
        2 => burn,
        1 => Just(OpSpec::NotSupported),
    ]
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (0..accounts().len())
        .prop_flat_map(|signer| {
            (
                Just(signer),
                prop_oneof![6 => Just(1usize), 2 => Just(2usize), 1 => Just(3usize)]
                    .prop_flat_map(move |count| proptest::collection::vec(op_spec(signer), count)),
                prop_oneof![40 => Just(0i64), 1 => Just(1i64), 1 => Just(-1i64)],
                prop_oneof![60 => Just(false), 1 => Just(true)],
            )
        })
        .prop_map(|(signer, ops, seq_offset, expired)| TxSpec { signer, ops, seq_offset, expired })
}

fn blocks() -> impl Strategy<Value = Vec<Vec<TxSpec>>> {
    proptest::collection::vec(proptest::collection::vec(tx_spec(), 0..7), 1..9)
}

fn build_op(spec: &OpSpec, accounts: &[SecretKey]) -> Op {
    match spec {
        OpSpec::Issue { code, scale, max_supply, flags } => issue(CODES[*code], *scale, *max_supply, *flags),
        OpSpec::Grant { id, asset, to, amount, kind, with_reason } => {
            let kind = [GrantKind::Purchase, GrantKind::Reward, GrantKind::Promo][*kind as usize];
            let reason = with_reason.then(|| RewardReason::Other(BoundedString::new("prop").expect("short")));
            grant_with(*id, ASSETS[*asset], accounts[*to].public_key(), *amount, kind, reason)
        }
        OpSpec::Transfer { asset, to, amount } => transfer(ASSETS[*asset], &accounts[*to], *amount),
        OpSpec::Burn { asset, amount } => burn(ASSETS[*asset], *amount),
        OpSpec::NotSupported => Op::Void(Void { hold_id: op_id(0) }),
    }
}

/// What one block did: its output and root, or that it was refused.
type BlockResult = Result<(BlockOutput, Hash), String>;

/// Runs the blocks from genesis; `Chain::block` checks every invariant after each block and
/// that refused blocks change nothing.
fn run(specs: &[Vec<TxSpec>]) -> (Vec<BlockResult>, MemState) {
    let accounts = accounts();
    let mut chain = Chain::new();
    let mut results = Vec::new();
    for block in specs {
        let height = chain.next_context().height;
        let mut next_seq: BTreeMap<usize, u64> = BTreeMap::new();
        let txs: Vec<SignedTransaction> = block
            .iter()
            .map(|spec| {
                let signer = &accounts[spec.signer];
                let seq = next_seq.entry(spec.signer).or_insert_with(|| chain.next_seq(signer));
                let tx = Transaction {
                    chain_id: chain_id(),
                    signer: signer.public_key(),
                    seq: seq.checked_add_signed(spec.seq_offset).expect("seqs stay small"),
                    valid_until_height: if spec.expired { Height(height.0 - 1) } else { height },
                    ops: tally_types::BoundedVec::new(
                        spec.ops.iter().map(|op| build_op(op, &accounts)).collect(),
                    )
                    .expect("at most 3 ops"),
                    memo: tally_types::BoundedBytes::empty(),
                };
                *seq += 1;
                tx.sign(signer)
            })
            .collect();
        let valid = block.iter().all(|spec| spec.seq_offset == 0 && !spec.expired);
        match chain.block(&txs) {
            Ok(committed) => {
                assert!(valid, "a block with a bad seq or an expired transaction was accepted");
                assert_eq!(committed.output.receipts.len(), txs.len());
                results.push(Ok((committed.output, committed.state_root)));
            }
            Err(error) => {
                assert!(!valid, "a valid block was refused: {error}");
                results.push(Err(error.to_string()));
            }
        }
    }
    (results, chain.state)
}

fn chain_id() -> tally_types::ChainId {
    common::chain()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn random_blocks_keep_invariants_and_execute_deterministically(specs in blocks()) {
        let (first, state) = run(&specs);
        let (second, again) = run(&specs);
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(state.root(), again.root());

        // The incrementally maintained root equals the root of the final entries built at once.
        let all: WriteSet = state.entries().map(|(key, value)| (key.clone(), Some(value.clone()))).collect();
        prop_assert_eq!(MemState::new().commit(&all).expect("commits"), state.root());

        // A failed transaction writes its seq and nothing else; so a block of failures only
        // touches account entries.
        for (output, _) in first.iter().flatten() {
            if output.receipts.iter().all(|receipt| receipt.outcome != TxOutcome::Success) {
                let only_seqs = output.writes.iter().all(|(key, _)| matches!(key, StateKey::Account { .. }));
                prop_assert!(only_seqs, "a block of failed transactions wrote more than seqs");
            }
        }
    }
}
