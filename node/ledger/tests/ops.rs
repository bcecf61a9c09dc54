//! Every op's success and each failure code; inclusion checks; atomicity; proposer use of the
//! executor; proofs against the committed root.

mod common;

use common::*;
use tally_ledger::{
    AccountState, BlockError, BlockExecutor, CommitBlockError, GrantRecord, InclusionError, MemState,
    StateKey, StateValue, TxError, WriteSet, execute_block, verify_state_proof,
};
use tally_types::codec::{BoundedBytes, BoundedString, BoundedVec};
use tally_types::receipt::TxOutcome;
use tally_types::smt::SmtError;
use tally_types::tx::{AssetFlags, GrantKind, RewardReason, Transaction};
use tally_types::{Amount, ChainId, ErrorCode, Hash, Height, Signature, SignedTransaction};

// ---- IssueAsset ----

#[test]
fn issue_asset_creates_an_empty_asset_of_the_signers_member() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme2, vec![issue("NEW", 4, Some(900), AssetFlags::NON_TRADABLE)]);
    let state = chain.asset("NEW@acme").expect("asset created");
    assert_eq!(state.scale, 4);
    assert_eq!(state.max_supply, Some(Amount(900)));
    assert_eq!(state.flags, AssetFlags(AssetFlags::NON_TRADABLE));
    assert_eq!((state.supply, state.minted, state.burned), (Amount(0), Amount(0), Amount(0)));
    // Codes are unique per member, not globally: globex may issue its own ACME.
    chain.ok(&a.globex, vec![issue("ACME", 0, None, 0)]);
    assert!(chain.asset("ACME@globex").is_some());
}

#[test]
fn issue_asset_failures() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(&a.alice, vec![issue("NEW", 2, None, 0)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.acme, vec![issue("NEW", 19, None, 0)], 0, ErrorCode::BadScale);
    chain.ok(&a.acme, vec![issue("MAXSCALE", 18, None, 0)]);
    chain.fails(&a.acme, vec![issue("NEW", 2, None, 1 << 7)], 0, ErrorCode::BadFlags);
    chain.fails(&a.acme, vec![issue("NEW", 2, Some(0), 0)], 0, ErrorCode::BadMaxSupply);
    chain.fails(&a.acme, vec![issue("ACME", 2, None, 0)], 0, ErrorCode::AssetExists);
    // Issuing the same code twice in one transaction fails at the second op, and the first
    // issue leaves no trace either.
    chain.fails(
        &a.acme,
        vec![issue("TWICE", 2, None, 0), issue("TWICE", 2, None, 0)],
        1,
        ErrorCode::AssetExists,
    );
    assert!(chain.asset("TWICE@acme").is_none());
}

// ---- Grant ----

#[test]
fn grant_mints_to_the_receiver_and_records_the_id() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![grant(7, "ACME@acme", &a.carol, 250)]);
    assert_eq!(chain.available(&a.carol, "ACME@acme"), 250);
    let state = chain.asset("ACME@acme").expect("exists");
    assert_eq!((state.supply, state.minted, state.burned), (Amount(1_750), Amount(1_750), Amount(0)));
    let record = chain.state.value(&StateKey::GrantId { member: member("acme"), grant_id: op_id(7) });
    assert_eq!(record, Some(&StateValue::GrantId(GrantRecord { height: Height(1) })));
    // Every kind, with its reason rule satisfied.
    let reward = grant_with(
        8,
        "ACME@acme",
        a.carol.public_key(),
        1,
        GrantKind::Reward,
        Some(RewardReason::HowToGuide),
    );
    let promo = grant_with(9, "ACME@acme", a.carol.public_key(), 1, GrantKind::Promo, None);
    let other = RewardReason::Other(BoundedString::new("conference talk").expect("short"));
    let reward_other = grant_with(10, "ACME@acme", a.carol.public_key(), 1, GrantKind::Reward, Some(other));
    chain.ok(&a.acme2, vec![reward, promo, reward_other]);
    assert_eq!(chain.available(&a.carol, "ACME@acme"), 253);
}

#[test]
fn grant_failures() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(&a.alice, vec![grant(1, "ACME@acme", &a.bob, 5)], 0, ErrorCode::NotIssuer);
    // An issuer of another member is not an issuer of this asset.
    chain.fails(&a.globex, vec![grant(1, "ACME@acme", &a.bob, 5)], 0, ErrorCode::NotIssuer);
    chain.fails(&a.acme, vec![grant(1, "NOPE@acme", &a.bob, 5)], 0, ErrorCode::UnknownAsset);
    chain.fails(&a.acme, vec![grant(1, "ACME@acme", &a.bob, 0)], 0, ErrorCode::ZeroAmount);
    let no_reason = grant_with(1, "ACME@acme", a.bob.public_key(), 5, GrantKind::Reward, None);
    chain.fails(&a.acme, vec![no_reason], 0, ErrorCode::RewardReasonMissing);
    for kind in [GrantKind::Purchase, GrantKind::Promo] {
        let with_reason =
            grant_with(1, "ACME@acme", a.bob.public_key(), 5, kind, Some(RewardReason::ForumSupport));
        chain.fails(&a.acme, vec![with_reason], 0, ErrorCode::ReasonNotAllowed);
    }
    // Max supply: 1,000,000 with 1,500 in existence.
    chain.fails(&a.acme, vec![grant(1, "ACME@acme", &a.bob, 998_501)], 0, ErrorCode::MaxSupplyExceeded);
    chain.ok(&a.acme, vec![grant(1, "ACME@acme", &a.bob, 998_500)]);
    assert_eq!(chain.supply("ACME@acme"), 1_000_000);
    chain.fails(&a.acme, vec![grant(2, "ACME@acme", &a.bob, 1)], 0, ErrorCode::MaxSupplyExceeded);
}

#[test]
fn grant_ids_are_unique_forever_per_member() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![grant(1, "ACME@acme", &a.bob, 5)]);
    // Another issuer of the same member, another asset, a later block: still a duplicate.
    chain.fails(&a.acme2, vec![grant(1, "PROMO@acme", &a.bob, 5)], 0, ErrorCode::DuplicateGrantId);
    // Twice in one transaction: the second fails, and the first is rolled back with it.
    chain.fails(
        &a.acme,
        vec![grant(2, "ACME@acme", &a.bob, 5), grant(2, "ACME@acme", &a.bob, 5)],
        1,
        ErrorCode::DuplicateGrantId,
    );
    assert_eq!(chain.state.value(&StateKey::GrantId { member: member("acme"), grant_id: op_id(2) }), None);
    chain.ok(&a.acme, vec![grant(2, "ACME@acme", &a.bob, 5)]);
    // Another member's ids are its own: globex may use id 1 too.
    chain.ok(&a.globex, vec![grant(1, "GLX@globex", &a.bob, 5)]);
}

#[test]
fn grant_counters_never_overflow() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.globex, vec![grant(1, "GLX@globex", &a.bob, u128::MAX)]);
    chain.fails(&a.globex, vec![grant(2, "GLX@globex", &a.carol, 1)], 0, ErrorCode::AmountOverflow);
    // Burned back to zero supply, minted stays at the maximum: the next grant overflows minted.
    chain.ok(&a.bob, vec![burn("GLX@globex", u128::MAX)]);
    assert_eq!(chain.supply("GLX@globex"), 0);
    chain.fails(&a.globex, vec![grant(3, "GLX@globex", &a.carol, 1)], 0, ErrorCode::AmountOverflow);
}

// ---- Transfer ----

#[test]
fn transfer_moves_available_balance() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.alice, vec![transfer("ACME@acme", &a.carol, 300), transfer("ACME@acme", &a.bob, 200)]);
    assert_eq!(chain.available(&a.alice, "ACME@acme"), 500);
    assert_eq!(chain.available(&a.bob, "ACME@acme"), 700);
    assert_eq!(chain.available(&a.carol, "ACME@acme"), 300);
    assert_eq!(chain.supply("ACME@acme"), 1_500);
    // Spending everything deletes the entry (canonical state).
    chain.ok(&a.carol, vec![transfer("ACME@acme", &a.bob, 300)]);
    assert_eq!(chain.state.value(&StateKey::balance(a.carol.public_key(), asset("ACME@acme"))), None);
}

#[test]
fn transfer_failures() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(&a.alice, vec![transfer("ACME@acme", &a.bob, 0)], 0, ErrorCode::ZeroAmount);
    chain.fails(&a.alice, vec![transfer("ACME@acme", &a.alice, 1)], 0, ErrorCode::SelfTransfer);
    chain.fails(&a.alice, vec![transfer("NOPE@acme", &a.bob, 1)], 0, ErrorCode::UnknownAsset);
    chain.fails(&a.alice, vec![transfer("ACME@acme", &a.bob, 1_001)], 0, ErrorCode::InsufficientBalance);
    chain.fails(&a.carol, vec![transfer("ACME@acme", &a.bob, 1)], 0, ErrorCode::InsufficientBalance);
    // The second op spends what the first already moved away.
    chain.fails(
        &a.alice,
        vec![transfer("ACME@acme", &a.bob, 600), transfer("ACME@acme", &a.carol, 600)],
        1,
        ErrorCode::InsufficientBalance,
    );
}

#[test]
fn non_transferable_assets_move_only_to_or_from_the_issuer() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(&a.alice, vec![transfer("PROMO@acme", &a.bob, 1)], 0, ErrorCode::NotTransferable);
    // To an issuer account of the asset's member: allowed (e.g. spending promo credits).
    chain.ok(&a.alice, vec![transfer("PROMO@acme", &a.acme2, 10)]);
    // From an issuer account: allowed.
    chain.ok(&a.acme2, vec![transfer("PROMO@acme", &a.bob, 4)]);
    assert_eq!(chain.available(&a.bob, "PROMO@acme"), 4);
    // An issuer of another member is an ordinary holder here.
    chain.ok(&a.acme2, vec![transfer("PROMO@acme", &a.globex, 1)]);
    chain.fails(&a.globex, vec![transfer("PROMO@acme", &a.bob, 1)], 0, ErrorCode::NotTransferable);
}

// ---- Burn ----

#[test]
fn burn_reduces_supply_and_counts_burned() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.bob, vec![burn("ACME@acme", 200)]);
    let state = chain.asset("ACME@acme").expect("exists");
    assert_eq!((state.supply, state.minted, state.burned), (Amount(1_300), Amount(1_500), Amount(200)));
    assert_eq!(chain.available(&a.bob, "ACME@acme"), 300);
    chain.ok(&a.bob, vec![burn("ACME@acme", 300)]);
    assert_eq!(chain.state.value(&StateKey::balance(a.bob.public_key(), asset("ACME@acme"))), None);
    // Burned credits free room under the max supply.
    chain.ok(&a.acme, vec![grant(1, "ACME@acme", &a.carol, 998_500 + 500)]);
}

#[test]
fn burn_failures() {
    let a = actors();
    let mut chain = Chain::new();
    chain.fails(&a.bob, vec![burn("ACME@acme", 0)], 0, ErrorCode::ZeroAmount);
    chain.fails(&a.bob, vec![burn("NOPE@acme", 1)], 0, ErrorCode::UnknownAsset);
    chain.fails(&a.bob, vec![burn("ACME@acme", 501)], 0, ErrorCode::InsufficientBalance);
    chain.fails(&a.carol, vec![burn("GLX@globex", 1)], 0, ErrorCode::InsufficientBalance);
}

// ---- Atomicity ----

#[test]
fn a_failing_third_op_leaves_no_trace_but_the_seq() {
    let a = actors();
    let mut chain = Chain::new();
    let before = chain.state.clone();
    let tx = chain.tx(
        &a.alice,
        vec![transfer("ACME@acme", &a.bob, 10), burn("ACME@acme", 5), transfer("ACME@acme", &a.bob, 10_000)],
    );
    let committed = chain.block(std::slice::from_ref(&tx)).expect("includable");
    assert_eq!(
        committed.output.receipts[0].outcome,
        TxOutcome::Failed { op_index: 2, code: ErrorCode::InsufficientBalance }
    );
    // The only write is the seq.
    let writes: Vec<_> = committed.output.writes.iter().collect();
    let account = StateKey::Account { account: a.alice.public_key() };
    assert_eq!(writes, vec![(&account, &Some(StateValue::Account(AccountState { seq: 1 })))]);
    // And the root is that of the old state with only the seq changed.
    let mut expected = before;
    let mut seq_only = WriteSet::new();
    seq_only.insert(account, Some(StateValue::Account(AccountState { seq: 1 })));
    assert_eq!(expected.commit(&seq_only).expect("commits"), committed.state_root);
    assert_eq!(chain.available(&a.alice, "ACME@acme"), 1_000);
    assert_eq!(chain.next_seq(&a.alice), 2);
}

#[test]
fn a_failed_transaction_does_not_affect_the_next_one_in_the_block() {
    let a = actors();
    let mut chain = Chain::new();
    let failing = signed(&a.alice, 1, vec![transfer("ACME@acme", &a.bob, 900), burn("ACME@acme", 200)]);
    let next = signed(&a.alice, 2, vec![transfer("ACME@acme", &a.carol, 1_000)]);
    let committed = chain.block(&[failing, next]).expect("includable");
    assert!(matches!(committed.output.receipts[0].outcome, TxOutcome::Failed { op_index: 1, .. }));
    assert_eq!(committed.output.receipts[1].outcome, TxOutcome::Success);
    assert_eq!(chain.available(&a.carol, "ACME@acme"), 1_000);
    assert_eq!(chain.available(&a.bob, "ACME@acme"), 500);
}

// ---- Inclusion checks ----

fn refused(chain: &mut Chain, txs: &[SignedTransaction]) -> (usize, InclusionError) {
    match chain.block(txs) {
        Err(CommitBlockError::Block(BlockError::InvalidTx { index, reason })) => (index, reason),
        other => panic!("expected an invalid block, got {other:?}"),
    }
}

#[test]
fn seq_must_be_the_next_one() {
    let a = actors();
    let mut chain = Chain::new();
    let first = chain.tx(&a.alice, vec![transfer("ACME@acme", &a.bob, 1)]);
    chain.block(std::slice::from_ref(&first)).expect("includable");
    // Replaying the same transaction is refused at inclusion.
    let (index, reason) = refused(&mut chain, std::slice::from_ref(&first));
    assert_eq!(index, 0);
    assert_eq!(reason, InclusionError::BadSeq { account: a.alice.public_key(), expected: 2, actual: 1 });
    // A gap is refused too.
    let ahead = signed(&a.alice, 3, vec![transfer("ACME@acme", &a.bob, 1)]);
    assert!(matches!(refused(&mut chain, &[ahead]).1, InclusionError::BadSeq { expected: 2, actual: 3, .. }));
    // The same transaction twice in one block: the second copy makes the block invalid.
    let second = chain.tx(&a.alice, vec![transfer("ACME@acme", &a.bob, 1)]);
    let (index, reason) = refused(&mut chain, &[second.clone(), second.clone()]);
    assert_eq!(
        (index, reason),
        (1, InclusionError::BadSeq { account: a.alice.public_key(), expected: 3, actual: 2 })
    );
    // Consecutive seqs in one block are fine.
    let third = signed(&a.alice, 3, vec![transfer("ACME@acme", &a.bob, 1)]);
    chain.block(&[second, third]).expect("includable");
    assert_eq!(chain.next_seq(&a.alice), 4);
}

#[test]
fn expired_transactions_are_refused() {
    let a = actors();
    let mut chain = Chain::new();
    let mut tx = chain.tx(&a.alice, vec![transfer("ACME@acme", &a.bob, 1)]).tx;
    chain.block(&[]).expect("empty block");
    // The next block is at height 2: valid until 2 is fine, until 1 is not.
    tx.valid_until_height = Height(1);
    let (_, reason) = refused(&mut chain, &[tx.clone().sign(&a.alice)]);
    assert_eq!(reason, InclusionError::Expired { valid_until_height: Height(1), height: Height(2) });
    tx.valid_until_height = Height(2);
    chain.block(&[tx.sign(&a.alice)]).expect("includable at its last height");
}

#[test]
fn wrong_chain_and_empty_transactions_are_refused() {
    let a = actors();
    let mut chain = Chain::new();
    let mut tx = chain.tx(&a.alice, vec![transfer("ACME@acme", &a.bob, 1)]).tx;
    tx.chain_id = ChainId::new("tally-other").expect("valid");
    let (_, reason) = refused(&mut chain, &[tx.sign(&a.alice)]);
    assert_eq!(
        reason,
        InclusionError::WrongChain {
            expected: chain_id(),
            actual: ChainId::new("tally-other").expect("valid")
        }
    );
    let empty = Transaction {
        chain_id: chain_id(),
        signer: a.alice.public_key(),
        seq: 1,
        valid_until_height: Height(10),
        ops: BoundedVec::empty(),
        memo: BoundedBytes::empty(),
    };
    assert_eq!(refused(&mut chain, &[empty.sign(&a.alice)]).1, InclusionError::NoOps);
    assert_eq!(chain.next_seq(&a.alice), 1, "refused transactions consume no seq");
}

fn chain_id() -> ChainId {
    common::chain()
}

#[test]
fn an_account_at_the_last_seq_can_send_nothing() {
    let a = actors();
    let mut chain = Chain::new();
    let mut writes = WriteSet::new();
    writes.insert(
        StateKey::Account { account: a.alice.public_key() },
        Some(StateValue::Account(AccountState { seq: u64::MAX })),
    );
    chain.state.commit(&writes).expect("commits");
    let tx = signed(&a.alice, u64::MAX, vec![transfer("ACME@acme", &a.bob, 1)]);
    assert_eq!(refused(&mut chain, &[tx]).1, InclusionError::SeqExhausted { account: a.alice.public_key() });
}

#[test]
fn a_block_holds_at_most_the_transaction_limit() {
    let a = actors();
    let state = MemState::from_genesis(&genesis()).expect("valid");
    let context = Chain::new().next_context();
    // Signatures are not checked by execution, so unsigned copies keep this test fast.
    let unsigned = |seq: u64| SignedTransaction {
        tx: Transaction {
            chain_id: chain_id(),
            signer: a.carol.public_key(),
            seq,
            valid_until_height: Height(10),
            ops: BoundedVec::new(vec![burn("ACME@acme", 0)]).expect("one op"),
            memo: BoundedBytes::empty(),
        },
        signature: Signature([0; 64]),
    };
    let max = tally_types::limits::BLOCK_TXS_MAX as u64;
    let txs: Vec<SignedTransaction> = (1..=max + 1).map(unsigned).collect();
    let error = execute_block(&state, &context, &txs).expect_err("one too many");
    assert_eq!(error, BlockError::InvalidTx { index: max as usize, reason: InclusionError::BlockFull });
    let output = execute_block(&state, &context, &txs[..max as usize]).expect("exactly the limit");
    assert_eq!(output.receipts.len(), max as usize);
}

// ---- The executor as a proposer uses it ----

#[test]
fn a_proposer_skips_refused_transactions_without_side_effects() {
    let a = actors();
    let chain = Chain::new();
    let context = chain.next_context();
    let good1 = signed(&a.alice, 1, vec![transfer("ACME@acme", &a.bob, 10)]);
    let stale = signed(&a.bob, 7, vec![transfer("ACME@acme", &a.alice, 10)]);
    let failing = signed(&a.bob, 1, vec![transfer("ACME@acme", &a.carol, 1), burn("ACME@acme", 10_000)]);
    let good2 = signed(&a.alice, 2, vec![transfer("ACME@acme", &a.carol, 10)]);

    let mut executor = BlockExecutor::begin(&chain.state, context.clone()).expect("state in memory");
    let mut included = Vec::new();
    for tx in [&good1, &stale, &good1, &failing, &good2] {
        match executor.execute_tx(tx) {
            Ok(_) => included.push(tx.clone()),
            Err(TxError::NotIncludable(_)) => {}
            Err(TxError::State(error)) => panic!("state error: {error}"),
        }
    }
    assert_eq!(included, vec![good1, failing, good2]);
    assert_eq!(executor.tx_count(), 3);
    let built = executor.finish();
    // A verifier executing the proposed block gets exactly the proposer's output.
    assert_eq!(execute_block(&chain.state, &context, &included).expect("valid block"), built);
}

#[test]
fn the_caller_checks_signatures_once() {
    // Execution trusts the signer field: a forged transaction executes if handed over. This
    // test pins the contract (and documents it): the caller must check signatures first.
    let a = actors();
    let mut chain = Chain::new();
    let mut forged = chain.tx(&a.alice, vec![transfer("ACME@acme", &a.carol, 1_000)]);
    forged.signature =
        a.carol.sign(tally_types::Namespace::Tx, &chain_id(), &tally_types::encode(&forged.tx));
    assert!(forged.check_form_and_signature().is_err(), "the caller's check refuses it");
    let output =
        execute_block(&chain.state, &chain.next_context(), std::slice::from_ref(&forged)).expect("executes");
    assert_eq!(
        output.receipts[0].outcome,
        TxOutcome::Success,
        "execution itself does not look at signatures"
    );
    let honest = chain.tx(&a.bob, vec![transfer("ACME@acme", &a.carol, 1)]);
    assert_eq!(honest.check_form_and_signature(), Ok(()));
    chain.block(&[honest]).expect("includable");
}

// ---- Proofs ----

#[test]
fn proofs_of_presence_and_absence_verify_against_the_root() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.alice, vec![transfer("ACME@acme", &a.carol, 40)]);
    let root = chain.state.root();
    let key = StateKey::balance(a.carol.public_key(), asset("ACME@acme"));
    let proof = chain.state.prove(&key).expect("provable");
    let value = proof.value.clone().expect("present");
    assert_eq!(
        StateValue::from_bytes(&value).expect("decodes"),
        StateValue::Balance(chain.balance(&a.carol, "ACME@acme"))
    );
    proof.verify(&root, &key).expect("membership verifies");
    assert_eq!(verify_state_proof(&root, &key, Some(&value), &proof.proof), Ok(()));

    // A different value, another key, or a proof of absence for a present key all fail.
    let mut tampered = value.clone();
    *tampered.last_mut().expect("non-empty") ^= 1;
    assert!(matches!(
        verify_state_proof(&root, &key, Some(&tampered), &proof.proof),
        Err(SmtError::ValueMismatch { .. })
    ));
    assert!(matches!(verify_state_proof(&root, &key, None, &proof.proof), Err(SmtError::KeyPresent { .. })));
    let other = StateKey::balance(a.bob.public_key(), asset("ACME@acme"));
    assert!(verify_state_proof(&root, &other, Some(&value), &proof.proof).is_err());

    // Absence: carol holds no GLX.
    let absent = StateKey::balance(a.carol.public_key(), asset("GLX@globex"));
    let proof = chain.state.prove(&absent).expect("provable");
    assert_eq!(proof.value, None);
    proof.verify(&root, &absent).expect("non-membership verifies");

    // After the entry changes, the old proof no longer verifies against the new root.
    let old = chain.state.prove(&key).expect("provable");
    chain.ok(&a.carol, vec![transfer("ACME@acme", &a.bob, 1)]);
    assert!(matches!(old.verify(&chain.state.root(), &key), Err(SmtError::RootMismatch { .. })));
    old.verify(&root, &key).expect("still valid against the old root");
}

#[test]
fn every_entry_of_the_state_proves() {
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.acme, vec![grant(1, "ACME@acme", &a.carol, 5), issue("NEW", 0, None, 0)]);
    let root = chain.state.root();
    let keys: Vec<StateKey> = chain.state.entries().map(|(key, _)| key.clone()).collect();
    assert!(keys.len() > 10);
    for key in keys {
        let proof = chain.state.prove(&key).expect("provable");
        assert!(proof.value.is_some());
        proof.verify(&root, &key).expect("verifies");
    }
}

#[test]
fn the_root_depends_only_on_the_entries() {
    // Incremental commits and one commit of the final entries give the same root.
    let a = actors();
    let mut chain = Chain::new();
    chain.ok(&a.alice, vec![transfer("ACME@acme", &a.carol, 1_000)]);
    chain.ok(&a.carol, vec![burn("ACME@acme", 1_000)]);
    let all: WriteSet =
        chain.state.entries().map(|(key, value)| (key.clone(), Some(value.clone()))).collect();
    let mut fresh = MemState::new();
    assert_eq!(fresh.commit(&all).expect("commits"), chain.state.root());
    assert_ne!(chain.state.root(), Hash::ZERO);
    assert_eq!(MemState::new().root(), Hash::ZERO);
}
