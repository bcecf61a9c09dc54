//! The ledger running on the redb store gives exactly the receipts and state roots it gives in
//! memory, block after block and across a reopen, and state proofs served from redb verify.

use tally_ledger::tree::apply_updates;
use tally_ledger::{
    BlockContext, GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, MemState, StateKey,
    execute_block, genesis_writes, prove_entry,
};
use tally_store::{BlockCommit, ChainIdentity, Store, StoreError, state_writes, tree_writes};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::tx::{AssetFlags, Transaction, Transfer};
use tally_types::{
    Amount, AssetId, Block, BlockId, Certificate, ChainId, Hash, Header, Height, MemberId, Op, SecretKey,
    Signature, SignedTransaction, Subject, ValidatorIndex, View,
};

fn chain() -> ChainId {
    ChainId::new("tally-redb-test").expect("valid")
}

fn acme() -> AssetId {
    "ACME@acme".parse().expect("valid")
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
        assets: vec![GenesisAsset {
            asset: acme(),
            scale: 2,
            max_supply: None,
            flags: AssetFlags::default(),
        }],
        balances: accounts()
            .iter()
            .map(|key| GenesisBalance { account: key.public_key(), asset: acme(), amount: Amount(10_000) })
            .collect(),
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
            Transaction {
                chain_id: chain(),
                signer: keys[from].public_key(),
                seq: seqs[from],
                valid_until_height: Height(1_000),
                ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                    asset: acme(),
                    to: keys[to].public_key(),
                    amount: Amount(amount),
                })])
                .expect("one op"),
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
