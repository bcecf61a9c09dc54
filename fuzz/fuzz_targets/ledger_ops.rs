//! The ledger executor (node/ledger) under arbitrary operation sequences: blocks of signed
//! transactions from a small consortium (two members, three assets, six accounts), each op
//! either built from small pools of ids, accounts, assets and interesting amounts, so that most
//! of them meet state that exists, or decoded from raw bytes (every op kind, settlements and
//! governance included). After every block the state invariants (`check_invariants`, written
//! apart from the executor) and the history invariants (`History`) must hold, the committed
//! root must be the state's, and a refused block must change nothing.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tally_ledger::{
    BlockContext, GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, History, MemState, StateKey,
    StateValue,
};
use tally_types::codec::{BoundedBytes, BoundedString, BoundedVec};
use tally_types::tx::{
    AssetFlags, AuthorizeSpend, Burn, CancelOffer, Grant, GrantKind, Hold, IssueAsset, OfferMode, PlaceOffer,
    Transaction, Transfer, Void,
};
use tally_types::{
    Amount, AssetCode, AssetId, ChainId, Height, MemberId, Op, OpId, Price, SecretKey, SignedTransaction,
};

const BLOCKS_MAX: usize = 12;
const TXS_PER_BLOCK_MAX: usize = 8;
const OPS_PER_TX_MAX: usize = 4;
const ASSETS: [&str; 6] = ["ACME@acme", "PROMO@acme", "GLX@globex", "NEW@acme", "NEW@globex", "NOPE@acme"];
const MEMBERS: [&str; 3] = ["acme", "globex", "nobody"];
const AMOUNTS: [u128; 8] = [0, 1, 7, 100, 999, 1_000_000, u128::MAX - 1, u128::MAX];

fn key(index: usize) -> SecretKey {
    // 0, 1: acme's issuers; 2: globex's issuer; 3..6: holders.
    SecretKey::from_seed(&[index as u8 + 1; 32])
}

fn chain_id() -> ChainId {
    ChainId::new("tally-fuzz").expect("valid chain id")
}

fn asset(index: u8) -> AssetId {
    ASSETS[usize::from(index) % ASSETS.len()].parse().expect("valid asset id")
}

fn member(index: u8) -> MemberId {
    MemberId::new(MEMBERS[usize::from(index) % MEMBERS.len()]).expect("valid member id")
}

fn op_id(index: u8) -> OpId {
    OpId([index % 8; 16])
}

fn genesis() -> GenesisLedger {
    let flags = AssetFlags::default;
    GenesisLedger {
        members: vec![
            GenesisMember {
                id: member(0),
                name: "Acme".into(),
                issuers: vec![key(0).public_key(), key(1).public_key()],
            },
            GenesisMember { id: member(1), name: "Globex".into(), issuers: vec![key(2).public_key()] },
        ],
        assets: vec![
            GenesisAsset { asset: asset(0), scale: 2, max_supply: Some(Amount(1_000_000)), flags: flags() },
            GenesisAsset {
                asset: asset(1),
                scale: 0,
                max_supply: None,
                flags: AssetFlags(AssetFlags::NON_TRANSFERABLE),
            },
            GenesisAsset { asset: asset(2), scale: 6, max_supply: None, flags: flags() },
        ],
        balances: (3..6)
            .flat_map(|holder| {
                [0u8, 2].map(|index| GenesisBalance {
                    account: key(holder).public_key(),
                    asset: asset(index),
                    amount: Amount(1_000),
                })
            })
            .collect(),
        ..Default::default()
    }
}

#[derive(Arbitrary, Debug)]
enum OpSpec {
    Issue {
        code: u8,
        scale: u8,
        max_supply: Option<u8>,
        flags: u8,
    },
    Grant {
        id: u8,
        asset: u8,
        to: u8,
        amount: u8,
        kind: u8,
    },
    Transfer {
        asset: u8,
        to: u8,
        amount: u8,
    },
    Burn {
        asset: u8,
        amount: u8,
    },
    Authorize {
        provider: u8,
        asset: u8,
        cap: u8,
        expires_at_ms: u16,
    },
    Hold {
        id: u8,
        holder: u8,
        asset: u8,
        amount: u8,
        expires_at_ms: u16,
    },
    Void {
        id: u8,
    },
    Offer {
        id: u8,
        sell: u8,
        buy: u8,
        amount: u8,
        numerator: u8,
        denominator: u8,
        mode: u8,
    },
    Cancel {
        id: u8,
    },
    /// Any op at all, borsh-encoded.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct TxSpec {
    signer: u8,
    ops: Vec<OpSpec>,
    /// Non-zero makes the transaction's seq wrong (and the block refused).
    seq_offset: i8,
}

fn amount(index: u8) -> Amount {
    Amount(AMOUNTS[usize::from(index) % AMOUNTS.len()])
}

fn build_op(spec: &OpSpec) -> Option<Op> {
    let account = |index: u8| key(usize::from(index) % 6).public_key();
    Some(match spec {
        OpSpec::Issue { code, scale, max_supply, flags } => Op::IssueAsset(IssueAsset {
            code: AssetCode::new(["NEW", "ACME", "PROMO"][usize::from(*code) % 3]).expect("valid code"),
            scale: *scale % 24,
            max_supply: max_supply.map(amount),
            flags: AssetFlags(u32::from(*flags % 8)),
        }),
        OpSpec::Grant { id, asset: index, to, amount: value, kind } => Op::Grant(Grant {
            grant_id: op_id(*id),
            asset: asset(*index),
            to: account(*to),
            amount: amount(*value),
            kind: [GrantKind::Purchase, GrantKind::Reward, GrantKind::Promo][usize::from(*kind) % 3],
            reason: None,
            external_ref: BoundedString::default(),
            pack: None,
        }),
        OpSpec::Transfer { asset: index, to, amount: value } => {
            Op::Transfer(Transfer { asset: asset(*index), to: account(*to), amount: amount(*value) })
        }
        OpSpec::Burn { asset: index, amount: value } => {
            Op::Burn(Burn { asset: asset(*index), amount: amount(*value) })
        }
        OpSpec::Authorize { provider, asset: index, cap, expires_at_ms } => {
            Op::AuthorizeSpend(AuthorizeSpend {
                provider: member(*provider),
                asset: asset(*index),
                cap: amount(*cap),
                expires_at_ms: 1_700_000_000_000 + u64::from(*expires_at_ms) * 1_000,
                plan: None,
            })
        }
        OpSpec::Hold { id, holder, asset: index, amount: value, expires_at_ms } => Op::Hold(Hold {
            hold_id: op_id(*id),
            holder: account(*holder),
            asset: asset(*index),
            amount: amount(*value),
            expires_at_ms: 1_700_000_000_000 + u64::from(*expires_at_ms) * 1_000,
        }),
        OpSpec::Void { id } => Op::Void(Void { hold_id: op_id(*id) }),
        OpSpec::Offer { id, sell, buy, amount: value, numerator, denominator, mode } => {
            Op::PlaceOffer(PlaceOffer {
                offer_id: op_id(*id),
                sell: asset(*sell),
                buy: asset(*buy),
                amount: amount(*value),
                price: Price { numerator: u64::from(*numerator), denominator: u64::from(*denominator) },
                mode: [
                    OfferMode::Normal,
                    OfferMode::Passive,
                    OfferMode::ImmediateOrCancel,
                    OfferMode::FillOrKill,
                ][usize::from(*mode) % 4],
            })
        }
        OpSpec::Cancel { id } => Op::CancelOffer(CancelOffer { offer_id: op_id(*id) }),
        OpSpec::Raw(bytes) => borsh::from_slice::<Op>(bytes).ok()?,
    })
}

fn next_seq(state: &MemState, signer: &SecretKey) -> u64 {
    match state.value(&StateKey::Account { account: signer.public_key() }) {
        Some(StateValue::Account(account)) => account.seq + 1,
        _ => 1,
    }
}

fuzz_target!(|blocks: Vec<Vec<TxSpec>>| {
    let mut state = MemState::from_genesis(&genesis()).expect("the fuzz genesis is valid");
    let mut history = History::new();
    let mut height = Height(0);
    let mut time_ms = 1_700_000_000_000u64;
    for block in blocks.iter().take(BLOCKS_MAX) {
        let context = BlockContext { chain_id: chain_id(), height: height.next(), time_ms: time_ms + 1_000 };
        let mut seqs: std::collections::BTreeMap<usize, u64> = Default::default();
        let txs: Vec<SignedTransaction> = block
            .iter()
            .take(TXS_PER_BLOCK_MAX)
            .map(|spec| {
                let index = usize::from(spec.signer) % 6;
                let signer = key(index);
                let seq = seqs.entry(index).or_insert_with(|| next_seq(&state, &signer));
                let ops: Vec<Op> = spec.ops.iter().take(OPS_PER_TX_MAX).filter_map(build_op).collect();
                let tx = Transaction {
                    chain_id: chain_id(),
                    signer: signer.public_key(),
                    seq: seq.wrapping_add_signed(i64::from(spec.seq_offset)),
                    valid_until_height: Height(1_000),
                    ops: BoundedVec::new(ops).unwrap_or_else(|_| BoundedVec::empty()),
                    memo: BoundedBytes::empty(),
                };
                *seq += 1;
                tx.sign(&signer)
            })
            .collect();
        let root_before = state.root();
        match state.execute_and_commit(&context, &txs) {
            Ok(committed) => {
                height = context.height;
                time_ms = context.time_ms;
                assert_eq!(committed.state_root, state.root(), "the committed root is not the state's");
                assert_eq!(committed.output.receipts.len(), txs.len(), "one receipt per transaction");
                if let Err(violation) = state.check_invariants() {
                    panic!("state invariant broken after block {height:?}: {violation}");
                }
                if let Err(violation) =
                    history.observe_block(context.height, &txs, &committed.output.receipts)
                {
                    panic!("history invariant broken at block {height:?}: {violation}");
                }
            }
            Err(error) => {
                assert!(!error.to_string().is_empty());
                assert_eq!(state.root(), root_before, "a refused block changed the state");
            }
        }
    }
});
