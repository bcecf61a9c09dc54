//! The ledger's state and state tree, backed by the store: [`Snapshot`] implements
//! `tally_ledger::StateRead` and `tally_ledger::tree::TreeStore`, and the write sets the ledger
//! produces become the byte writes of [`crate::BlockCommit`].

use std::ops::Bound;
use tally_ledger::tree::{Node, NodeKey, TreeBatch, TreeError, TreeStore};

use tally_ledger::state::{KeyRange, range_start};
use tally_ledger::{StateError, StateKey, StateRead, StateValue, WriteSet};
use tally_types::AssetId;
use tally_types::codec::{decode, encode};

use crate::{Snapshot, StoreError};

impl StateRead for Snapshot<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        let bytes =
            self.state_get(&key.to_bytes()).map_err(|error| StateError::Backend(error.to_string()))?;
        let Some(bytes) = bytes else { return Ok(None) };
        decode_value(key, &bytes).map(Some)
    }

    fn next_entry(
        &self,
        range: &KeyRange,
        after: Option<&StateKey>,
    ) -> Result<Option<(StateKey, StateValue)>, StateError> {
        let start_key;
        let Some(start) = range_start(range, after) else { return Ok(None) };
        let start = match start {
            Bound::Included(key) => {
                start_key = key.to_bytes();
                Bound::Included(start_key.as_slice())
            }
            Bound::Excluded(key) => {
                start_key = key.to_bytes();
                Bound::Excluded(start_key.as_slice())
            }
            Bound::Unbounded => Bound::Unbounded,
        };
        let last = range.last().to_bytes();
        let found = self.state_next(start, &last).map_err(|error| StateError::Backend(error.to_string()))?;
        let Some((key_bytes, value_bytes)) = found else { return Ok(None) };
        let key = StateKey::from_bytes(&key_bytes).map_err(|error| StateError::Corrupt {
            key: range.first().clone(),
            reason: format!("a key in this range does not decode: {error}"),
        })?;
        if !range.contains(&key) {
            return Err(StateError::Corrupt {
                key,
                reason: "stored inside the byte range of a scan whose keys it does not belong to".into(),
            });
        }
        let value = decode_value(&key, &value_bytes)?;
        Ok(Some((key, value)))
    }
}

/// Every asset in the committed state (their ids), for listings. At most `limit`.
pub fn asset_ids(snapshot: &Snapshot<'_>, limit: usize) -> Result<Vec<AssetId>, StoreError> {
    // The kind is the key's first byte (its borsh variant index); take it from a real key
    // rather than writing the number down.
    let sample = StateKey::Asset { asset: "AA@aa".parse().expect("a valid asset id") };
    let tag = sample.to_bytes()[0];
    let entries = snapshot.state_with_prefix(&[tag], limit)?;
    entries
        .into_iter()
        .map(|(key_bytes, _)| match StateKey::from_bytes(&key_bytes) {
            Ok(StateKey::Asset { asset }) => Ok(asset),
            Ok(other) => Err(corrupt_key(
                snapshot,
                &key_bytes,
                format!("an entry of kind {:?} among assets", other.kind()),
            )),
            Err(error) => Err(corrupt_key(snapshot, &key_bytes, format!("does not decode: {error}"))),
        })
        .collect()
}

fn corrupt_key(snapshot: &Snapshot<'_>, key_bytes: &[u8], reason: String) -> StoreError {
    StoreError::Corrupt {
        path: snapshot.store.path.clone(),
        table: "state",
        key: key_bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
        reason,
    }
}

fn decode_value(key: &StateKey, bytes: &[u8]) -> Result<StateValue, StateError> {
    let value = StateValue::from_bytes(bytes)
        .map_err(|error| StateError::Corrupt { key: key.clone(), reason: error.to_string() })?;
    if value.kind() != key.kind() {
        return Err(StateError::Corrupt {
            key: key.clone(),
            reason: format!("holds a {:?} value", value.kind()),
        });
    }
    Ok(value)
}

impl TreeStore for Snapshot<'_> {
    fn get_node(&self, key: &NodeKey) -> Result<Option<Node>, TreeError> {
        let bytes =
            self.tree_get(key.to_bytes().as_slice()).map_err(|error| TreeError::Store(Box::new(error)))?;
        let Some(bytes) = bytes else { return Ok(None) };
        decode::<Node>(&bytes).map(Some).map_err(|error| TreeError::Store(Box::new(error)))
    }
}

/// The ledger's writes as store writes (`None` deletes).
pub fn state_writes(writes: &WriteSet) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    writes.iter().map(|(key, value)| (key.to_bytes(), value.as_ref().map(StateValue::to_bytes))).collect()
}

/// A tree batch as store writes (`None` deletes).
pub fn tree_writes(batch: &TreeBatch) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let puts = batch.puts.iter().map(|(key, node)| (key.to_bytes().as_slice().to_vec(), Some(encode(node))));
    let deletes = batch.deletes.iter().map(|key| (key.to_bytes().as_slice().to_vec(), None));
    puts.chain(deletes).collect()
}

/// The state tree inside a write transaction: the tree as the blocks applied so far in it left
/// it, so a commit can prove an entry at the height it has just written.
pub(crate) struct TableTree<'a, 't>(pub(crate) &'a redb::Table<'t, &'static [u8], &'static [u8]>);

impl TreeStore for TableTree<'_, '_> {
    fn get_node(&self, key: &NodeKey) -> Result<Option<Node>, TreeError> {
        use redb::ReadableTable;
        let bytes =
            self.0.get(key.to_bytes().as_slice()).map_err(|error| TreeError::Store(Box::new(error)))?;
        let Some(bytes) = bytes else { return Ok(None) };
        decode::<Node>(bytes.value()).map(Some).map_err(|error| TreeError::Store(Box::new(error)))
    }
}

/// The proof of the `Epochs` entry after the block at `height`, when that block ends its epoch
/// (the state schedules an epoch from `height + 1`): `(next epoch number, encoded record)`.
/// `state` and `tree` are the tables of the write transaction after the block's writes.
pub(crate) fn epoch_end_proof(
    state: &redb::Table<&'static [u8], &'static [u8]>,
    tree: &redb::Table<&'static [u8], &'static [u8]>,
    height: tally_types::Height,
) -> Result<Option<(u64, Vec<u8>)>, String> {
    use redb::ReadableTable;
    let key = StateKey::Epochs;
    let Some(bytes) = state.get(key.to_bytes().as_slice()).map_err(|error| error.to_string())? else {
        return Ok(None);
    };
    let value = bytes.value().to_vec();
    let StateValue::Epochs(epochs) = decode_value(&key, &value).map_err(|error| error.to_string())? else {
        return Err("the epochs entry holds another kind of value".to_owned());
    };
    let Some(next) = epochs.pending.iter().find(|epoch| epoch.start_height == height.next()) else {
        return Ok(None);
    };
    let proof =
        tally_ledger::tree::prove(&TableTree(tree), &key.hash()).map_err(|error| error.to_string())?;
    let record = crate::EpochProof { height, value, proof };
    Ok(Some((next.number, borsh::to_vec(&record).expect("encoding into memory cannot fail"))))
}
