//! Tally's deterministic ledger: executes blocks of transactions against the ledger state,
//! commits the state to a sparse Merkle root, proves single entries, and checks invariants.
//!
//! Invariants this crate keeps:
//! - Execution is a pure function of (state, block context, transactions): no tokio, no I/O,
//!   no clock (only the block's `time_ms`), no randomness, and no `HashMap` iteration where its
//!   order could reach the output. The same inputs give the same write set, receipts and state
//!   root on every node, every time.
//! - **Execution does not check signatures.** The caller checks every transaction once with
//!   `SignedTransaction::check_form_and_signature` before handing it to [`execute_block`] or
//!   [`BlockExecutor::execute_tx`]; execution trusts that `tx.signer` signed `tx`.
//! - Execution reads state only through [`StateRead`] and never writes it: it returns a
//!   [`WriteSet`], which the caller commits atomically together with the block.
//! - A transaction that passes the inclusion checks consumes its seq; its ops apply all or
//!   none. All amount arithmetic is checked.
//! - After every block, per asset: minted − burned = supply = Σ balances (available + locked),
//!   supply ≤ max supply; locked = open offers + open holds per account and asset; no book is
//!   crossed; fills conserve value and lie within both offers' limit prices; holds resolve
//!   once; every grant, hold, batch and offer id is used once in its scope; every account's
//!   seqs are used once each, in order; the ledger facts (usage, spend, applications,
//!   revenue) equal the settled holds and what the blocks' ops and receipts imply
//!   ([`check_invariants`], [`History`], [`History::check_facts`]).
//! - Market rules: exact rational prices compared in wide integers, price-time priority,
//!   trades at the resting offer's price, rounding in favour of the resting offer, at most
//!   1,000 fills per op, no self-trade, and an offer never rests crossed.
//! - The state is canonical: an entry that would hold only defaults (a zero balance, seq 0) is
//!   deleted, so equal states have equal roots.

pub mod execute;
pub mod genesis;
pub mod invariants;
pub mod mem;
pub mod proof;
pub mod state;
pub mod tree;

pub use execute::{
    BlockContext, BlockError, BlockExecutor, BlockOutput, InclusionError, TxError, execute_block,
};
pub use genesis::{
    GenesisAsset, GenesisBalance, GenesisError, GenesisLedger, GenesisMember, GenesisValidator,
    genesis_writes,
};
pub use invariants::{FactViolation, History, HistoryViolation, InvariantViolation, check_invariants};
pub use mem::{CommitBlockError, CommittedBlock, MemState};
pub use proof::{ProveError, StateProof, prove_entry, verify_state_proof};
pub use state::{
    AccountState, AssetState, BalanceState, EntryKind, GrantRecord, IssuerState, MemberState, StateError,
    StateKey, StateRead, StateValue, WriteSet,
};
