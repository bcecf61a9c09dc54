//! The explorer's indexes in node.redb: what an account's history, a market's trades and a
//! provider's figures need, written in the same write transaction as the blocks they describe
//! ([`crate::Store::commit_blocks`]), so an index never runs ahead of or behind the chain.
//!
//! | table | key | value |
//! |---|---|---|
//! | `account_postings` | (slice, height) | the block's account entries of one slice of accounts (the first 4 bits of the account) not yet in `account_txs`: 37 bytes each, account, tx index (big-endian u32), roles |
//! | `account_txs` | (account, height, tx index) | roles: 1 signer, 2 recipient (grant, transfer, hold, settle, void of its hold), 4 maker of a fill |
//! | `market_fills` | (market, height, tx index, fill index) | encoded [`FillRecord`] |
//! | `figures` | text key (below) | a u128 counter |
//! | `badge_revocations` | badge hash | (member, height) |
//!
//! A market is named by its two assets in text order, `A/B` ([`market_key`]), whichever side
//! the taker was on. Figure keys are text so that one prefix walk reads one provider:
//! `m/{member}/{asset}/{purchase|reward|promo|burned|settled_batches|settled_amount}`,
//! `m/{member}/-/{badge_batches|badge_leaves|badges_revoked}`, `r/{member}/{asset}/{reason}`
//! (reward totals by reason), `d/{member}/{asset}/{day}/{reason}` (rewards by reason per UTC day of
//! block time, the day as 10 digits) and `h/{asset}` (accounts holding a non-zero balance).
//!
//! **Why account entries wait in `account_postings`.** An account's history is keyed by account,
//! so a block of transfers between many accounts lands its entries all over `account_txs`; in
//! redb's copy-on-write B-tree every commit would then rewrite most of that table's leaves
//! (measured: a fifth of the node's throughput at 10,000 accounts, and growing with the
//! file). So a commit appends the block's entries under (slice, height), one sequential
//! insert per slice of accounts, and once [`POSTINGS_MERGE_AT`] entries wait, each commit
//! moves one slice's waiting entries (the slices in turn) into `account_txs` in key order: a
//! merge rewrites each leaf of that slice's part of `account_txs` at most once, and no commit
//! does more than a sixteenth of the work. All of it happens inside the block's write
//! transaction: a crash leaves either the group with its postings (merged or not) or neither.
//! Reads look in both tables ([`Store::account_history`], [`Store::account_txs_at`]);
//! `meta.postings_pending` counts the waiting entries and `meta.postings_next_slice` names the
//! slice the next merge takes.
//!
//! Only successful transactions change anything but the signer's history: a failed one's ops
//! had no effect. The indexes hold what was committed since [`crate::Store::index_from`]; a file
//! raised from schema 2 has them only from the height it was raised at (holder counts are
//! recounted from the state then, since they describe the state, not history).

use std::ops::Bound;

use redb::{ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use tally_ledger::state::HoldState;
use tally_ledger::{StateKey, StateValue};
use tally_types::codec::{Bounded, decode, encode};
use tally_types::receipt::{Fill, TxOutcome};
use tally_types::tx::GrantKind;
use tally_types::{AssetId, Block, Hash, Height, Op, PublicKey, Receipt};

use crate::{Store, StoreError};

pub(crate) const ACCOUNT_TXS: TableDefinition<(&[u8; 32], u64, u32), u8> =
    TableDefinition::new("account_txs");
pub(crate) const ACCOUNT_POSTINGS: TableDefinition<(u8, u64), &[u8]> =
    TableDefinition::new("account_postings");

/// How many slices the accounts fall in for postings: by the account's first 4 bits.
pub const POSTING_SLICES: u8 = 16;

/// The postings slice of `account`.
fn slice_of(account: &[u8; 32]) -> u8 {
    account[0] >> 4
}

/// The bytes of one posting: account (32), tx index (big-endian u32), roles (1).
const POSTING_BYTES: usize = 37;

/// How many account entries may wait in `account_postings` before commits start merging them
/// into `account_txs`, one slice per commit: a slice then holds about 16,384 entries when it is
/// merged, and a history read scans at most about that many of its slice (600 KB).
pub const POSTINGS_MERGE_AT: u64 = 262_144;
pub(crate) const MARKET_FILLS: TableDefinition<(&str, u64, u32, u32), &[u8]> =
    TableDefinition::new("market_fills");
pub(crate) const FIGURES: TableDefinition<&str, u128> = TableDefinition::new("figures");
pub(crate) const BADGE_REVOCATIONS: TableDefinition<&[u8; 32], (&str, u64)> =
    TableDefinition::new("badge_revocations");

/// The account signed the transaction.
pub const ROLE_SIGNER: u8 = 1;
/// The account received something from it (grant, transfer) or is the holder of a hold it
/// placed, settled or voided.
pub const ROLE_RECIPIENT: u8 = 2;
/// The account's resting offer traded with it.
pub const ROLE_MAKER: u8 = 4;

/// Milliseconds in a UTC day, for the per-day reward figures.
const DAY_MS: u64 = 86_400_000;

/// One trade as the market index keeps it.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct FillRecord {
    pub height: Height,
    pub tx_index: u32,
    pub fill_index: u32,
    /// The block's time.
    pub time_ms: u64,
    /// What the taker sold (the maker bought), and what the taker bought.
    pub taker_sell: AssetId,
    pub taker_buy: AssetId,
    pub fill: Fill,
}

impl Bounded for FillRecord {
    // Two asset ids (≤ 12 + 1 + 32 bytes each with their lengths), a fill (~150 bytes), numbers.
    const MAX_ENCODED_SIZE: usize = 1_024;
}

/// One transaction of an account's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub height: Height,
    pub tx_index: u32,
    /// [`ROLE_SIGNER`], [`ROLE_RECIPIENT`], [`ROLE_MAKER`], or'ed.
    pub roles: u8,
}

/// The name of the market between `a` and `b`: both assets in text order, `A/B`.
pub fn market_key(a: &AssetId, b: &AssetId) -> String {
    let (a, b) = (a.to_string(), b.to_string());
    if a <= b { format!("{a}/{b}") } else { format!("{b}/{a}") }
}

/// The first byte of every encoded balance key (the `StateKey` variant's tag).
fn balance_tag() -> u8 {
    let sample = StateKey::balance(PublicKey([0; 32]), "AA@aa".parse().expect("a valid asset id"));
    sample.to_bytes()[0]
}

/// The tags of badge anchor and badge revocation keys: only those state writes are decoded.
fn badge_tags() -> [u8; 2] {
    let anchor = StateKey::BadgeAnchor { batch_root: Hash([0; 32]) };
    let revocation = StateKey::BadgeRevocation {
        member: "aa".parse().expect("a valid member id"),
        badge_hash: Hash([0; 32]),
    };
    [anchor.to_bytes()[0], revocation.to_bytes()[0]]
}

/// The index tables, open in one write transaction.
pub(crate) struct IndexTables<'t> {
    account_txs: Table<'t, (&'static [u8; 32], u64, u32), u8>,
    postings: Table<'t, (u8, u64), &'static [u8]>,
    fills: Table<'t, (&'static str, u64, u32, u32), &'static [u8]>,
    figures: Table<'t, &'static str, u128>,
    revocations: Table<'t, &'static [u8; 32], (&'static str, u64)>,
}

impl<'t> IndexTables<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self, redb::Error> {
        Ok(IndexTables {
            account_txs: txn.open_table(ACCOUNT_TXS)?,
            postings: txn.open_table(ACCOUNT_POSTINGS)?,
            fills: txn.open_table(MARKET_FILLS)?,
            figures: txn.open_table(FIGURES)?,
            revocations: txn.open_table(BADGE_REVOCATIONS)?,
        })
    }

    fn add(&mut self, key: &str, amount: u128) -> Result<(), redb::Error> {
        let old = self.figures.get(key)?.map(|value| value.value()).unwrap_or(0);
        // A counter of amounts already bounded by u128 supplies; saturating only guards a bug.
        self.figures.insert(key, old.saturating_add(amount))?;
        Ok(())
    }

    fn subtract(&mut self, key: &str, amount: u128) -> Result<(), redb::Error> {
        let old = self.figures.get(key)?.map(|value| value.value()).unwrap_or(0);
        let new = old.saturating_sub(amount);
        if new == 0 {
            self.figures.remove(key)?;
        } else {
            self.figures.insert(key, new)?;
        }
        Ok(())
    }

    /// Applies `writes` to `state` and counts the holders that appear or disappear with them.
    /// redb's insert and remove return the value they replace, so whether a balance existed
    /// before costs no extra read.
    pub(crate) fn apply_state_writes(
        &mut self,
        state: &mut redb::Table<&'static [u8], &'static [u8]>,
        writes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), redb::Error> {
        let tag = balance_tag();
        for (key, value) in writes {
            let existed = match value {
                Some(value) => state.insert(key.as_slice(), value.as_slice())?.is_some(),
                None => state.remove(key.as_slice())?.is_some(),
            };
            if key.first() != Some(&tag) || existed == value.is_some() {
                continue;
            }
            let Ok(StateKey::Balance { asset, .. }) = StateKey::from_bytes(key) else { continue };
            // The state is canonical: a balance of zero available and zero locked is deleted.
            let figure = format!("h/{asset}");
            if value.is_some() { self.add(&figure, 1)? } else { self.subtract(&figure, 1)? }
        }
        Ok(())
    }

    /// Counts holders that appear or disappear with `writes`; called before the writes are
    /// applied to `state`, whose current entries say who held before.
    pub(crate) fn count_holders(
        &mut self,
        state: &impl ReadableTable<&'static [u8], &'static [u8]>,
        writes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), redb::Error> {
        let tag = balance_tag();
        for (key, value) in writes {
            if key.first() != Some(&tag) {
                continue;
            }
            let Ok(StateKey::Balance { asset, .. }) = StateKey::from_bytes(key) else { continue };
            let before = state.get(key.as_slice())?.is_some();
            // The state is canonical: a balance of zero available and zero locked is deleted.
            let after = value.is_some();
            let figure = format!("h/{asset}");
            match (before, after) {
                (false, true) => self.add(&figure, 1)?,
                (true, false) => self.subtract(&figure, 1)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Indexes one committed block; called after its state writes are applied to `state`, so
    /// that the holds its settlements and voids name can be read. Returns how many account
    /// entries it left waiting in `account_postings`.
    pub(crate) fn record_block(
        &mut self,
        state: &impl ReadableTable<&'static [u8], &'static [u8]>,
        block: &Block,
        receipts: &[Receipt],
        state_writes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<u64, StoreError> {
        let day = block.header.time_ms / DAY_MS;
        let mut postings: Vec<Vec<u8>> = vec![Vec::new(); usize::from(POSTING_SLICES)];
        for (tx_index, (tx, receipt)) in block.txs.iter().zip(receipts).enumerate() {
            let tx_index = tx_index as u32;
            let mut touched: Vec<(PublicKey, u8)> = vec![(tx.tx.signer, ROLE_SIGNER)];
            if receipt.outcome == TxOutcome::Success {
                for op in tx.tx.ops.iter() {
                    self.record_op(state, op, day, &mut touched)?;
                }
                self.record_fills(block, tx_index, receipt, &mut touched)?;
            }
            add_postings(&mut postings, tx_index, touched);
        }
        let mut count = 0;
        for (slice, bytes) in postings.iter().enumerate() {
            if !bytes.is_empty() {
                count += bytes.len() / POSTING_BYTES;
                self.postings
                    .insert((slice as u8, block.header.height.0), bytes.as_slice())
                    .map_err(|error| index_error(error.into()))?;
            }
        }
        self.record_badges(block.header.height.0, state_writes)?;
        Ok(count as u64)
    }

    /// The provider figures one op of a successful transaction adds to (grants by kind and
    /// reason, per `day` too; burns; settlements), and the accounts it touches besides its
    /// signer.
    fn record_op(
        &mut self,
        state: &impl ReadableTable<&'static [u8], &'static [u8]>,
        op: &Op,
        day: u64,
        touched: &mut Vec<(PublicKey, u8)>,
    ) -> Result<(), StoreError> {
        match op {
            Op::Grant(grant) => {
                touched.push((grant.to, ROLE_RECIPIENT));
                let member = &grant.asset.issuer;
                let asset = &grant.asset;
                let amount = grant.amount.0;
                let kind = match grant.kind {
                    GrantKind::Purchase => "purchase",
                    GrantKind::Reward => "reward",
                    GrantKind::Promo => "promo",
                };
                self.add(&format!("m/{member}/{asset}/{kind}"), amount).map_err(index_error)?;
                if let Some(reason) = &grant.reason {
                    let reason = reason_name(reason);
                    self.add(&format!("r/{member}/{asset}/{reason}"), amount).map_err(index_error)?;
                    self.add(&format!("d/{member}/{asset}/{day:010}/{reason}"), amount)
                        .map_err(index_error)?;
                }
            }
            Op::Transfer(transfer) => touched.push((transfer.to, ROLE_RECIPIENT)),
            Op::Burn(burn) => {
                let member = &burn.asset.issuer;
                self.add(&format!("m/{member}/{}/burned", burn.asset), burn.amount.0).map_err(index_error)?;
            }
            Op::Hold(hold) => touched.push((hold.holder, ROLE_RECIPIENT)),
            Op::Settle(_) | Op::SettleApp(_) => {
                let settle = match op {
                    Op::SettleApp(settle_app) => &settle_app.settle,
                    Op::Settle(settle) => settle,
                    _ => unreachable!("matched Settle or SettleApp above"),
                };
                if let Some(hold) = read_hold(state, settle.hold_id)? {
                    touched.push((hold.holder, ROLE_RECIPIENT));
                    let member = &hold.member;
                    let asset = &hold.asset;
                    self.add(&format!("m/{member}/{asset}/settled_batches"), 1).map_err(index_error)?;
                    self.add(&format!("m/{member}/{asset}/settled_amount"), settle.amount.0)
                        .map_err(index_error)?;
                }
            }
            Op::Void(void) => {
                if let Some(hold) = read_hold(state, void.hold_id)? {
                    touched.push((hold.holder, ROLE_RECIPIENT));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The fills of transaction `tx_index` of `block` under their market, and their makers as
    /// touched accounts.
    fn record_fills(
        &mut self,
        block: &Block,
        tx_index: u32,
        receipt: &Receipt,
        touched: &mut Vec<(PublicKey, u8)>,
    ) -> Result<(), StoreError> {
        let tx = &block.txs[tx_index as usize];
        let height = block.header.height.0;
        for (fill_index, fill) in receipt.fills.iter().enumerate() {
            touched.push((fill.maker, ROLE_MAKER));
            let Some(Op::PlaceOffer(offer)) = tx.tx.ops.get(usize::from(fill.op_index)) else {
                continue;
            };
            let record = FillRecord {
                height: Height(height),
                tx_index,
                fill_index: fill_index as u32,
                time_ms: block.header.time_ms,
                taker_sell: offer.sell.clone(),
                taker_buy: offer.buy.clone(),
                fill: fill.clone(),
            };
            let market = market_key(&offer.sell, &offer.buy);
            self.fills
                .insert((market.as_str(), height, tx_index, fill_index as u32), encode(&record).as_slice())
                .map_err(|error| index_error(error.into()))?;
        }
        Ok(())
    }

    /// Badge figures and revocations, read from the state writes (anchors and revocations
    /// name the member; the ops do not).
    fn record_badges(
        &mut self,
        height: u64,
        state_writes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        let badge_tags = badge_tags();
        for (key, value) in state_writes {
            let Some(value) = value else { continue };
            if !key.first().is_some_and(|tag| badge_tags.contains(tag)) {
                continue;
            }
            match StateKey::from_bytes(key) {
                Ok(StateKey::BadgeAnchor { .. }) => {
                    if let Ok(StateValue::BadgeAnchor(anchor)) = StateValue::from_bytes(value) {
                        let member = &anchor.member;
                        self.add(&format!("m/{member}/-/badge_batches"), 1).map_err(index_error)?;
                        self.add(&format!("m/{member}/-/badge_leaves"), u128::from(anchor.leaf_count))
                            .map_err(index_error)?;
                    }
                }
                Ok(StateKey::BadgeRevocation { member, badge_hash }) => {
                    self.add(&format!("m/{member}/-/badges_revoked"), 1).map_err(index_error)?;
                    self.revocations
                        .insert(&badge_hash.0, (member.as_str(), height))
                        .map_err(|error| index_error(error.into()))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Moves the waiting postings of `slice` into `account_txs`, in key order, and deletes them
    /// from `account_postings`. Returns how many entries it moved.
    pub(crate) fn merge_slice(&mut self, slice: u8) -> Result<u64, redb::Error> {
        let mut entries: Vec<([u8; 32], u64, u32, u8)> = Vec::new();
        for item in self.postings.range((slice, 0)..=(slice, u64::MAX))? {
            let (key, bytes) = item?;
            let (_, height) = key.value();
            entries.extend(
                decode_postings(bytes.value()).map(|(account, tx, roles)| (account, height, tx, roles)),
            );
        }
        entries.sort_unstable();
        for (account, height, tx_index, roles) in &entries {
            self.account_txs.insert((account, *height, *tx_index), *roles)?;
        }
        self.postings.retain_in((slice, 0)..=(slice, u64::MAX), |_, _| false)?;
        Ok(entries.len() as u64)
    }
}

/// The (account, tx index, roles) entries of one block's postings. A trailing partial entry
/// cannot occur (the writer appends whole entries) and is ignored.
fn decode_postings(bytes: &[u8]) -> impl Iterator<Item = ([u8; 32], u32, u8)> + '_ {
    bytes.chunks_exact(POSTING_BYTES).map(|entry| {
        let mut account = [0u8; 32];
        account.copy_from_slice(&entry[..32]);
        let tx_index = u32::from_be_bytes([entry[32], entry[33], entry[34], entry[35]]);
        (account, tx_index, entry[36])
    })
}

/// A reward reason as a figure key part.
fn reason_name(reason: &tally_types::tx::RewardReason) -> String {
    use tally_types::tx::RewardReason;
    match reason {
        RewardReason::ClientLibrary => "client_library".into(),
        RewardReason::HowToGuide => "how_to_guide".into(),
        RewardReason::ForumSupport => "forum_support".into(),
        RewardReason::PublishedApplication => "published_application".into(),
        RewardReason::Other(text) => format!("other:{text}"),
    }
}

/// Appends one entry per account `touched` by transaction `tx_index` (an account touched in
/// several roles once, with its roles or-ed) to the postings of the account's slice.
fn add_postings(postings: &mut [Vec<u8>], tx_index: u32, mut touched: Vec<(PublicKey, u8)>) {
    touched.sort_by_key(|(account, _)| account.0);
    let mut merged: Vec<(PublicKey, u8)> = Vec::with_capacity(touched.len());
    for (account, role) in touched {
        match merged.last_mut() {
            Some((last, roles)) if *last == account => *roles |= role,
            _ => merged.push((account, role)),
        }
    }
    for (account, roles) in merged {
        let slice = &mut postings[usize::from(slice_of(&account.0))];
        slice.extend_from_slice(&account.0);
        slice.extend_from_slice(&tx_index.to_be_bytes());
        slice.push(roles);
    }
}

/// A failed write to the index tables.
fn index_error(error: redb::Error) -> StoreError {
    StoreError::Storage { path: std::path::PathBuf::from("node.redb index"), reason: error.to_string() }
}

fn read_hold(
    state: &impl ReadableTable<&'static [u8], &'static [u8]>,
    hold_id: tally_types::OpId,
) -> Result<Option<HoldState>, StoreError> {
    let key = StateKey::Hold { hold_id }.to_bytes();
    let storage = |error: redb::StorageError| StoreError::Storage {
        path: std::path::PathBuf::from("node.redb state"),
        reason: error.to_string(),
    };
    let Some(bytes) = state.get(key.as_slice()).map_err(storage)? else { return Ok(None) };
    match StateValue::from_bytes(bytes.value()) {
        Ok(StateValue::Hold(hold)) => Ok(Some(hold)),
        _ => Ok(None),
    }
}

/// Recounts the holders of every asset from the state (for a file raised from schema 2, whose
/// blocks were committed before holders were counted).
pub(crate) fn recount_holders(
    state: &impl ReadableTable<&'static [u8], &'static [u8]>,
    figures: &mut Table<'_, &'static str, u128>,
) -> Result<(), StoreError> {
    let storage = |error: redb::StorageError| StoreError::Storage {
        path: std::path::PathBuf::from("node.redb state"),
        reason: error.to_string(),
    };
    let tag = balance_tag();
    let mut counts: std::collections::BTreeMap<String, u128> = std::collections::BTreeMap::new();
    for entry in state.range::<&[u8]>([tag].as_slice()..).map_err(storage)? {
        let (key, _) = entry.map_err(storage)?;
        if key.value().first() != Some(&tag) {
            break;
        }
        if let Ok(StateKey::Balance { asset, .. }) = StateKey::from_bytes(key.value()) {
            *counts.entry(format!("h/{asset}")).or_default() += 1;
        }
    }
    for (key, count) in counts {
        figures.insert(key.as_str(), count).map_err(storage)?;
    }
    Ok(())
}

impl Store {
    /// The first height the explorer indexes cover (1 for a file made by this schema).
    pub fn index_from(&self) -> Result<Height, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let meta = txn.open_table(crate::META).map_err(self.storage())?;
        Ok(Height(u64::from_be_bytes(self.meta_array(&meta, crate::META_INDEX_FROM)?)))
    }

    /// Up to `limit` transactions touching `account`, newest first, strictly before `before`
    /// (height, tx index) when given.
    pub fn account_history(
        &self,
        account: &PublicKey,
        before: Option<(Height, u32)>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let below = |height: u64, tx_index: u32| match before {
            Some((before_height, before_index)) => (height, tx_index) < (before_height.0, before_index),
            None => true,
        };
        // The waiting postings of the account's slice first, then as many merged entries as
        // the page can take; together, newest first.
        let mut entries = Vec::new();
        let postings = txn.open_table(ACCOUNT_POSTINGS).map_err(self.storage())?;
        let slice = slice_of(&account.0);
        for item in postings.range((slice, 0)..=(slice, u64::MAX)).map_err(self.storage())? {
            let (key, bytes) = item.map_err(self.storage())?;
            let (_, height) = key.value();
            for (owner, tx_index, roles) in decode_postings(bytes.value()) {
                if owner == account.0 && below(height, tx_index) {
                    entries.push(HistoryEntry { height: Height(height), tx_index, roles });
                }
            }
        }
        let table = txn.open_table(ACCOUNT_TXS).map_err(self.storage())?;
        let end = match before {
            Some((height, index)) => Bound::Excluded((&account.0, height.0, index)),
            None => Bound::Included((&account.0, u64::MAX, u32::MAX)),
        };
        let range = table.range::<(&[u8; 32], u64, u32)>((Bound::Included((&account.0, 0, 0)), end));
        for (taken, item) in range.map_err(self.storage())?.rev().enumerate() {
            if taken == limit {
                break;
            }
            let (key, roles) = item.map_err(self.storage())?;
            let (_, height, tx_index) = key.value();
            entries.push(HistoryEntry { height: Height(height), tx_index, roles: roles.value() });
        }
        entries.sort_unstable_by_key(|entry| std::cmp::Reverse((entry.height, entry.tx_index)));
        entries.truncate(limit);
        Ok(entries)
    }

    /// The transaction indexes at `height` that touch `account`, in block order.
    pub fn account_txs_at(&self, account: &PublicKey, height: Height) -> Result<Vec<u32>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let postings = txn.open_table(ACCOUNT_POSTINGS).map_err(self.storage())?;
        if let Some(bytes) = postings.get((slice_of(&account.0), height.0)).map_err(self.storage())? {
            // A block's postings of one slice are all waiting or all merged.
            let mut indexes: Vec<u32> = decode_postings(bytes.value())
                .filter(|(owner, _, _)| *owner == account.0)
                .map(|(_, tx_index, _)| tx_index)
                .collect();
            indexes.sort_unstable();
            return Ok(indexes);
        }
        let table = txn.open_table(ACCOUNT_TXS).map_err(self.storage())?;
        let range = table
            .range::<(&[u8; 32], u64, u32)>((&account.0, height.0, 0)..=(&account.0, height.0, u32::MAX))
            .map_err(self.storage())?;
        let mut indexes = Vec::new();
        for item in range {
            let (key, _) = item.map_err(self.storage())?;
            indexes.push(key.value().2);
        }
        Ok(indexes)
    }

    /// Up to `limit` trades of `market` ([`market_key`]), newest first, strictly before `before`
    /// (height, tx index, fill index) when given.
    pub fn market_fills(
        &self,
        market: &str,
        before: Option<(Height, u32, u32)>,
        limit: usize,
    ) -> Result<Vec<FillRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(MARKET_FILLS).map_err(self.storage())?;
        let end = match before {
            Some((height, tx, fill)) => Bound::Excluded((market, height.0, tx, fill)),
            None => Bound::Included((market, u64::MAX, u32::MAX, u32::MAX)),
        };
        let range = table
            .range::<(&str, u64, u32, u32)>((Bound::Included((market, 0, 0, 0)), end))
            .map_err(self.storage())?;
        let mut records = Vec::new();
        for item in range.rev() {
            if records.len() == limit {
                break;
            }
            let (key, value) = item.map_err(self.storage())?;
            let (_, height, tx, fill) = key.value();
            let record = decode::<FillRecord>(value.value()).map_err(|error| {
                self.corrupt("market_fills", format!("{market} {height}.{tx}.{fill}"), error)
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// Every figure whose key starts with `prefix`, in key order; at most `limit`, refusing
    /// more ([`StoreError::TooMany`]) rather than cutting a listing short silently.
    pub fn figures(&self, prefix: &str, limit: usize) -> Result<Vec<(String, u128)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(FIGURES).map_err(self.storage())?;
        let mut figures = Vec::new();
        for item in table.range::<&str>(prefix..).map_err(self.storage())? {
            let (key, value) = item.map_err(self.storage())?;
            if !key.value().starts_with(prefix) {
                break;
            }
            if figures.len() == limit {
                return Err(StoreError::TooMany { what: "figures under one prefix", limit });
            }
            figures.push((key.value().to_owned(), value.value()));
        }
        Ok(figures)
    }

    /// The figures with keys in `start..end`, the last `limit` of them in key order, and
    /// whether more came before them: a range of the per-day figures keeps its newest days.
    pub fn figures_between(
        &self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<(Vec<(String, u128)>, bool), StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(FIGURES).map_err(self.storage())?;
        let mut figures = Vec::new();
        let mut more = false;
        for item in table.range::<&str>(start..end).map_err(self.storage())?.rev() {
            if figures.len() == limit {
                more = true;
                break;
            }
            let (key, value) = item.map_err(self.storage())?;
            figures.push((key.value().to_owned(), value.value()));
        }
        figures.reverse();
        Ok((figures, more))
    }

    /// The member that revoked the badge `badge_hash` and the height, if one did.
    pub fn badge_revocation(&self, badge_hash: &Hash) -> Result<Option<(String, Height)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let table = txn.open_table(BADGE_REVOCATIONS).map_err(self.storage())?;
        Ok(table.get(&badge_hash.0).map_err(self.storage())?.map(|value| {
            let (member, height) = value.value();
            (member.to_owned(), Height(height))
        }))
    }

    /// Up to `limit` committed blocks, newest first, strictly below `before` when given.
    pub fn recent_blocks(&self, before: Option<Height>, limit: usize) -> Result<Vec<Block>, StoreError> {
        let txn = self.db.begin_read().map_err(self.storage())?;
        let tip = self.height_in(&txn)?;
        let blocks = txn.open_table(crate::BLOCKS).map_err(self.storage())?;
        let top = match before {
            Some(height) => height.0.saturating_sub(1).min(tip.0),
            None => tip.0,
        };
        let mut found = Vec::new();
        let mut height = top;
        while height >= 1 && found.len() < limit {
            let bytes = blocks
                .get(height)
                .map_err(self.storage())?
                .ok_or_else(|| self.corrupt("blocks", height, "missing at or below the committed height"))?;
            found
                .push(decode::<Block>(bytes.value()).map_err(|error| self.corrupt("blocks", height, error))?);
            height -= 1;
        }
        Ok(found)
    }
}
