//! Golden vectors of the messages validators exchange besides consensus ([`tally_types::wire`]).
//!
//! `tests/golden/wire.json` holds, for every example message built below from fixed seeds, its
//! canonical bytes (hex), the BLAKE3 hash of those bytes, and the ids inside it (transaction
//! and block ids). The tests rebuild each message from code and require the file to match
//! exactly, and decode the checked-in bytes with `tally_types::decode` and require the built
//! message back, as `golden.rs` does for the protocol types.
//!
//! To rewrite the file after an intended wire-format change (say so in the change):
//!
//! ```text
//! TALLY_REGENERATE_GOLDEN=1 cargo test -p tally-types --test golden_wire
//! ```
//!
//! Without that variable the tests only compare; they never write.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use tally_types::block::{self, Block, BlockId, Header, ParentLink};
use tally_types::codec::{Bounded, BoundedBytes, BoundedVec, decode, encode};
use tally_types::consensus::{Certificate, Subject, ValidatorSet};
use tally_types::hash::{Domain, Hash};
use tally_types::ids::{AssetCode, AssetId, ChainId, Height, MemberId, ValidatorIndex, View};
use tally_types::keys::{SecretKey, Signature};
use tally_types::tx::{Op, SignedTransaction, Transaction, Transfer};
use tally_types::wire::{BlockRequest, BlockResponse, CommittedBlock, TxBatch};
use tally_types::{Amount, limits};

const REGENERATE_VAR: &str = "TALLY_REGENERATE_GOLDEN";

/// The checked-in file, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Vectors {
    about: String,
    chain_id: String,
    values: Vec<ValueVector>,
}

/// A fixed message: its type, canonical bytes, and what is derived from them, all hex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ValueVector {
    name: String,
    type_name: String,
    bytes: String,
    derived: BTreeMap<String, String>,
}

/// Every example message, built once: signing in a debug build is not free.
struct Fixture {
    chain_id: ChainId,
    validators: ValidatorSet,
    tx_batch: TxBatch,
    request_by_id: BlockRequest,
    request_by_height: BlockRequest,
    request_range: BlockRequest,
    committed_block: CommittedBlock,
    response_range: BlockResponse,
    response_range_empty: BlockResponse,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

// Not split: one fixture built top to bottom, each part from the ones above (comments name them).
fn build_fixture() -> Fixture {
    let chain_id = ChainId::new("tally-golden-wire").expect("valid chain id");
    let alice = SecretKey::from_seed(&[2; 32]);
    let bob = SecretKey::from_seed(&[3; 32]);
    let validator_keys: Vec<SecretKey> =
        [[11; 32], [12; 32], [13; 32], [14; 32]].iter().map(SecretKey::from_seed).collect();
    let validators = ValidatorSet::new(validator_keys.iter().map(SecretKey::public_key).collect())
        .expect("4 distinct valid keys");
    let acme = AssetId::new(
        AssetCode::new("ACME").expect("valid code"),
        MemberId::new("acme").expect("valid member id"),
    );
    let transfer = |from: &SecretKey, to: &SecretKey, seq: u64, amount: u128| {
        Transaction {
            chain_id: chain_id.clone(),
            signer: from.public_key(),
            seq,
            valid_until_height: Height(100),
            ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                asset: acme.clone(),
                to: to.public_key(),
                amount: Amount(amount),
            })])
            .expect("one op"),
            memo: BoundedBytes::empty(),
        }
        .sign(from)
    };
    let tx_batch = TxBatch(vec![transfer(&alice, &bob, 1, 250), transfer(&bob, &alice, 4, 10)]);

    // Two consecutive blocks: block 1 certified by its own finalization, block 2 (empty) by
    // its own too. Roots other than the tx root are fixed stand-ins: the wire carries them, it
    // does not recompute them.
    let genesis = ParentLink {
        id: BlockId(Domain::Genesis.hash(&[b"tally golden wire genesis"])),
        height: Height(0),
        time_ms: 1_767_225_600_000,
    };
    let make_block = |parent: &ParentLink, view: u64, txs: Vec<SignedTransaction>| {
        let ids: Vec<_> = txs.iter().map(SignedTransaction::id).collect();
        let header = Header {
            chain_id: chain_id.clone(),
            height: parent.height.next(),
            view: View(view),
            parent_id: parent.id,
            time_ms: parent.time_ms + 500,
            proposer: validators.leader(View(view)),
            tx_root: block::tx_root(&ids),
            receipts_root: Hash::plain(b"tally golden wire receipts"),
            state_root: Hash::plain(b"tally golden wire state"),
            validators_hash: validators.hash(),
        };
        Block { header, txs: BoundedVec::new(txs).expect("within the block limit") }
    };
    let finalization = |block: &Block| {
        let subject = Subject::Finalize { view: block.header.view, block_id: block.id() };
        let votes: Vec<(ValidatorIndex, Signature)> = [0u16, 1, 3]
            .iter()
            .map(|index| {
                (ValidatorIndex(*index), subject.sign(&chain_id, &validator_keys[usize::from(*index)]))
            })
            .collect();
        Certificate::from_votes(subject, &votes, validators.len()).expect("distinct signers within the set")
    };
    let first = make_block(&genesis, 1, tx_batch.0.clone());
    let second = make_block(&ParentLink::of(&first.header), 2, Vec::new());
    let committed_block = CommittedBlock { certificate: finalization(&first), block: first.clone() };
    let second_committed = CommittedBlock { certificate: finalization(&second), block: second };

    Fixture {
        request_by_id: BlockRequest::ById(first.id()),
        request_by_height: BlockRequest::ByHeight(Height(1)),
        request_range: BlockRequest::Range { from: Height(1), count: limits::SYNC_RANGE_BLOCKS_MAX as u32 },
        response_range: BlockResponse::Range(vec![committed_block.clone(), second_committed]),
        response_range_empty: BlockResponse::Range(Vec::new()),
        committed_block,
        tx_batch,
        validators,
        chain_id,
    }
}

fn value<T: BorshSerialize>(
    name: &str,
    type_name: &str,
    item: &T,
    derived: Vec<(String, String)>,
) -> ValueVector {
    let bytes = encode(item);
    let mut derived: BTreeMap<String, String> = derived.into_iter().collect();
    derived.insert("bytes_blake3".to_owned(), Hash::plain(&bytes).to_hex());
    ValueVector { name: name.to_owned(), type_name: type_name.to_owned(), bytes: hex::encode(bytes), derived }
}

fn committed_derived(prefix: &str, committed: &CommittedBlock) -> Vec<(String, String)> {
    vec![
        (format!("{prefix}block_id"), committed.block.id().to_string()),
        (format!("{prefix}tx_root"), committed.block.header.tx_root.to_hex()),
        (format!("{prefix}signers"), hex::encode(committed.certificate.signers.as_slice())),
    ]
}

/// The vectors as the code produces them now.
fn vectors_from_code(f: &Fixture) -> Vectors {
    let tx_ids = f
        .tx_batch
        .0
        .iter()
        .enumerate()
        .map(|(index, tx)| (format!("tx_id_{index}"), tx.id().to_string()))
        .collect();
    let BlockResponse::Range(range) = &f.response_range;
    let range_derived = range
        .iter()
        .enumerate()
        .flat_map(|(index, committed)| committed_derived(&format!("block_{index}_"), committed))
        .collect();
    let values = vec![
        value("tx_batch", "TxBatch", &f.tx_batch, tx_ids),
        value("block_request_by_id", "BlockRequest", &f.request_by_id, Vec::new()),
        value("block_request_by_height", "BlockRequest", &f.request_by_height, Vec::new()),
        value("block_request_range", "BlockRequest", &f.request_range, Vec::new()),
        value(
            "committed_block",
            "CommittedBlock",
            &f.committed_block,
            committed_derived("", &f.committed_block),
        ),
        value("block_response_range", "BlockResponse", &f.response_range, range_derived),
        value("block_response_range_empty", "BlockResponse", &f.response_range_empty, Vec::new()),
    ];
    Vectors {
        about: format!(
            "Tally golden vectors of the wire messages (tally_types::wire): canonical bytes, their BLAKE3 hash and \
             the ids inside. Checked by node/types/tests/golden_wire.rs; rewrite with {REGENERATE_VAR}=1 cargo test \
             -p tally-types --test golden_wire"
        ),
        chain_id: f.chain_id.to_string(),
        values,
    }
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/wire.json")
}

fn regenerating() -> bool {
    std::env::var(REGENERATE_VAR).is_ok_and(|value| value == "1")
}

fn read_vectors() -> Vectors {
    let path = vectors_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("cannot read {}: {error}; run with {REGENERATE_VAR}=1 to create it", path.display())
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not valid vectors JSON: {error}", path.display()))
}

fn write_vectors(vectors: &Vectors) {
    let path = vectors_path();
    let mut text = serde_json::to_string_pretty(vectors).expect("vectors serialize");
    text.push('\n');
    // Write then rename, so that a test reading the file in parallel never sees half of it.
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text).expect("write the vectors");
    std::fs::rename(&temporary, &path).expect("move the vectors into place");
}

#[test]
fn wire_vectors_file_matches_code() {
    let built = vectors_from_code(fixture());
    if regenerating() {
        write_vectors(&built);
        return;
    }
    let stored = read_vectors();
    let hint = format!("if the change is intended, rerun with {REGENERATE_VAR}=1 and review the diff");
    assert_eq!(stored.chain_id, built.chain_id, "chain id; {hint}");
    let stored_names: Vec<&str> = stored.values.iter().map(|v| v.name.as_str()).collect();
    let built_names: Vec<&str> = built.values.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(stored_names, built_names, "the list of vectors; {hint}");
    for (stored, built) in stored.values.iter().zip(&built.values) {
        assert_eq!(stored.type_name, built.type_name, "type of `{}`; {hint}", built.name);
        assert_eq!(stored.bytes, built.bytes, "bytes of `{}`; {hint}", built.name);
        assert_eq!(stored.derived, built.derived, "derived values of `{}`; {hint}", built.name);
    }
    assert_eq!(stored, built, "{hint}");
}

/// Decodes `vector.bytes` as `T` with the strict codec and requires `built` back; then
/// requires the same bytes with one more byte, or one byte fewer, to be refused.
fn check_decodes<T>(vector: &ValueVector, built: &T)
where
    T: BorshSerialize + BorshDeserialize + Bounded + PartialEq + Debug,
{
    let bytes = hex::decode(&vector.bytes)
        .unwrap_or_else(|error| panic!("`{}` bytes are not hex: {error}", vector.name));
    assert_eq!(
        Hash::plain(&bytes).to_hex(),
        vector.derived["bytes_blake3"],
        "`{}` bytes do not hash to their checked-in hash",
        vector.name
    );
    match decode::<T>(&bytes) {
        Ok(decoded) => assert_eq!(&decoded, built, "`{}` decodes to a different value", vector.name),
        Err(error) => panic!("checked-in bytes of `{}` do not decode: {error}", vector.name),
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode::<T>(&longer).is_err(), "`{}` with a trailing byte decodes", vector.name);
    assert!(decode::<T>(&bytes[..bytes.len() - 1]).is_err(), "`{}` cut short decodes", vector.name);
}

#[test]
fn checked_in_wire_bytes_decode_to_the_built_messages() {
    let f = fixture();
    // While regenerating, the file may be rewritten under this test; check the new vectors.
    let vectors = if regenerating() { vectors_from_code(f) } else { read_vectors() };
    assert_eq!(vectors.values.len(), 7);
    for vector in &vectors.values {
        match (vector.name.as_str(), vector.type_name.as_str()) {
            ("tx_batch", "TxBatch") => check_decodes(vector, &f.tx_batch),
            ("block_request_by_id", "BlockRequest") => check_decodes(vector, &f.request_by_id),
            ("block_request_by_height", "BlockRequest") => check_decodes(vector, &f.request_by_height),
            ("block_request_range", "BlockRequest") => check_decodes(vector, &f.request_range),
            ("committed_block", "CommittedBlock") => check_decodes(vector, &f.committed_block),
            ("block_response_range", "BlockResponse") => check_decodes(vector, &f.response_range),
            ("block_response_range_empty", "BlockResponse") => check_decodes(vector, &f.response_range_empty),
            (name, type_name) => panic!("vector `{name}` of type `{type_name}` has no decode check"),
        }
    }
}

#[test]
fn example_messages_are_valid() {
    let f = fixture();
    for tx in &f.tx_batch.0 {
        assert_eq!(tx.check_form_and_signature(), Ok(()));
    }
    let BlockResponse::Range(range) = &f.response_range;
    let mut parent = ParentLink {
        id: BlockId(Domain::Genesis.hash(&[b"tally golden wire genesis"])),
        height: Height(0),
        time_ms: 1_767_225_600_000,
    };
    for committed in range {
        let header = &committed.block.header;
        assert_eq!(header.check_child_of(&parent, &f.chain_id, &f.validators.hash()), Ok(()));
        assert_eq!(committed.certificate.verify(&f.chain_id, &f.validators), Ok(()));
        assert_eq!(committed.certificate.subject.block_id(), Some(committed.block.id()));
        parent = ParentLink::of(header);
    }
    assert_eq!(range[0], f.committed_block);
    assert_eq!(f.request_by_id, BlockRequest::ById(f.committed_block.block.id()));
}
