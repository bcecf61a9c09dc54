//! Shared set-up for in-process API tests: blocks executed with the ledger code and committed
//! to a real redb store, the way the engine commits them, without consensus or network.

use tally_ledger::tree::apply_updates;
use tally_ledger::{BlockContext, GenesisLedger, execute_block, genesis_writes};
use tally_store::{BlockCommit, Store, state_writes, tree_writes};
use tally_types::codec::BoundedVec;
use tally_types::{
    Block, BlockId, Certificate, ChainId, Hash, Header, Height, Signature, SignedTransaction, Subject,
    ValidatorIndex, View,
};

/// Writes `genesis`'s state (its entries and their tree) into the empty `store`.
pub fn init_genesis(store: &Store, genesis: &GenesisLedger) {
    let writes = genesis_writes(genesis).expect("genesis writes");
    let batch = {
        let snapshot = store.snapshot().expect("snapshot");
        apply_updates(&snapshot, &writes.tree_updates()).expect("tree")
    };
    store.init_genesis_state(&state_writes(&writes), &tree_writes(&batch)).expect("genesis state");
}

/// Executes `txs` on the committed state of `store` and commits them as the next block of
/// chain `chain_id` (block 1's parent is `genesis_hash`; time = 1,000 ms × height), with a
/// finalization certificate of three placeholder signatures (the API serves certificates, it
/// does not check them).
pub fn commit(
    store: &Store,
    chain_id: &ChainId,
    genesis_hash: Hash,
    validators_hash: Hash,
    txs: Vec<SignedTransaction>,
) -> Block {
    let height = store.height().expect("height").next();
    let parent = match height.0 {
        1 => BlockId(genesis_hash),
        _ => store.block(Height(height.0 - 1)).expect("read").expect("parent").id(),
    };
    let context = BlockContext { chain_id: chain_id.clone(), height, time_ms: 1_000 * height.0 };
    let snapshot = store.snapshot().expect("snapshot");
    let output = execute_block(&snapshot, &context, &txs).expect("executes");
    let batch = apply_updates(&snapshot, &output.writes.tree_updates()).expect("tree");
    drop(snapshot);
    let block = Block {
        header: Header {
            chain_id: chain_id.clone(),
            height,
            view: View(height.0),
            parent_id: parent,
            time_ms: context.time_ms,
            proposer: ValidatorIndex(0),
            tx_root: tally_types::block::tx_root(&txs.iter().map(|tx| tx.id()).collect::<Vec<_>>()),
            receipts_root: tally_types::block::receipts_root(&output.receipts),
            state_root: batch.root,
            validators_hash,
        },
        txs: BoundedVec::new(txs).expect("few txs"),
    };
    let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
    let votes: Vec<_> = (0..3u16).map(|i| (ValidatorIndex(i), Signature([i as u8; 64]))).collect();
    let certificate = Certificate::from_votes(subject, &votes, 4).expect("arranged");
    store
        .commit_block(&BlockCommit {
            block: &block,
            certificate: &certificate,
            receipts: &output.receipts,
            state_writes: &state_writes(&output.writes),
            tree_writes: &tree_writes(&batch),
        })
        .expect("commit");
    block
}
