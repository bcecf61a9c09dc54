//! Golden vectors: the wire format, ids, hashes and signatures of fixed example values.
//!
//! `tests/golden/vectors.json` holds, for every example value built below from fixed seeds,
//! its canonical bytes (hex) and what is derived from them: ids, hashes, signatures, signed
//! messages, addresses. The tests rebuild each value from code and require the file to match
//! exactly, and decode the checked-in bytes with `tally_types::decode` and require the built
//! value back. Any change to an encoding, a hash domain, a signing namespace, the address
//! format or the signature scheme therefore shows up as a failing test and, once accepted, as
//! a reviewable diff of the file. Ed25519 signatures are deterministic (RFC 8032), so they are
//! part of the vectors.
//!
//! To rewrite the file after an intended wire-format change (say so in the change):
//!
//! ```text
//! TALLY_REGENERATE_GOLDEN=1 cargo test -p tally-types --test golden
//! ```
//!
//! Without that variable the tests only compare; they never write.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use tally_types::block::{self, Block, BlockId, Header};
use tally_types::codec::{Bounded, BoundedBytes, BoundedString, BoundedVec, decode, encode};
use tally_types::consensus::{Certificate, CertificateError, Proposal, Subject, ValidatorSet, Vote};
use tally_types::hash::{Domain, Hash, merkle_leaf};
use tally_types::ids::{
    AssetCode, AssetId, ChainId, Currency, Height, ItemName, MemberId, OpId, PlanId, ValidatorIndex, View,
};
use tally_types::keys::{Namespace, SecretKey, Signature, signing_message};
use tally_types::merkle::{self, MerkleProof};
use tally_types::pricing::{
    CreditPack, PlanItem, PlanRef, PricePlan, ReferencePrice, Tier, UnitPrice, UsageLine,
};
use tally_types::receipt::{ErrorCode, Fill, Receipt};
use tally_types::tx::{
    AnchorBadges, AssetFlags, AuthorizeSpend, BadgeCanon, BadgeFormat, Burn, CancelOffer, Grant, GrantKind,
    Hold, IssueAsset, OfferMode, Op, PackRef, PlaceOffer, RetirePlan, RevokeBadge, RewardReason, Settle,
    SignedTransaction, Transaction, Transfer, TxFormError, Void, check_batch,
};
use tally_types::{Amount, Price};

const REGENERATE_VAR: &str = "TALLY_REGENERATE_GOLDEN";

/// The checked-in file, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Vectors {
    about: String,
    chain_id: String,
    keys: Vec<KeyVector>,
    values: Vec<ValueVector>,
}

/// A fixed key: its seed, public key and address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyVector {
    name: String,
    seed: String,
    public_key: String,
    address: String,
}

/// A fixed value: its type, canonical bytes and what is derived from them (ids, hashes,
/// signatures, signed messages), all hex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ValueVector {
    name: String,
    type_name: String,
    bytes: String,
    derived: BTreeMap<String, String>,
}

/// Every example value, built once: signing in a debug build is not free.
struct Fixture {
    chain_id: ChainId,
    /// (name, key), in file order.
    keys: Vec<(&'static str, [u8; 32], SecretKey)>,
    validators: Vec<SecretKey>,
    validator_set: ValidatorSet,
    tx_main: SignedTransaction,
    tx_other_ops: SignedTransaction,
    receipt_with_fill: Receipt,
    receipt_failed: Receipt,
    header: Header,
    block: Block,
    proposal: Proposal,
    notarize: Vote,
    nullify: Vote,
    finalize: Vote,
    finalization: Certificate,
    badge_hashes: Vec<Hash>,
    badge_proof: MerkleProof,
}

fn member(text: &str) -> MemberId {
    MemberId::new(text).expect("fixed member ids are valid")
}

fn asset(code: &str, issuer: &str) -> AssetId {
    AssetId::new(AssetCode::new(code).expect("fixed asset codes are valid"), member(issuer))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

// Not split: one fixture built top to bottom, each part from the ones above (comments name them).
fn build_fixture() -> Fixture {
    let chain_id = ChainId::new("tally-golden").expect("valid chain id");
    let issuer = SecretKey::from_seed(&[1; 32]);
    let alice = SecretKey::from_seed(&[2; 32]);
    let bob = SecretKey::from_seed(&[3; 32]);
    let validator_seeds: [[u8; 32]; 4] = [[11; 32], [12; 32], [13; 32], [14; 32]];
    let validators: Vec<SecretKey> = validator_seeds.iter().map(SecretKey::from_seed).collect();
    let validator_set = ValidatorSet::new(validators.iter().map(SecretKey::public_key).collect())
        .expect("4 distinct valid keys");

    let acme = asset("ACME", "acme");
    let badges: Vec<Hash> =
        [&b"{\"badge\":\"first-commit\"}"[..], b"{\"badge\":\"client-library\"}", b"{\"badge\":\"speaker\"}"]
            .iter()
            .map(|assertion| Hash::plain(assertion))
            .collect();
    let badge_leaves: Vec<Hash> = badges.iter().map(|badge| merkle_leaf(badge.as_bytes())).collect();
    let batch_root = merkle::root_of_leaf_hashes(&badge_leaves);
    let badge_proof = merkle::prove(&badge_leaves, 1).expect("leaf 1 of 3");

    // The ops the issue names: IssueAsset, a reward Grant with a reason, Transfer, PlaceOffer
    // and AnchorBadges with a metadata URI.
    let main_ops = vec![
        Op::IssueAsset(IssueAsset {
            code: AssetCode::new("ACME").expect("valid"),
            scale: 2,
            max_supply: Some(Amount(100_000_000)),
            flags: AssetFlags(0),
        }),
        Op::Grant(Grant {
            grant_id: "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().expect("a uuid is a valid op id"),
            asset: acme.clone(),
            to: alice.public_key(),
            amount: Amount(2_500),
            kind: GrantKind::Reward,
            reason: Some(RewardReason::Other(BoundedString::new("conference talk").expect("short"))),
            external_ref: BoundedString::new("ticket-4711").expect("short"),
            pack: None,
        }),
        Op::Transfer(Transfer { asset: acme.clone(), to: bob.public_key(), amount: Amount(100) }),
        Op::PlaceOffer(PlaceOffer {
            offer_id: OpId([0x0f; 16]),
            sell: acme.clone(),
            buy: asset("BETA", "beta-labs"),
            amount: Amount(500),
            price: Price { numerator: 3, denominator: 2 },
            mode: OfferMode::ImmediateOrCancel,
        }),
        Op::AnchorBadges(AnchorBadges {
            batch_root,
            leaf_count: 3,
            format: BadgeFormat::OpenBadges3,
            canon: BadgeCanon::JcsBlake3,
            metadata_uri: Some(BoundedString::new("https://badges.acme.example/batches/1").expect("short")),
        }),
    ];
    let tx_main = Transaction {
        chain_id: chain_id.clone(),
        signer: issuer.public_key(),
        seq: 1,
        valid_until_height: Height(100),
        ops: BoundedVec::new(main_ops).expect("5 ops"),
        memo: BoundedBytes::new(b"golden vector".to_vec()).expect("short"),
    }
    .sign(&issuer);

    // Every other op variant, so that the whole Op enum is pinned.
    let other_ops = vec![
        Op::Burn(Burn { asset: acme.clone(), amount: Amount(7) }),
        Op::AuthorizeSpend(AuthorizeSpend {
            provider: member("acme"),
            asset: acme.clone(),
            cap: Amount(1_000),
            expires_at_ms: 1_767_312_000_000,
            plan: Some(PlanRef { plan_id: PlanId::new("standard").expect("valid"), version: 2 }),
        }),
        Op::Hold(Hold {
            hold_id: OpId([0x1a; 16]),
            holder: alice.public_key(),
            asset: acme.clone(),
            amount: Amount(300),
            expires_at_ms: 1_767_229_200_000,
        }),
        Op::Settle(Settle {
            hold_id: OpId([0x1a; 16]),
            batch_id: OpId([0x2b; 16]),
            amount: Amount(250),
            usage_root: Hash::plain(b"usage records"),
            lines: BoundedVec::new(vec![
                UsageLine { item: ItemName::new("search.query").expect("valid"), units: 120 },
                UsageLine { item: ItemName::new("tokens.output").expect("valid"), units: 65_536 },
            ])
            .expect("two lines"),
        }),
        Op::Void(Void { hold_id: OpId([0x3c; 16]) }),
        Op::CancelOffer(CancelOffer { offer_id: OpId([0x0f; 16]) }),
        Op::RevokeBadge(RevokeBadge {
            badge_hash: badges[2],
            reason: BoundedString::new("issued in error").expect("short"),
        }),
        Op::PublishPlan(Box::new(golden_plan(&acme))),
        Op::RetirePlan(RetirePlan {
            plan: PlanRef { plan_id: PlanId::new("standard").expect("valid"), version: 1 },
        }),
        Op::Grant(Grant {
            grant_id: OpId([0x4d; 16]),
            asset: acme.clone(),
            to: alice.public_key(),
            amount: Amount(100_000),
            kind: GrantKind::Purchase,
            reason: None,
            external_ref: BoundedString::new("order-1001").expect("short"),
            pack: Some(PackRef {
                plan: PlanRef { plan_id: PlanId::new("standard").expect("valid"), version: 2 },
                pack: ItemName::new("starter").expect("valid"),
            }),
        }),
    ];
    let tx_other_ops = Transaction {
        chain_id: chain_id.clone(),
        signer: alice.public_key(),
        seq: 7,
        valid_until_height: Height(u64::MAX),
        ops: BoundedVec::new(other_ops).expect("10 ops"),
        memo: BoundedBytes::empty(),
    }
    .sign(&alice);

    let receipt_with_fill = Receipt {
        tx_id: tx_main.id(),
        outcome: tally_types::TxOutcome::Success,
        fills: BoundedVec::new(vec![Fill {
            op_index: 3,
            maker_offer: OpId([0x0e; 16]),
            taker_offer: OpId([0x0f; 16]),
            maker: bob.public_key(),
            taker: issuer.public_key(),
            maker_gave: Amount(600),
            taker_gave: Amount(400),
            price: Price { numerator: 3, denominator: 2 },
        }])
        .expect("one fill"),
    };
    let receipt_failed = Receipt::failed(tx_other_ops.id(), 2, ErrorCode::NoAuthorization);
    let receipts = [receipt_with_fill.clone(), receipt_failed.clone()];

    let header = Header {
        chain_id: chain_id.clone(),
        height: Height(1),
        view: View(1),
        parent_id: BlockId(Domain::Genesis.hash(&[b"tally golden genesis"])),
        time_ms: 1_767_225_600_000,
        proposer: validator_set.leader(View(1)),
        tx_root: block::tx_root(&[tx_main.id(), tx_other_ops.id()]),
        receipts_root: block::receipts_root(&receipts),
        state_root: Hash::plain(b"tally golden state"),
        validators_hash: validator_set.hash(),
    };
    let block = Block {
        header: header.clone(),
        txs: BoundedVec::new(vec![tx_main.clone(), tx_other_ops.clone()]).expect("2 txs"),
    };
    let block_id = block.id();

    let leader = &validators[usize::from(validator_set.leader(View(1)).0)];
    let proposal = Proposal {
        view: View(1),
        parent_view: View(0),
        signature: leader.sign(
            Namespace::Proposal,
            &chain_id,
            &Proposal::payload(View(1), View(0), block_id),
        ),
        block: block.clone(),
    };

    let vote = |subject: Subject, index: u16| Vote {
        subject,
        signer: ValidatorIndex(index),
        signature: subject.sign(&chain_id, &validators[usize::from(index)]),
    };
    let notarize = vote(Subject::Notarize { view: View(1), block_id }, 0);
    let nullify = vote(Subject::Nullify { view: View(2) }, 1);
    let finalize = vote(Subject::Finalize { view: View(1), block_id }, 2);

    // A finalization from validators 0, 2 and 3 (a quorum of 3 out of 4), given out of order
    // to show that the certificate sorts them.
    let finalize_subject = Subject::Finalize { view: View(1), block_id };
    let finalize_votes: Vec<(ValidatorIndex, Signature)> = [3u16, 0, 2]
        .iter()
        .map(|index| {
            (ValidatorIndex(*index), finalize_subject.sign(&chain_id, &validators[usize::from(*index)]))
        })
        .collect();
    let finalization = Certificate::from_votes(finalize_subject, &finalize_votes, validator_set.len())
        .expect("distinct signers within the set");

    let keys = vec![("issuer", [1; 32], issuer), ("alice", [2; 32], alice), ("bob", [3; 32], bob)]
        .into_iter()
        .chain(
            validators
                .iter()
                .zip(validator_seeds)
                .zip(["validator-0", "validator-1", "validator-2", "validator-3"])
                .map(|((key, seed), name)| (name, seed, key.clone())),
        )
        .collect();

    Fixture {
        chain_id,
        keys,
        validators,
        validator_set,
        tx_main,
        tx_other_ops,
        receipt_with_fill,
        receipt_failed,
        header,
        block,
        proposal,
        notarize,
        nullify,
        finalize,
        finalization,
        badge_hashes: badges,
        badge_proof,
    }
}

fn value<T: BorshSerialize>(
    name: &str,
    type_name: &str,
    item: &T,
    derived: &[(&str, String)],
) -> ValueVector {
    ValueVector {
        name: name.to_owned(),
        type_name: type_name.to_owned(),
        bytes: hex::encode(encode(item)),
        derived: derived.iter().map(|(key, text)| ((*key).to_owned(), text.clone())).collect(),
    }
}

fn vote_vector(name: &str, vote: &Vote, chain_id: &ChainId) -> ValueVector {
    let message = signing_message(vote.subject.namespace(), chain_id, &vote.subject.payload());
    value(
        name,
        "Vote",
        vote,
        &[("signing_message", hex::encode(message)), ("signature", vote.signature.to_hex())],
    )
}

/// The vectors as the code produces them now.
// Not split: one list per field of `Vectors`, in the file's order; each is a plain map over the fixture.
fn vectors_from_code(f: &Fixture) -> Vectors {
    let keys = f
        .keys
        .iter()
        .map(|(name, seed, key)| KeyVector {
            name: (*name).to_owned(),
            seed: hex::encode(seed),
            public_key: key.public_key().to_hex(),
            address: key.public_key().to_address(),
        })
        .collect();
    let tx_derived = |tx: &SignedTransaction| {
        vec![
            ("tx_id", tx.id().to_string()),
            ("transaction_bytes", hex::encode(encode(&tx.tx))),
            ("signature", tx.signature.to_hex()),
        ]
    };
    let values = vec![
        value("signed_transaction_main", "SignedTransaction", &f.tx_main, &tx_derived(&f.tx_main)),
        value(
            "signed_transaction_other_ops",
            "SignedTransaction",
            &f.tx_other_ops,
            &tx_derived(&f.tx_other_ops),
        ),
        value(
            "receipt_with_fill",
            "Receipt",
            &f.receipt_with_fill,
            &[("receipt_hash", f.receipt_with_fill.hash().to_hex())],
        ),
        value(
            "receipt_failed",
            "Receipt",
            &f.receipt_failed,
            &[("receipt_hash", f.receipt_failed.hash().to_hex())],
        ),
        value(
            "validator_set",
            "ValidatorSet",
            &f.validator_set,
            &[("validators_hash", f.validator_set.hash().to_hex())],
        ),
        value("header", "Header", &f.header, &[("block_id", f.header.id().to_string())]),
        value(
            "block",
            "Block",
            &f.block,
            &[
                ("block_id", f.block.id().to_string()),
                ("tx_root", f.block.header.tx_root.to_hex()),
                ("receipts_root", f.block.header.receipts_root.to_hex()),
            ],
        ),
        value("proposal", "Proposal", &f.proposal, &[("signature", f.proposal.signature.to_hex())]),
        vote_vector("vote_notarize", &f.notarize, &f.chain_id),
        vote_vector("vote_nullify", &f.nullify, &f.chain_id),
        vote_vector("vote_finalize", &f.finalize, &f.chain_id),
        value(
            "certificate_finalization",
            "Certificate",
            &f.finalization,
            &[("signers", hex::encode(f.finalization.signers.as_slice()))],
        ),
        value(
            "merkle_proof_badge",
            "MerkleProof",
            &f.badge_proof,
            &[
                ("badge_hash", f.badge_hashes[1].to_hex()),
                ("batch_root", merkle::root_of_leaf_hashes(&leaves_of(&f.badge_hashes)).to_hex()),
            ],
        ),
    ];
    Vectors {
        about: format!(
            "Tally golden vectors: canonical bytes, ids, hashes and signatures of fixed example values. \
             Checked by node/types/tests/golden.rs; rewrite with {REGENERATE_VAR}=1 cargo test -p tally-types --test golden"
        ),
        chain_id: f.chain_id.to_string(),
        keys,
        values,
    }
}

fn leaves_of(hashes: &[Hash]) -> Vec<Hash> {
    hashes.iter().map(|hash| merkle_leaf(hash.as_bytes())).collect()
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/vectors.json")
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
    std::fs::create_dir_all(path.parent().expect("the path has a parent")).expect("create tests/golden");
    // Write then rename, so that a test reading the file in parallel never sees half of it.
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text).expect("write the vectors");
    std::fs::rename(&temporary, &path).expect("move the vectors into place");
}

#[test]
fn vectors_file_matches_code() {
    let built = vectors_from_code(fixture());
    if regenerating() {
        write_vectors(&built);
        return;
    }
    let stored = read_vectors();
    let hint = format!("if the change is intended, rerun with {REGENERATE_VAR}=1 and review the diff");
    assert_eq!(stored.chain_id, built.chain_id, "chain id; {hint}");
    assert_eq!(stored.keys, built.keys, "key vectors; {hint}");
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

/// Decodes `vector.bytes` as `T` with the strict codec and requires `built` back.
fn check_decodes<T>(vector: &ValueVector, built: &T)
where
    T: BorshSerialize + BorshDeserialize + Bounded + PartialEq + Debug,
{
    let bytes = hex::decode(&vector.bytes)
        .unwrap_or_else(|error| panic!("`{}` bytes are not hex: {error}", vector.name));
    match decode::<T>(&bytes) {
        Ok(decoded) => assert_eq!(&decoded, built, "`{}` decodes to a different value", vector.name),
        Err(error) => panic!("checked-in bytes of `{}` do not decode: {error}", vector.name),
    }
}

#[test]
fn checked_in_bytes_decode_to_the_built_values() {
    let f = fixture();
    // While regenerating, the file may be rewritten under this test; check the new vectors.
    let vectors = if regenerating() { vectors_from_code(f) } else { read_vectors() };
    assert!(!vectors.values.is_empty());
    for vector in &vectors.values {
        match (vector.name.as_str(), vector.type_name.as_str()) {
            ("signed_transaction_main", "SignedTransaction") => check_decodes(vector, &f.tx_main),
            ("signed_transaction_other_ops", "SignedTransaction") => check_decodes(vector, &f.tx_other_ops),
            ("receipt_with_fill", "Receipt") => check_decodes(vector, &f.receipt_with_fill),
            ("receipt_failed", "Receipt") => check_decodes(vector, &f.receipt_failed),
            ("validator_set", "ValidatorSet") => check_decodes(vector, &f.validator_set),
            ("header", "Header") => check_decodes(vector, &f.header),
            ("block", "Block") => check_decodes(vector, &f.block),
            ("proposal", "Proposal") => check_decodes(vector, &f.proposal),
            ("vote_notarize", "Vote") => check_decodes(vector, &f.notarize),
            ("vote_nullify", "Vote") => check_decodes(vector, &f.nullify),
            ("vote_finalize", "Vote") => check_decodes(vector, &f.finalize),
            ("certificate_finalization", "Certificate") => check_decodes(vector, &f.finalization),
            ("merkle_proof_badge", "MerkleProof") => check_decodes(vector, &f.badge_proof),
            (name, type_name) => panic!("vector `{name}` of type `{type_name}` has no decode check"),
        }
    }
    // The transaction body inside the signed transaction decodes on its own, too.
    for (name, tx) in
        [("signed_transaction_main", &f.tx_main), ("signed_transaction_other_ops", &f.tx_other_ops)]
    {
        let vector = vectors.values.iter().find(|v| v.name == name).expect("vector present");
        let body = hex::decode(&vector.derived["transaction_bytes"]).expect("hex");
        assert_eq!(decode::<Transaction>(&body).as_ref(), Ok(&tx.tx), "{name}");
        assert_eq!(vector.derived["tx_id"], tx.tx.id().to_string(), "{name}");
    }
}

#[test]
fn keys_round_trip_through_their_text_forms() {
    for (name, seed, key) in &fixture().keys {
        let public = key.public_key();
        assert_eq!(public.validate(), Ok(()), "{name}");
        assert_eq!(public.to_address().parse(), Ok(public), "{name}");
        assert_eq!(public.to_hex().parse(), Ok(public), "{name}");
        assert_eq!(*key.seed(), *seed, "{name}");
    }
}

#[test]
fn transactions_are_well_formed_and_signed() {
    let f = fixture();
    for tx in [&f.tx_main, &f.tx_other_ops] {
        assert_eq!(tx.check_form_and_signature(), Ok(()));
        // The signature covers `Tx || chain || encoded body`, nothing else.
        let message = signing_message(Namespace::Tx, &f.chain_id, &encode(&tx.tx));
        assert_eq!(tx.tx.signer.verify_raw(&message, &tx.signature), Ok(()));
        // Any change to the body breaks the signature, and changes the id.
        let mut tampered = tx.clone();
        tampered.tx.seq += 1;
        assert_eq!(tampered.check_form_and_signature(), Err(TxFormError::BadSignature));
        assert_ne!(tampered.id(), tx.id());
        // The same body on another chain is a different signed message.
        let mut other_chain = tx.clone();
        other_chain.tx.chain_id = ChainId::new("tally-other").expect("valid");
        assert_eq!(other_chain.check_form_and_signature(), Err(TxFormError::BadSignature));
        // The batch check agrees, wherever the bad one stands.
        assert_eq!(
            check_batch(&[tampered, tx.clone(), other_chain]),
            [Err(TxFormError::BadSignature), Ok(()), Err(TxFormError::BadSignature)]
        );
    }
}

#[test]
fn consensus_messages_verify_against_the_validator_set() {
    let f = fixture();
    for vote in [&f.notarize, &f.nullify, &f.finalize] {
        assert_eq!(vote.verify(&f.chain_id, &f.validator_set), Ok(()), "{vote:?}");
        let mut wrong_signer = (*vote).clone();
        wrong_signer.signer = ValidatorIndex((vote.signer.0 + 1) % 4);
        assert_eq!(
            wrong_signer.verify(&f.chain_id, &f.validator_set),
            Err(CertificateError::BadSignature(wrong_signer.signer))
        );
    }
    // A notarize signature is not a finalize signature for the same block and view.
    let mut as_finalize = f.notarize.clone();
    as_finalize.subject = Subject::Finalize { view: View(1), block_id: f.block.id() };
    assert!(as_finalize.verify(&f.chain_id, &f.validator_set).is_err());

    assert_eq!(f.proposal.verify(&f.chain_id, &f.validator_set), Ok(()));
    assert_eq!(f.finalization.verify(&f.chain_id, &f.validator_set), Ok(()));
    assert_eq!(f.finalization.signers.as_slice(), &[0b0000_1101]);
    assert_eq!(
        f.finalization.signer_indices(),
        vec![ValidatorIndex(0), ValidatorIndex(2), ValidatorIndex(3)]
    );

    // Two signatures are below the quorum of three.
    let subject = f.finalization.subject;
    let two: Vec<(ValidatorIndex, Signature)> = f
        .finalization
        .signer_indices()
        .into_iter()
        .zip(f.finalization.signatures.iter().copied())
        .take(2)
        .collect();
    let short = Certificate::from_votes(subject, &two, 4).expect("valid arrangement");
    assert_eq!(
        short.verify(&f.chain_id, &f.validator_set),
        Err(CertificateError::NoQuorum { have: 2, need: 3 })
    );

    // Claiming validator 1 signed, with validator 0's signature, is caught.
    let mut forged = f.finalization.clone();
    forged.signers = BoundedBytes::new(vec![0b0000_1110]).expect("one byte");
    assert_eq!(
        forged.verify(&f.chain_id, &f.validator_set),
        Err(CertificateError::BadSignature(ValidatorIndex(1)))
    );

    // The header carries the hash of the set that certified it, and the proposer is the leader.
    assert_eq!(f.header.validators_hash, f.validator_set.hash());
    assert_eq!(f.header.proposer, f.validator_set.leader(f.header.view));
    assert!(f.validators.iter().all(|key| f.validator_set.index_of(&key.public_key()).is_some()));
}

#[test]
fn block_roots_and_badge_proof_are_consistent() {
    let f = fixture();
    let ids: Vec<_> = f.block.txs.iter().map(SignedTransaction::id).collect();
    assert_eq!(f.block.header.tx_root, block::tx_root(&ids));
    assert_eq!(f.block.id(), f.header.id());
    let leaves = leaves_of(&f.badge_hashes);
    let root = merkle::root_of_leaf_hashes(&leaves);
    assert_eq!(f.badge_proof.verify(leaves[1], &root), Ok(()));
    let Op::AnchorBadges(anchor) = &f.tx_main.tx.ops[4] else {
        panic!("op 4 of the main transaction anchors badges")
    };
    assert_eq!(anchor.batch_root, root);
}

/// A price plan with graduated tiers, an allowance and two credit packs.
fn golden_plan(asset: &AssetId) -> PricePlan {
    let item = |name: &str, included_per_hold, tiers: Vec<(Option<u64>, &str)>| PlanItem {
        item: ItemName::new(name).expect("valid"),
        included_per_hold,
        tiers: BoundedVec::new(
            tiers
                .into_iter()
                .map(|(up_to, price)| Tier { up_to, unit_price: UnitPrice::parse(price).expect("valid") })
                .collect(),
        )
        .expect("few tiers"),
    };
    let usd = |text: &str| ReferencePrice::parse(Currency::new("USD").expect("valid"), text).expect("valid");
    PricePlan {
        plan_id: PlanId::new("standard").expect("valid"),
        version: 2,
        asset: asset.clone(),
        title: BoundedString::new("Standard: pay as you go").expect("short"),
        items: BoundedVec::new(vec![
            item("search.query", 1_000, vec![(Some(1_000_000), "2"), (None, "1.5")]),
            item("tokens.output", 0, vec![(None, "0.002")]),
        ])
        .expect("two items"),
        packs: BoundedVec::new(vec![
            CreditPack {
                name: ItemName::new("large").expect("valid"),
                credits: Amount(1_000_000),
                price: usd("90.00"),
            },
            CreditPack {
                name: ItemName::new("starter").expect("valid"),
                credits: Amount(100_000),
                price: usd("10.00"),
            },
        ])
        .expect("two packs"),
    }
}
