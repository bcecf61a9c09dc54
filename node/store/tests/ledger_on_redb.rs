//! The ledger running on the redb store gives exactly the receipts and state roots it gives in
//! memory, block after block and across a reopen, and state proofs served from redb verify.
//! The blocks mix transfers with offers that rest and trade, so matching walks the order book
//! through redb's range scans as well as in memory.

use tally_ledger::tree::apply_updates;
use tally_ledger::{
    BlockContext, GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, MemState, StateKey,
    execute_block, genesis_writes, prove_entry,
};
use tally_store::{BlockCommit, ChainIdentity, Store, StoreError, state_writes, tree_writes};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::tx::{AssetFlags, OfferMode, PlaceOffer, Transaction, Transfer};
use tally_types::{
    Amount, AssetId, Block, BlockId, Certificate, ChainId, Hash, Header, Height, MemberId, Op, OpId, Price,
    SecretKey, Signature, SignedTransaction, Subject, ValidatorIndex, View,
};

fn chain() -> ChainId {
    ChainId::new("tally-redb-test").expect("valid")
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid")
}

fn glx() -> AssetId {
    "GLX@acme".parse().expect("valid")
}

fn accounts() -> Vec<SecretKey> {
    (0..12u8).map(|i| SecretKey::from_seed(&[100 + i; 32])).collect()
}

fn genesis() -> GenesisLedger {
    GenesisLedger {
        members: vec![GenesisMember {
            id: MemberId::new("acme").expect("valid"),
            name: "Acme".into(),
            issuers: vec![SecretKey::from_seed(&[1; 32]).public_key()],
        }],
        assets: [acme(), glx()]
            .into_iter()
            .map(|asset| GenesisAsset { asset, scale: 2, max_supply: None, flags: AssetFlags::default() })
            .collect(),
        balances: accounts()
            .iter()
            .flat_map(|key| [acme(), glx()].map(|asset| (key.public_key(), asset)))
            .map(|(account, asset)| GenesisBalance { account, asset, amount: Amount(10_000) })
            .collect(),
        ..Default::default()
    }
}

/// A small deterministic generator (no randomness in tests that must reproduce).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

fn transfers(rng: &mut Lcg, seqs: &mut [u64], count: usize) -> Vec<SignedTransaction> {
    let keys = accounts();
    (0..count)
        .map(|_| {
            let from = rng.next(keys.len() as u64) as usize;
            let to = (from + 1 + rng.next(keys.len() as u64 - 1) as usize) % keys.len();
            seqs[from] += 1;
            // Some amounts exceed the balance: those transactions fail and still use their seq.
            let amount = 1 + rng.next(4_000) as u128;
            // One in three is an offer at a price around 1, so that books rest and cross.
            let (sell, buy) = if rng.next(2) == 0 { (acme(), glx()) } else { (glx(), acme()) };
            let op = match rng.next(3) {
                0 => Op::PlaceOffer(PlaceOffer {
                    offer_id: OpId([seqs[from] as u8; 16]),
                    sell,
                    buy,
                    amount: Amount(amount / 10),
                    price: Price { numerator: 1 + rng.next(4), denominator: 1 + rng.next(4) },
                    mode: OfferMode::Normal,
                }),
                _ => Op::Transfer(Transfer {
                    asset: acme(),
                    to: keys[to].public_key(),
                    amount: Amount(amount),
                }),
            };
            Transaction {
                chain_id: chain(),
                signer: keys[from].public_key(),
                seq: seqs[from],
                valid_until_height: Height(1_000),
                ops: BoundedVec::new(vec![op]).expect("one op"),
                memo: BoundedBytes::empty(),
            }
            .sign(&keys[from])
        })
        .collect()
}

fn certificate(block: &Block) -> Certificate {
    let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
    let votes: Vec<_> = (0..3u16).map(|i| (ValidatorIndex(i), Signature([i as u8; 64]))).collect();
    Certificate::from_votes(subject, &votes, 4).expect("arranged")
}

// Not split: one chain executed on both states block after block, compared after each.
#[test]
fn redb_and_memory_agree_block_after_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.redb");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: Hash([5; 32]) };
    let genesis = genesis();
    let mut memory = MemState::from_genesis(&genesis).expect("genesis");

    let store = Store::open(&path, &identity).expect("open");
    let writes = genesis_writes(&genesis).expect("genesis writes");
    let batch = {
        let snapshot = store.snapshot().expect("snapshot");
        apply_updates(&snapshot, &writes.tree_updates()).expect("tree")
    };
    assert_eq!(batch.root, memory.root(), "genesis roots differ");
    store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("genesis state");
    assert!(matches!(store.init_genesis_state(&[], &[]), Err(StoreError::GenesisStateWritten { .. })));

    let mut rng = Lcg(42);
    let mut seqs = vec![0u64; accounts().len()];
    let mut parent = BlockId(identity.genesis_hash);
    let mut failures = 0;
    let mut fills = 0;
    for height in 1..=15u64 {
        let txs = transfers(&mut rng, &mut seqs, 40);
        let context = BlockContext { chain_id: chain(), height: Height(height), time_ms: 1_000 * height };
        let in_memory = memory.execute_and_commit(&context, &txs).expect("memory executes");

        let snapshot = store.snapshot().expect("snapshot");
        let output = execute_block(&snapshot, &context, &txs).expect("redb executes");
        let batch = apply_updates(&snapshot, &output.writes.tree_updates()).expect("tree");
        drop(snapshot);
        assert_eq!(output.receipts, in_memory.output.receipts, "receipts differ at {height}");
        assert_eq!(batch.root, in_memory.state_root, "state roots differ at {height}");
        failures += output.receipts.iter().filter(|r| r.outcome != tally_types::TxOutcome::Success).count();
        fills += output.receipts.iter().map(|r| r.fills.len()).sum::<usize>();

        let block = Block {
            header: Header {
                chain_id: chain(),
                height: Height(height),
                view: View(height),
                parent_id: parent,
                time_ms: context.time_ms,
                proposer: ValidatorIndex(0),
                tx_root: tally_types::block::tx_root(&txs.iter().map(|tx| tx.id()).collect::<Vec<_>>()),
                receipts_root: tally_types::block::receipts_root(&output.receipts),
                state_root: batch.root,
                validators_hash: Hash::ZERO,
            },
            txs: BoundedVec::new(txs).expect("40 txs"),
        };
        parent = block.id();
        store
            .commit_block(&BlockCommit {
                block: &block,
                certificate: &certificate(&block),
                receipts: &output.receipts,
                state_writes: &state_writes(&output.writes),
                tree_writes: &tree_writes(&batch),
            })
            .expect("commit");
    }
    assert!(failures > 0, "the run should include failing transfers");
    assert!(fills > 20, "the run should trade on the book ({fills} fills)");
    let final_root = memory.root();
    drop(store);

    // After a reopen, the state read from disk proves entries against the same root.
    let store = Store::open(&path, &identity).expect("reopen");
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(tally_ledger::tree::root(&snapshot).expect("root"), final_root);
    for key in accounts() {
        let state_key = StateKey::balance(key.public_key(), acme());
        let proof = prove_entry(&snapshot, &snapshot, &state_key).expect("prove");
        proof.verify(&final_root, &state_key).expect("proof from redb verifies");
    }
    let absent = StateKey::balance(SecretKey::from_seed(&[250; 32]).public_key(), acme());
    let proof = prove_entry(&snapshot, &snapshot, &absent).expect("prove absence");
    proof.verify(&final_root, &absent).expect("non-membership proof verifies");
}

/// Range walks over redb visit the same entries in the same order as over the in-memory
/// state: the encoded keys' byte order is the key order inside every scan range.
#[test]
fn range_walks_on_redb_equal_walks_in_memory() {
    use tally_ledger::StateRead;
    use tally_ledger::state::{
        BookEntryState, BookPosition, IndexMarker, KeyRange, OfferStamp, OrderedU64, PriceRank, StateValue,
        WriteSet,
    };
    use tally_types::{OpId, Price, PublicKey};

    let dir = tempfile::tempdir().expect("tempdir");
    let identity = ChainIdentity { chain_id: chain(), genesis_hash: Hash([5; 32]) };
    let store = Store::open(&dir.path().join("node.redb"), &identity).expect("open");
    let globex: AssetId = "GLOBEX@globex".parse().expect("valid");
    let mut writes = WriteSet::new();
    let mut rng = Lcg(7);
    for index in 0..300u64 {
        let price = Price { numerator: 1 + rng.next(1_000), denominator: 1 + rng.next(1_000) };
        let stamp = OfferStamp {
            height: OrderedU64(rng.next(600)),
            tx_index: OrderedU64(rng.next(300)),
            op_index: (index % 16) as u8,
        };
        let position = BookPosition { rank: PriceRank::of(&price).expect("non-zero"), stamp };
        let (sell, buy) = if index % 3 == 0 { (globex.clone(), acme()) } else { (acme(), globex.clone()) };
        let entry = BookEntryState { owner: PublicKey([index as u8; 32]), offer_id: OpId([1; 16]) };
        writes.insert(StateKey::BookEntry { sell, buy, position }, Some(StateValue::BookEntry(entry)));
        let expiry = StateKey::HoldExpiry {
            expires_at_ms: OrderedU64(rng.next(1 << 20)),
            hold_id: OpId([(index % 251) as u8; 16]),
        };
        writes.insert(expiry, Some(StateValue::HoldExpiry(IndexMarker)));
    }
    let mut memory = MemState::new();
    memory.commit(&writes).expect("memory");
    let batch = {
        let snapshot = store.snapshot().expect("snapshot");
        apply_updates(&snapshot, &writes.tree_updates()).expect("tree")
    };
    store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("state");

    let snapshot = store.snapshot().expect("snapshot");
    let walk = |state: &dyn StateRead, range: &KeyRange| {
        let mut keys = Vec::new();
        let mut after: Option<StateKey> = None;
        while let Some((key, _)) = state.next_entry(range, after.as_ref()).expect("readable") {
            keys.push(key.clone());
            after = Some(key);
        }
        keys
    };
    for range in [
        KeyRange::book(&acme(), &globex),
        KeyRange::book(&globex, &acme()),
        KeyRange::hold_expiries(1 << 19),
        KeyRange::hold_expiries(u64::MAX),
    ] {
        let on_redb = walk(&snapshot, &range);
        let in_memory = walk(&memory, &range);
        assert!(!in_memory.is_empty(), "{range:?} has entries");
        assert!(in_memory.windows(2).all(|pair| pair[0] < pair[1]), "memory walks in key order");
        assert_eq!(on_redb, in_memory, "{range:?}");
    }
}
