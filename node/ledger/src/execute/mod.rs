//! Block execution: transactions in, write set and receipts out.
//!
//! **Signatures are not checked here.** The caller (mempool admission, block verification,
//! audit) must check every transaction once with `SignedTransaction::check_form_and_signature`
//! before executing it; execution trusts that `tx.signer` signed `tx`. Checking here would
//! double the most expensive part of block verification, and the ledger has no way to cache
//! the result.
//!
//! A transaction goes through two stages:
//!
//! 1. **Inclusion checks**: right chain, at least one op, not expired (`height ≤
//!    valid_until_height`), and `seq = account seq + 1`. A transaction failing them cannot be
//!    in a block at all: [`BlockExecutor::execute_tx`] refuses it without changing anything, so
//!    a proposer can skip it, and [`execute_block`] refuses the whole block
//!    ([`BlockError::InvalidTx`]).
//! 2. **Ops**: an included transaction consumes its seq whatever happens next. Its ops apply in
//!    order, each seeing the effects of the ones before; the first op that fails makes the
//!    receipt [`Receipt::failed`] with its index and [`ErrorCode`], and then none of the
//!    transaction's ops take effect (docs/ARCHITECTURE.md "Ledger": no replay, no free retry loop).
//!
//! All arithmetic is checked. Each op checks its conditions in a fixed order, documented on
//! its function, so that the error code for a transaction with several problems is the same
//! on every node.
//!
//! Before its first transaction a block runs its prologue ([`BlockExecutor::begin`]): it
//! releases the holds whose expiry is at or before the block time (see [`holds`]), and makes
//! the epoch scheduled to start at its height current (see [`governance`]).
//!
//! Ops live by theme: credits here, metered usage in [`holds`], the order book in [`market`],
//! badges in [`badges`], consortium governance in [`governance`], price plans in [`plans`].

mod badges;
mod governance;
mod holds;
mod market;
mod plans;

use std::collections::BTreeMap;

use tally_types::codec::BoundedVec;
use tally_types::receipt::{ErrorCode, Fill, Receipt};
use tally_types::tx::{
    AssetFlags, Burn, Grant, GrantKind, IssueAsset, Op, SignedTransaction, Transaction, Transfer, TxId,
};
use tally_types::{Amount, AssetId, ChainId, Height, MemberId, PublicKey, limits};

use crate::state::{
    AccountState, AssetState, BalanceState, GrantRecord, KeyRange, RevenueState, StateError, StateKey,
    StateRead, StateValue, WriteSet, next_entry_layered,
};

/// What execution may know about the block besides its transactions.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BlockContext {
    pub chain_id: ChainId,
    /// The height of the block being executed (≥ 1).
    pub height: Height,
    /// The block's timestamp (the proposer's, checked by consensus). Ledger rules read this,
    /// never a clock.
    pub time_ms: u64,
}

/// What a block does to the ledger.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct BlockOutput {
    /// Every changed entry, sorted by key.
    pub writes: WriteSet,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
}

/// Why a transaction cannot be included in the block at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InclusionError {
    #[error("transaction is for chain `{actual}`, this chain is `{expected}`")]
    WrongChain { expected: ChainId, actual: ChainId },
    #[error("transaction has no operations")]
    NoOps,
    #[error("transaction expired: valid until height {valid_until_height}, block height is {height}")]
    Expired { valid_until_height: Height, height: Height },
    #[error("account {account} expects seq {expected}, transaction has seq {actual}")]
    BadSeq { account: PublicKey, expected: u64, actual: u64 },
    #[error("account {account} has used every seq")]
    SeqExhausted { account: PublicKey },
    #[error("block already holds the maximum of {max} transactions", max = limits::BLOCK_TXS_MAX)]
    BlockFull,
}

/// Why [`BlockExecutor::execute_tx`] did not include a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The transaction cannot be in this block; nothing changed.
    #[error("transaction cannot be included: {0}")]
    NotIncludable(#[from] InclusionError),
    /// The state could not be read; the block cannot be built or checked on this state.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why a block is invalid or could not be executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// A transaction fails the inclusion checks: the block is invalid.
    #[error("transaction {index} of the block cannot be included: {reason}")]
    InvalidTx { index: usize, reason: InclusionError },
    /// The state could not be read: says nothing about the block's validity.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Executes a whole block: every transaction must pass the inclusion checks. Signatures must
/// have been checked by the caller (see the module documentation).
pub fn execute_block<S: StateRead + ?Sized>(
    state: &S,
    context: &BlockContext,
    txs: &[SignedTransaction],
) -> Result<BlockOutput, BlockError> {
    let mut executor = BlockExecutor::begin(state, context.clone())?;
    for (index, tx) in txs.iter().enumerate() {
        match executor.execute_tx(tx) {
            Ok(_) => {}
            Err(TxError::NotIncludable(reason)) => return Err(BlockError::InvalidTx { index, reason }),
            Err(TxError::State(error)) => return Err(BlockError::State(error)),
        }
    }
    Ok(executor.finish())
}

/// Executes a block one transaction at a time over a read-only state, collecting the writes in
/// an overlay. A proposer offers candidate transactions in turn and keeps going past the ones
/// that are refused; a verifier uses [`execute_block`].
pub struct BlockExecutor<'s, S: StateRead + ?Sized> {
    base: &'s S,
    context: BlockContext,
    /// Changes of the transactions included so far.
    block_writes: BTreeMap<StateKey, Option<StateValue>>,
    /// Changes of the transaction being executed, each key once; merged into `block_writes`
    /// only if all its ops succeed. Empty between transactions. A vector, not a map: it holds a
    /// few entries per op, and a linear scan of those beats allocating tree nodes.
    tx_writes: Vec<(StateKey, Option<StateValue>)>,
    /// Fills of the transaction being executed; they go into its receipt if it succeeds.
    tx_fills: Vec<Fill>,
    /// Per book (by its range's first key): a base entry at or before which every base entry
    /// of the book is deleted by `block_writes`, so book walks skip them at once (see
    /// `market.rs`). Only ever advanced over deletions in `block_writes`, which are final.
    book_floors: BTreeMap<StateKey, StateKey>,
    receipts: Vec<Receipt>,
}

/// Where an op sits: who signed it, in which transaction, at which index.
#[derive(Clone, Copy, Debug)]
struct OpContext<'a> {
    signer: &'a PublicKey,
    tx_id: &'a TxId,
    /// The transaction's index in the block.
    tx_index: usize,
    /// The op's index in the transaction (< 16).
    op_index: u8,
}

/// Why one op stopped: a rule of the ledger (goes into the receipt) or unreadable state.
enum OpFailure {
    Code(ErrorCode),
    State(StateError),
}

impl From<ErrorCode> for OpFailure {
    fn from(code: ErrorCode) -> Self {
        OpFailure::Code(code)
    }
}

impl From<StateError> for OpFailure {
    fn from(error: StateError) -> Self {
        OpFailure::State(error)
    }
}

type OpResult = Result<(), OpFailure>;

impl<'s, S: StateRead + ?Sized> BlockExecutor<'s, S> {
    /// Starts a block on top of `state` and runs its prologue (expired holds are released),
    /// whose writes become part of the block's.
    pub fn begin(state: &'s S, context: BlockContext) -> Result<Self, StateError> {
        let mut executor = BlockExecutor {
            base: state,
            context,
            block_writes: BTreeMap::new(),
            tx_writes: Vec::new(),
            tx_fills: Vec::new(),
            book_floors: BTreeMap::new(),
            receipts: Vec::new(),
        };
        executor.release_expired_holds()?;
        executor.advance_epoch()?;
        executor.commit_tx_writes();
        Ok(executor)
    }

    /// The block being built or checked.
    pub fn context(&self) -> &BlockContext {
        &self.context
    }

    /// Transactions included so far.
    pub fn tx_count(&self) -> usize {
        self.receipts.len()
    }

    /// Receipts so far, in order.
    pub fn receipts(&self) -> &[Receipt] {
        &self.receipts
    }

    /// Includes `tx` and returns its receipt, or refuses it and changes nothing.
    /// The signature must have been checked by the caller.
    pub fn execute_tx(&mut self, signed: &SignedTransaction) -> Result<&Receipt, TxError> {
        debug_assert!(self.tx_writes.is_empty(), "a previous transaction left uncommitted writes");
        let tx = &signed.tx;
        let account_key = self.check_inclusion(tx)?;

        // From here on the transaction is included, whatever its ops do.
        let tx_id = signed.id();
        let tx_index = self.receipts.len();
        let mut outcome = None;
        for (index, op) in tx.ops.iter().enumerate() {
            // At most TX_OPS_MAX (16) ops, so the index fits a u8.
            let at = OpContext { signer: &tx.signer, tx_id: &tx_id, tx_index, op_index: index as u8 };
            match self.execute_op(at, op) {
                Ok(()) => {}
                Err(OpFailure::Code(code)) => {
                    outcome = Some((index as u8, code));
                    break;
                }
                Err(OpFailure::State(error)) => {
                    self.tx_writes.clear();
                    self.tx_fills.clear();
                    return Err(error.into());
                }
            }
        }
        let receipt = match outcome {
            None => {
                self.commit_tx_writes();
                let mut receipt = Receipt::success(tx_id);
                let fills = std::mem::take(&mut self.tx_fills);
                receipt.fills = BoundedVec::new(fills).unwrap_or_else(|_| {
                    unreachable!(
                        "at most OFFER_FILLS_MAX fills per op and TX_OPS_MAX ops fit RECEIPT_FILLS_MAX"
                    )
                });
                receipt
            }
            Some((op_index, code)) => {
                self.tx_writes.clear();
                self.tx_fills.clear();
                Receipt::failed(tx_id, op_index, code)
            }
        };
        self.block_writes.insert(account_key, Some(StateValue::Account(AccountState { seq: tx.seq })));
        self.receipts.push(receipt);
        Ok(self.receipts.last().expect("a receipt was pushed just above"))
    }

    /// The checks that decide whether `tx` is included at all, in order: room in the block,
    /// the chain, at least one op, not expired, the signer's next seq. Returns the signer's
    /// account key.
    fn check_inclusion(&self, tx: &Transaction) -> Result<StateKey, TxError> {
        if self.receipts.len() >= limits::BLOCK_TXS_MAX {
            return Err(InclusionError::BlockFull.into());
        }
        if tx.chain_id != self.context.chain_id {
            return Err(InclusionError::WrongChain {
                expected: self.context.chain_id.clone(),
                actual: tx.chain_id.clone(),
            }
            .into());
        }
        if tx.ops.is_empty() {
            return Err(InclusionError::NoOps.into());
        }
        if self.context.height > tx.valid_until_height {
            return Err(InclusionError::Expired {
                valid_until_height: tx.valid_until_height,
                height: self.context.height,
            }
            .into());
        }
        let account_key = StateKey::Account { account: tx.signer };
        let account = self.read_account(&account_key)?;
        let expected =
            account.seq.checked_add(1).ok_or(InclusionError::SeqExhausted { account: tx.signer })?;
        if tx.seq != expected {
            return Err(InclusionError::BadSeq { account: tx.signer, expected, actual: tx.seq }.into());
        }
        Ok(account_key)
    }

    /// The block's writes and receipts.
    pub fn finish(self) -> BlockOutput {
        debug_assert!(self.tx_writes.is_empty(), "a transaction left uncommitted writes");
        BlockOutput { writes: WriteSet::from_map(self.block_writes), receipts: self.receipts }
    }

    /// Moves the current transaction's writes into the block's. One by one: `BTreeMap::append`
    /// rebuilds the whole block map, which would make a block quadratic in its transactions.
    fn commit_tx_writes(&mut self) {
        for (key, value) in self.tx_writes.drain(..) {
            self.block_writes.insert(key, value);
        }
    }

    fn execute_op(&mut self, at: OpContext<'_>, op: &Op) -> OpResult {
        let signer = at.signer;
        match op {
            Op::IssueAsset(op) => self.issue_asset(signer, op),
            Op::Grant(op) => self.grant(signer, op),
            Op::Transfer(op) => self.transfer(signer, op),
            Op::Burn(op) => self.burn(signer, op),
            Op::AuthorizeSpend(op) => self.authorize_spend(at, op),
            Op::Hold(op) => self.hold(at, op),
            Op::Settle(op) => self.settle(at, op),
            Op::Void(op) => self.void(at, op),
            Op::PlaceOffer(op) => self.place_offer(at, op),
            Op::CancelOffer(op) => self.cancel_offer(at, op),
            Op::AnchorBadges(op) => self.anchor_badges(at, op),
            Op::RevokeBadge(op) => self.revoke_badge(at, op),
            Op::Propose(op) => self.propose(at, op),
            Op::CastVote(op) => self.cast_vote(at, op),
            Op::PublishPlan(op) => self.publish_plan(at, op),
            Op::RetirePlan(op) => self.retire_plan(at, op),
            Op::SettleApp(op) => self.settle_app(at, op),
            Op::AnchorAchievements(op) => self.anchor_achievements(at, op),
        }
    }

    /// IssueAsset. Checks, in order: the signer is an issuer account of some member
    /// (`NotIssuer`), who becomes the asset's issuer; scale ≤ 18 (`BadScale`); only known flags
    /// (`BadFlags`); a max supply, if set, above zero (`BadMaxSupply`); the code is new for
    /// the member (`AssetExists`).
    fn issue_asset(&mut self, signer: &PublicKey, op: &IssueAsset) -> OpResult {
        let member = self.issuer_member(signer)?.ok_or(ErrorCode::NotIssuer)?;
        if op.scale > limits::ASSET_SCALE_MAX {
            return Err(ErrorCode::BadScale.into());
        }
        if !op.flags.is_known() {
            return Err(ErrorCode::BadFlags.into());
        }
        if op.max_supply == Some(Amount::ZERO) {
            return Err(ErrorCode::BadMaxSupply.into());
        }
        let key = StateKey::Asset { asset: AssetId::new(op.code.clone(), member) };
        if self.read_asset(&key)?.is_some() {
            return Err(ErrorCode::AssetExists.into());
        }
        let asset = AssetState {
            scale: op.scale,
            max_supply: op.max_supply,
            flags: op.flags,
            supply: Amount::ZERO,
            minted: Amount::ZERO,
            burned: Amount::ZERO,
        };
        self.put(key, Some(StateValue::Asset(asset)));
        Ok(())
    }

    /// Grant (mint). Checks, in order: the signer is an issuer account of the asset's member
    /// (`NotIssuer`); the asset exists (`UnknownAsset`); the amount is positive (`ZeroAmount`);
    /// a reward names its reason (`RewardReasonMissing`) and other kinds do not
    /// (`ReasonNotAllowed`); a named credit pack is the purchase it says
    /// ([`Self::check_pack`]); the grant id is new for the member (`DuplicateGrantId`); supply
    /// stays within the max supply (`MaxSupplyExceeded`); no counter overflows (`AmountOverflow`).
    fn grant(&mut self, signer: &PublicKey, op: &Grant) -> OpResult {
        if self.issuer_member(signer)?.as_ref() != Some(&op.asset.issuer) {
            return Err(ErrorCode::NotIssuer.into());
        }
        let asset_key = StateKey::Asset { asset: op.asset.clone() };
        let mut asset = self.read_asset(&asset_key)?.ok_or(ErrorCode::UnknownAsset)?;
        if op.amount.is_zero() {
            return Err(ErrorCode::ZeroAmount.into());
        }
        match (op.kind, &op.reason) {
            (GrantKind::Reward, None) => return Err(ErrorCode::RewardReasonMissing.into()),
            (GrantKind::Purchase | GrantKind::Promo, Some(_)) => {
                return Err(ErrorCode::ReasonNotAllowed.into());
            }
            _ => {}
        }
        if let Some(pack) = &op.pack {
            self.check_pack(op.kind, &op.asset, op.amount, pack)?;
        }
        let grant_key = StateKey::GrantId { member: op.asset.issuer.clone(), grant_id: op.grant_id };
        if self.read(&grant_key)?.is_some() {
            return Err(ErrorCode::DuplicateGrantId.into());
        }
        if let Some(max_supply) = asset.max_supply {
            // Supply never exceeds the max (an invariant); if it somehow did, no grant fits.
            let room = max_supply.checked_sub(asset.supply).unwrap_or(Amount::ZERO);
            if op.amount > room {
                return Err(ErrorCode::MaxSupplyExceeded.into());
            }
        }
        asset.supply = asset.supply.checked_add(op.amount).ok_or(ErrorCode::AmountOverflow)?;
        asset.minted = asset.minted.checked_add(op.amount).ok_or(ErrorCode::AmountOverflow)?;
        let balance_key = StateKey::balance(op.to, op.asset.clone());
        let mut balance = self.read_balance(&balance_key)?;
        balance.available = balance.available.checked_add(op.amount).ok_or(ErrorCode::AmountOverflow)?;

        self.put(asset_key, Some(StateValue::Asset(asset)));
        self.put_balance(balance_key, balance);
        self.add_revenue(op.to, &op.asset, Amount::ZERO, op.amount)?;
        let record = GrantRecord { height: self.context.height };
        self.put(grant_key, Some(StateValue::GrantId(record)));
        Ok(())
    }

    /// Transfer. Checks, in order: the amount is positive (`ZeroAmount`); the receiver is not
    /// the sender (`SelfTransfer`); the asset exists (`UnknownAsset`); a non-transferable asset
    /// moves only to or from an issuer account of its member (`NotTransferable`); the sender's
    /// available balance covers the amount (`InsufficientBalance`); the receiver's balance does
    /// not overflow (`AmountOverflow`).
    fn transfer(&mut self, signer: &PublicKey, op: &Transfer) -> OpResult {
        if op.amount.is_zero() {
            return Err(ErrorCode::ZeroAmount.into());
        }
        if op.to == *signer {
            return Err(ErrorCode::SelfTransfer.into());
        }
        let asset =
            self.read_asset(&StateKey::Asset { asset: op.asset.clone() })?.ok_or(ErrorCode::UnknownAsset)?;
        if asset.flags.has(AssetFlags::NON_TRANSFERABLE)
            && !self.is_issuer_of(signer, &op.asset.issuer)?
            && !self.is_issuer_of(&op.to, &op.asset.issuer)?
        {
            return Err(ErrorCode::NotTransferable.into());
        }
        let from_key = StateKey::balance(*signer, op.asset.clone());
        let mut from = self.read_balance(&from_key)?;
        from.available = from.available.checked_sub(op.amount).ok_or(ErrorCode::InsufficientBalance)?;
        let to_key = StateKey::balance(op.to, op.asset.clone());
        let mut to = self.read_balance(&to_key)?;
        to.available = to.available.checked_add(op.amount).ok_or(ErrorCode::AmountOverflow)?;
        self.put_balance(from_key, from);
        self.put_balance(to_key, to);
        Ok(())
    }

    /// Burn: the holder returns credits to the issuer; supply falls and the burned counter
    /// rises. Checks, in order: the amount is positive (`ZeroAmount`); the asset exists
    /// (`UnknownAsset`); the available balance covers the amount (`InsufficientBalance`); the
    /// burned counter does not overflow (`AmountOverflow`).
    fn burn(&mut self, signer: &PublicKey, op: &Burn) -> OpResult {
        if op.amount.is_zero() {
            return Err(ErrorCode::ZeroAmount.into());
        }
        let asset_key = StateKey::Asset { asset: op.asset.clone() };
        let mut asset = self.read_asset(&asset_key)?.ok_or(ErrorCode::UnknownAsset)?;
        let balance_key = StateKey::balance(*signer, op.asset.clone());
        let mut balance = self.read_balance(&balance_key)?;
        balance.available = balance.available.checked_sub(op.amount).ok_or(ErrorCode::InsufficientBalance)?;
        asset.burned = asset.burned.checked_add(op.amount).ok_or(ErrorCode::AmountOverflow)?;
        // Supply is the sum of all balances (an invariant), so it covers this holder's credits;
        // if it does not, the stored state is broken and no answer would be right.
        asset.supply = asset.supply.checked_sub(op.amount).ok_or_else(|| StateError::Corrupt {
            key: asset_key.clone(),
            reason: format!("supply {} is below a balance of {}", asset.supply, op.amount),
        })?;
        self.put(asset_key, Some(StateValue::Asset(asset)));
        self.put_balance(balance_key, balance);
        Ok(())
    }

    // ---- reads and writes through the overlay ----

    /// The current value under `key`: this transaction's writes, then the block's, then the
    /// base state.
    fn read(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        if let Some((_, value)) = self.tx_writes.iter().find(|(written, _)| written == key) {
            return Ok(value.clone());
        }
        if let Some(value) = self.block_writes.get(key) {
            return Ok(value.clone());
        }
        self.base.get(key)
    }

    /// The next entry of `range` after `after`, through the transaction's and the block's
    /// writes (see [`StateRead::next_entry`]).
    fn next_entry(
        &self,
        range: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        next_entry_layered(self.base, &[&self.block_writes], &self.tx_writes, range, after)
    }

    fn put(&mut self, key: StateKey, value: Option<StateValue>) {
        match self.tx_writes.iter_mut().find(|(written, _)| *written == key) {
            Some((_, slot)) => *slot = value,
            None => self.tx_writes.push((key, value)),
        }
    }

    /// Adds what `account` received of `asset` to its revenue entry: `market` proceeds of a
    /// fill, `grants` of a grant (saturating: see [`RevenueState`]). Adding nothing writes
    /// nothing.
    fn add_revenue(
        &mut self,
        account: PublicKey,
        asset: &AssetId,
        market: Amount,
        grants: Amount,
    ) -> Result<(), StateError> {
        if market.is_zero() && grants.is_zero() {
            return Ok(());
        }
        let key = StateKey::Revenue { account, asset: asset.clone() };
        let mut revenue = match self.read(&key)? {
            None => RevenueState::default(),
            Some(StateValue::Revenue(revenue)) => revenue,
            Some(other) => return Err(wrong_kind(&key, &other)),
        };
        revenue.market = Amount(revenue.market.0.saturating_add(market.0));
        revenue.grants = Amount(revenue.grants.0.saturating_add(grants.0));
        self.put(key, Some(StateValue::Revenue(revenue)));
        Ok(())
    }

    /// Stores a balance, or deletes the entry when it holds nothing (canonical form).
    fn put_balance(&mut self, key: StateKey, balance: BalanceState) {
        let value = if balance.is_empty() { None } else { Some(StateValue::Balance(balance)) };
        self.put(key, value);
    }

    fn read_account(&self, key: &StateKey) -> Result<AccountState, StateError> {
        match self.read(key)? {
            None => Ok(AccountState::default()),
            Some(StateValue::Account(account)) => Ok(account),
            Some(other) => Err(wrong_kind(key, &other)),
        }
    }

    fn read_balance(&self, key: &StateKey) -> Result<BalanceState, StateError> {
        match self.read(key)? {
            None => Ok(BalanceState::default()),
            Some(StateValue::Balance(balance)) => Ok(balance),
            Some(other) => Err(wrong_kind(key, &other)),
        }
    }

    fn read_asset(&self, key: &StateKey) -> Result<Option<AssetState>, StateError> {
        match self.read(key)? {
            None => Ok(None),
            Some(StateValue::Asset(asset)) => Ok(Some(asset)),
            Some(other) => Err(wrong_kind(key, &other)),
        }
    }

    /// The member `account` is an issuer of, if any.
    fn issuer_member(&self, account: &PublicKey) -> Result<Option<MemberId>, StateError> {
        let key = StateKey::Issuer { account: *account };
        match self.read(&key)? {
            None => Ok(None),
            Some(StateValue::Issuer(issuer)) => Ok(Some(issuer.member)),
            Some(other) => Err(wrong_kind(&key, &other)),
        }
    }

    fn is_issuer_of(&self, account: &PublicKey, member: &MemberId) -> Result<bool, StateError> {
        Ok(self.issuer_member(account)?.as_ref() == Some(member))
    }
}

fn wrong_kind(key: &StateKey, value: &StateValue) -> StateError {
    StateError::Corrupt {
        key: key.clone(),
        reason: format!("holds a {:?} value under a {:?} key", value.kind(), key.kind()),
    }
}
