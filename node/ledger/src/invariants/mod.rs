//! Invariant checks: over a complete state ([`check_invariants`]) and over the sequence of
//! executed blocks ([`History`]).
//!
//! These are written apart from the execution code and share none of its logic: they recompute
//! every total from scratch, so a bug in an op shows up as a violation here instead of being
//! repeated. Tests run them after every block, debug builds of [`crate::MemState`] run the
//! state check after every commit, and `tally audit` runs both over the whole chain.

mod badges;
mod facts;
mod governance;
mod holds;
mod market;

pub use badges::BadgeViolation;
pub use facts::FactViolation;
pub use governance::GovernanceViolation;
pub use holds::HoldViolation;
pub use market::MarketViolation;

use std::collections::{BTreeMap, BTreeSet};

use tally_types::receipt::{Receipt, TxOutcome};
use tally_types::tx::{Op, SignedTransaction, TxId};
use tally_types::{Amount, AssetId, Height, MemberId, OpId, PublicKey, limits};

use crate::state::{AssetState, EntryKind, MemberState, StateKey, StateValue};

/// A broken state invariant. Each names the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    #[error("entry {key:?} holds a {value:?} value")]
    KindMismatch { key: StateKey, value: EntryKind },
    #[error("entry {key:?} holds only defaults and must not be stored")]
    EmptyEntry { key: StateKey },
    #[error("asset `{asset}` belongs to member `{member}`, which does not exist")]
    AssetOfUnknownMember { asset: AssetId, member: MemberId },
    #[error("asset `{asset}` has scale {scale}, above {max}", max = limits::ASSET_SCALE_MAX)]
    BadScale { asset: AssetId, scale: u8 },
    #[error("asset `{asset}` has unknown flag bits {flags:#x}")]
    BadFlags { asset: AssetId, flags: u32 },
    #[error("asset `{asset}` has a max supply of zero")]
    ZeroMaxSupply { asset: AssetId },
    #[error("asset `{asset}`: minted {minted} - burned {burned} != supply {supply}")]
    MintedBurnedMismatch { asset: AssetId, minted: Amount, burned: Amount, supply: Amount },
    #[error("asset `{asset}`: supply {supply} is above max supply {max_supply}")]
    AboveMaxSupply { asset: AssetId, supply: Amount, max_supply: Amount },
    #[error("asset `{asset}`: balances add up to {balances}, supply is {supply}")]
    SupplyMismatch { asset: AssetId, supply: Amount, balances: Amount },
    #[error("asset `{asset}`: balances add up to more than 2^128 - 1")]
    BalancesOverflow { asset: AssetId },
    #[error("account {account} holds a balance of asset `{asset}`, which does not exist")]
    BalanceOfUnknownAsset { account: PublicKey, asset: AssetId },
    #[error("account {account}: {locked} of `{asset}` locked, but open holds and offers lock {expected}")]
    LockedMismatch { account: PublicKey, asset: AssetId, locked: Amount, expected: Amount },
    #[error("member `{member}` has no issuer accounts")]
    MemberWithoutIssuers { member: MemberId },
    #[error("member `{member}` has an empty name")]
    EmptyMemberName { member: MemberId },
    #[error("member `{member}` issuer list is not sorted and unique")]
    UnsortedIssuers { member: MemberId },
    #[error("account {account} is an issuer of member `{member}` but the issuer index says {indexed:?}")]
    IssuerIndexMismatch { account: PublicKey, member: MemberId, indexed: Option<MemberId> },
    #[error("issuer index names account {account} for member `{member}`, which does not list it")]
    StaleIssuerIndex { account: PublicKey, member: MemberId },
    #[error("grant id {grant_id} is recorded for member `{member}`, which does not exist")]
    GrantIdOfUnknownMember { member: MemberId, grant_id: OpId },
    #[error("account {account}: open holds and offers of `{asset}` lock more than 2^128 - 1")]
    LocksOverflow { account: PublicKey, asset: AssetId },
    #[error(transparent)]
    Hold(#[from] HoldViolation),
    #[error(transparent)]
    Market(#[from] MarketViolation),
    #[error(transparent)]
    Badge(#[from] BadgeViolation),
    #[error(transparent)]
    Governance(#[from] GovernanceViolation),
    #[error(transparent)]
    Fact(FactViolation),
}

/// What the themed checks (holds, market, badges) may look at besides their own entries.
pub(crate) struct World<'a> {
    pub assets: &'a BTreeMap<&'a AssetId, &'a AssetState>,
    /// Members and their issuer accounts.
    pub members: &'a BTreeMap<&'a MemberId, BTreeSet<&'a PublicKey>>,
}

/// What open holds and offers lock, per (account, asset): each themed check adds its part, and
/// every balance's `locked` must equal the total.
#[derive(Default)]
pub(crate) struct Locks<'a>(BTreeMap<(&'a PublicKey, &'a AssetId), Amount>);

impl<'a> Locks<'a> {
    /// Adds `amount` locked on `account`'s balance of `asset`.
    pub fn add(
        &mut self,
        account: &'a PublicKey,
        asset: &'a AssetId,
        amount: Amount,
    ) -> Result<(), InvariantViolation> {
        let slot = self.0.entry((account, asset)).or_insert(Amount::ZERO);
        *slot = slot
            .checked_add(amount)
            .ok_or_else(|| InvariantViolation::LocksOverflow { account: *account, asset: asset.clone() })?;
        Ok(())
    }
}

/// Checks every state invariant over a complete state, given as its entries in any order.
///
/// Per asset: minted − burned = supply = Σ (available + locked) over all balances, supply ≤
/// max supply, scale and flags valid, issuer member exists. Per balance: its asset exists, and
/// locked equals what open holds and offers lock. Holds: open ⇔ indexed by expiry, settled
/// holds match their batch records. Market: every open offer has exactly one book entry and
/// vice versa, and no book is crossed. Badges: anchors and revocations name members. Facts:
/// spend equals the settled holds, usage counts its spend and application entries; badge
/// figures name members and add up to at most their anchors' badges. No
/// balance can exceed supply, since balances are non-negative and sum to it. Members have a
/// name and sorted, unique issuers, and the issuer index matches the members exactly. Every
/// entry's value is of its key's kind, and no entry holds only defaults.
pub fn check_invariants<'a, I>(entries: I) -> Result<(), InvariantViolation>
where
    I: IntoIterator<Item = (&'a StateKey, &'a StateValue)>,
{
    let mut core = Core::default();
    let mut holds = holds::Collector::default();
    let mut market = market::Collector::default();
    let mut badges = badges::Collector::default();
    let mut governance = governance::Collector::default();
    let mut facts = facts::Collector::default();
    for (key, value) in entries {
        if key.kind() != value.kind() {
            return Err(InvariantViolation::KindMismatch { key: key.clone(), value: value.kind() });
        }
        match key {
            StateKey::Hold { .. } => facts.observe_hold(value),
            StateKey::BadgeAnchor { .. } => facts.observe_anchor(value),
            _ => {}
        }
        match key {
            StateKey::Usage { .. }
            | StateKey::Spent { .. }
            | StateKey::AppUsage { .. }
            | StateKey::Revenue { .. }
            | StateKey::BadgeFigures { .. } => facts.observe(key, value),
            StateKey::Authorization { .. }
            | StateKey::Hold { .. }
            | StateKey::HoldExpiry { .. }
            | StateKey::BatchId { .. }
            | StateKey::Plan { .. }
            | StateKey::PlanUsage { .. } => holds.observe(key, value)?,
            StateKey::Offer { .. } | StateKey::BookEntry { .. } => market.observe(key, value)?,
            StateKey::BadgeAnchor { .. } | StateKey::BadgeRevocation { .. } => badges.observe(key, value)?,
            StateKey::Governor { .. }
            | StateKey::Governance
            | StateKey::Validator { .. }
            | StateKey::Epochs
            | StateKey::Proposal { .. } => governance.observe(key, value)?,
            _ => core.observe(key, value)?,
        }
    }

    let world = World { assets: &core.assets, members: &core.members };
    let mut locks = Locks::default();
    holds.finish(&world, &mut locks)?;
    market.finish(&world, &mut locks)?;
    badges.finish(&world)?;
    governance.finish(&world, &core.member_states)?;
    facts.finish(&world)?;
    core.check_locks(locks)?;
    core.check_assets()?;
    core.check_issuers()
}

/// The entries no themed check owns (accounts, balances, assets, members, issuers, grant ids),
/// gathered in one pass for the checks across them.
#[derive(Default)]
struct Core<'a> {
    assets: BTreeMap<&'a AssetId, &'a AssetState>,
    /// Per asset, Σ (available + locked) over its balances.
    balance_sums: BTreeMap<&'a AssetId, Amount>,
    /// Every balance: its account, asset and locked amount.
    balances: Vec<(&'a PublicKey, &'a AssetId, Amount)>,
    /// Members and their issuer accounts.
    members: BTreeMap<&'a MemberId, BTreeSet<&'a PublicKey>>,
    member_states: BTreeMap<&'a MemberId, &'a MemberState>,
    issuer_index: BTreeMap<&'a PublicKey, &'a MemberId>,
    grant_ids: Vec<(&'a MemberId, &'a OpId)>,
}

impl<'a> Core<'a> {
    /// Checks what one entry can show alone and keeps what the later checks need.
    fn observe(&mut self, key: &'a StateKey, value: &'a StateValue) -> Result<(), InvariantViolation> {
        match (key, value) {
            (StateKey::Account { .. }, StateValue::Account(account)) => {
                if account.seq == 0 {
                    return Err(InvariantViolation::EmptyEntry { key: key.clone() });
                }
            }
            (StateKey::Balance { account, asset }, StateValue::Balance(balance)) => {
                if balance.available.is_zero() && balance.locked.is_zero() {
                    return Err(InvariantViolation::EmptyEntry { key: key.clone() });
                }
                let overflow = || InvariantViolation::BalancesOverflow { asset: asset.clone() };
                let total = balance.available.checked_add(balance.locked).ok_or_else(overflow)?;
                let sum = self.balance_sums.entry(asset).or_insert(Amount::ZERO);
                *sum = sum.checked_add(total).ok_or_else(overflow)?;
                self.balances.push((account, asset, balance.locked));
            }
            (StateKey::Asset { asset: id }, StateValue::Asset(asset)) => {
                self.assets.insert(id, asset);
            }
            (StateKey::Member { member: id }, StateValue::Member(member)) => {
                if member.name.is_empty() {
                    return Err(InvariantViolation::EmptyMemberName { member: id.clone() });
                }
                if member.issuers.is_empty() {
                    return Err(InvariantViolation::MemberWithoutIssuers { member: id.clone() });
                }
                if !member.issuers.windows(2).all(|pair| pair[0] < pair[1]) {
                    return Err(InvariantViolation::UnsortedIssuers { member: id.clone() });
                }
                self.members.insert(id, member.issuers.iter().collect());
                self.member_states.insert(id, member);
            }
            (StateKey::Issuer { account }, StateValue::Issuer(issuer)) => {
                self.issuer_index.insert(account, &issuer.member);
            }
            (StateKey::GrantId { member, grant_id }, StateValue::GrantId(_)) => {
                self.grant_ids.push((member, grant_id));
            }
            _ => unreachable!("key and value kinds were checked equal, and themed keys go to their checks"),
        }
        Ok(())
    }

    /// Every balance's `locked` equals what open holds and offers lock on it, and nothing is
    /// locked on a balance that does not exist.
    fn check_locks(&self, mut locks: Locks<'a>) -> Result<(), InvariantViolation> {
        for &(account, asset, locked) in &self.balances {
            let expected = locks.0.remove(&(account, asset)).unwrap_or(Amount::ZERO);
            if locked != expected {
                return Err(InvariantViolation::LockedMismatch {
                    account: *account,
                    asset: asset.clone(),
                    locked,
                    expected,
                });
            }
        }
        if let Some(((account, asset), expected)) = locks.0.into_iter().find(|(_, amount)| !amount.is_zero())
        {
            return Err(InvariantViolation::LockedMismatch {
                account: *account,
                asset: asset.clone(),
                locked: Amount::ZERO,
                expected,
            });
        }
        Ok(())
    }

    /// Per asset: its member exists, scale and flags are valid, minted − burned = supply ≤ max
    /// supply = Σ balances; and every balance's asset exists.
    fn check_assets(&self) -> Result<(), InvariantViolation> {
        for (id, asset) in &self.assets {
            let id = *id;
            if !self.members.contains_key(&id.issuer) {
                return Err(InvariantViolation::AssetOfUnknownMember {
                    asset: id.clone(),
                    member: id.issuer.clone(),
                });
            }
            if asset.scale > limits::ASSET_SCALE_MAX {
                return Err(InvariantViolation::BadScale { asset: id.clone(), scale: asset.scale });
            }
            if !asset.flags.is_known() {
                return Err(InvariantViolation::BadFlags { asset: id.clone(), flags: asset.flags.0 });
            }
            if asset.minted.checked_sub(asset.burned) != Some(asset.supply) {
                return Err(InvariantViolation::MintedBurnedMismatch {
                    asset: id.clone(),
                    minted: asset.minted,
                    burned: asset.burned,
                    supply: asset.supply,
                });
            }
            match asset.max_supply {
                Some(max_supply) if max_supply.is_zero() => {
                    return Err(InvariantViolation::ZeroMaxSupply { asset: id.clone() });
                }
                Some(max_supply) if asset.supply > max_supply => {
                    return Err(InvariantViolation::AboveMaxSupply {
                        asset: id.clone(),
                        supply: asset.supply,
                        max_supply,
                    });
                }
                _ => {}
            }
            let balances = self.balance_sums.get(id).copied().unwrap_or(Amount::ZERO);
            if balances != asset.supply {
                return Err(InvariantViolation::SupplyMismatch {
                    asset: id.clone(),
                    supply: asset.supply,
                    balances,
                });
            }
        }
        for &(account, asset, _) in &self.balances {
            if !self.assets.contains_key(asset) {
                return Err(InvariantViolation::BalanceOfUnknownAsset {
                    account: *account,
                    asset: asset.clone(),
                });
            }
        }
        Ok(())
    }

    /// The issuer index lists exactly the issuers of active members, and every grant id names
    /// a member.
    fn check_issuers(&self) -> Result<(), InvariantViolation> {
        // A removed member keeps its record (and so its issuer list) but its issuers act for no
        // one: only active members' issuers are indexed.
        let is_active =
            |member: &MemberId| self.member_states.get(member).is_some_and(|state| state.is_active());
        for (member, issuers) in self.members.iter().filter(|(member, _)| is_active(member)) {
            for account in issuers {
                let indexed = self.issuer_index.get(account).copied();
                if indexed != Some(*member) {
                    return Err(InvariantViolation::IssuerIndexMismatch {
                        account: **account,
                        member: (*member).clone(),
                        indexed: indexed.cloned(),
                    });
                }
            }
        }
        for (account, member) in &self.issuer_index {
            if !is_active(member)
                || !self.members.get(member).is_some_and(|issuers| issuers.contains(account))
            {
                return Err(InvariantViolation::StaleIssuerIndex {
                    account: **account,
                    member: (*member).clone(),
                });
            }
        }
        for &(member, grant_id) in &self.grant_ids {
            if !self.members.contains_key(member) {
                return Err(InvariantViolation::GrantIdOfUnknownMember {
                    member: member.clone(),
                    grant_id: *grant_id,
                });
            }
        }
        Ok(())
    }
}

/// A broken history invariant: something no sequence of valid blocks can produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryViolation {
    #[error("block height {height} does not follow height {previous}")]
    HeightNotIncreasing { previous: Height, height: Height },
    #[error("block {height} has {txs} transactions but {receipts} receipts")]
    ReceiptCount { height: Height, txs: usize, receipts: usize },
    #[error("block {height} receipt {index} is for transaction {receipt_tx}, not {tx}")]
    ReceiptForOtherTx { height: Height, index: usize, tx: TxId, receipt_tx: TxId },
    #[error("block {height} transaction {index}: account {account} used seq {actual} after seq {previous}")]
    SeqOutOfOrder { height: Height, index: usize, account: PublicKey, previous: u64, actual: u64 },
    #[error("block {height} transaction {index}: grant id {grant_id} of member `{member}` was used before")]
    GrantIdReused { height: Height, index: usize, member: MemberId, grant_id: OpId },
    #[error("block {height} transaction {index}: {what}")]
    Themed { height: Height, index: usize, what: String },
}

/// Tracks what every block used, to check that each grant id succeeds at most once and each
/// account's seqs are used once each, in order (1, 2, 3, ...). Feed it every block from the
/// first on, after execution.
///
/// Memory grows with the number of accounts and grants ever seen; it is a tool for tests and
/// audits, which must remember exactly that.
#[derive(Clone, Debug, Default)]
pub struct History {
    last_height: Height,
    seqs: BTreeMap<PublicKey, u64>,
    grant_ids: BTreeSet<(MemberId, OpId)>,
    holds: holds::HistoryPart,
    market: market::HistoryPart,
    badges: badges::HistoryPart,
    facts: facts::HistoryPart,
}

impl History {
    /// A history starting at genesis (height 0, no seq or grant id used).
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one executed block and records what it used.
    pub fn observe_block(
        &mut self,
        height: Height,
        txs: &[SignedTransaction],
        receipts: &[Receipt],
    ) -> Result<(), HistoryViolation> {
        if height <= self.last_height {
            return Err(HistoryViolation::HeightNotIncreasing { previous: self.last_height, height });
        }
        if txs.len() != receipts.len() {
            return Err(HistoryViolation::ReceiptCount { height, txs: txs.len(), receipts: receipts.len() });
        }
        for (index, (signed, receipt)) in txs.iter().zip(receipts).enumerate() {
            let tx_id = signed.id();
            if receipt.tx_id != tx_id {
                return Err(HistoryViolation::ReceiptForOtherTx {
                    height,
                    index,
                    tx: tx_id,
                    receipt_tx: receipt.tx_id,
                });
            }
            let tx = &signed.tx;
            let previous = self.seqs.get(&tx.signer).copied().unwrap_or(0);
            if previous.checked_add(1) != Some(tx.seq) {
                return Err(HistoryViolation::SeqOutOfOrder {
                    height,
                    index,
                    account: tx.signer,
                    previous,
                    actual: tx.seq,
                });
            }
            self.seqs.insert(tx.signer, tx.seq);
            if receipt.outcome != TxOutcome::Success {
                continue;
            }
            for (op_index, op) in tx.ops.iter().enumerate() {
                self.holds.observe_op(height, index, &tx.signer, op)?;
                self.market.observe_op(height, index, op_index, &tx.signer, op, receipt)?;
                self.badges.observe_op(height, index, &tx.signer, op)?;
                self.facts.observe_op(op_index, &tx.signer, op, receipt);
                if let Op::Grant(grant) = op {
                    let id = (grant.asset.issuer.clone(), grant.grant_id);
                    if self.grant_ids.contains(&id) {
                        let (member, grant_id) = id;
                        return Err(HistoryViolation::GrantIdReused { height, index, member, grant_id });
                    }
                    self.grant_ids.insert(id);
                }
            }
        }
        self.last_height = height;
        Ok(())
    }

    /// Checks the ledger facts of the state after the last block observed (its entries, in any
    /// order) against what the blocks' ops and receipts imply: usage units, application
    /// entries, revenue and badge figures, exactly (see `facts.rs`).
    pub fn check_facts<'a, I>(&self, entries: I) -> Result<(), FactViolation>
    where
        I: IntoIterator<Item = (&'a StateKey, &'a StateValue)>,
    {
        self.facts.check(entries)
    }
}
