//! Consensus messages checked in this crate, where mutation testing found them untested (the
//! consensus core's tests use them too): a leader's proposal verifies only under the view's
//! leader's key, over exactly its view, parent view and block; a certificate names its signers
//! past the first byte of its bitmap.

use tally_types::block::{receipts_root, tx_root};
use tally_types::codec::BoundedVec;
use tally_types::consensus::{Certificate, CertificateError, Evidence, EvidenceError};
use tally_types::{
    Block, BlockId, ChainId, Hash, Header, Height, Namespace, Proposal, SecretKey, Signature, Subject,
    ValidatorIndex, ValidatorSet, View,
};

fn chain() -> ChainId {
    ChainId::new("tally-proposals").expect("valid")
}

fn keys() -> Vec<SecretKey> {
    (1..=4u8).map(|seed| SecretKey::from_seed(&[seed; 32])).collect()
}

fn validators() -> ValidatorSet {
    ValidatorSet::new(keys().iter().map(SecretKey::public_key).collect()).expect("valid set")
}

fn block(view: View) -> Block {
    let header = Header {
        chain_id: chain(),
        height: Height(1),
        view,
        parent_id: BlockId(Hash([0xaa; 32])),
        time_ms: 1_001,
        proposer: validators().leader(view),
        tx_root: tx_root(&[]),
        receipts_root: receipts_root(&[]),
        state_root: Hash([1; 32]),
        validators_hash: validators().hash(),
    };
    Block { header, txs: BoundedVec::empty() }
}

/// The proposal of `view` signed by validator `signer`.
fn proposal(view: View, signer: ValidatorIndex) -> Proposal {
    let block = block(view);
    let payload = Proposal::payload(view, View(0), block.id());
    let signature = keys()[usize::from(signer.0)].sign(Namespace::Proposal, &chain(), &payload);
    Proposal { view, parent_view: View(0), block, signature }
}

#[test]
fn a_proposal_verifies_under_its_leader_and_nothing_else() {
    let set = validators();
    let view = View(5);
    let leader = set.leader(view);
    proposal(view, leader).verify(&chain(), &set).expect("signed by the leader");

    let other = ValidatorIndex((leader.0 + 1) % 4);
    let by_other = proposal(view, other);
    assert!(
        matches!(by_other.verify(&chain(), &set), Err(CertificateError::BadSignature(signer)) if signer == leader)
    );

    let mut moved = proposal(view, leader);
    moved.parent_view = View(1);
    assert!(moved.verify(&chain(), &set).is_err(), "the parent view is signed");
    let mut changed = proposal(view, leader);
    changed.block.header.state_root = Hash([2; 32]);
    assert!(changed.verify(&chain(), &set).is_err(), "the block is signed");
    let other_chain = ChainId::new("tally-elsewhere").expect("valid");
    assert!(proposal(view, leader).verify(&other_chain, &set).is_err(), "the chain is signed");
    // The same through `verify_with`, with a checker that refuses everything.
    assert!(proposal(view, leader).verify_with(&set, |_, _, _, _| false).is_err());
}

#[test]
fn a_certificate_names_signers_beyond_the_first_byte_of_its_bitmap() {
    let subject = Subject::Nullify { view: View(3) };
    let indices = [0u16, 7, 8, 9, 17, 19];
    let votes: Vec<_> =
        indices.iter().map(|&index| (ValidatorIndex(index), Signature([index as u8; 64]))).collect();
    let certificate = Certificate::from_votes(subject, &votes, 20).expect("distinct indices below 20");
    let named: Vec<u16> = certificate.signer_indices().iter().map(|index| index.0).collect();
    assert_eq!(named, indices);
}

/// A vote of `subject` by validator `signer`.
fn vote(subject: Subject, signer: u16) -> tally_types::Vote {
    let signature = subject.sign(&chain(), &keys()[usize::from(signer)]);
    tally_types::Vote { subject, signer: ValidatorIndex(signer), signature }
}

fn votes(first: tally_types::Vote, second: tally_types::Vote) -> Evidence {
    Evidence::ConflictingVotes { first: Box::new(first), second: Box::new(second) }
}

/// Evidence of equivocation is what an auditor can check alone (`tally audit` reads it from
/// the node): each conflict the core reports proves its signer, and anything else is named.
#[test]
fn evidence_proves_exactly_the_conflicts_the_core_reports() {
    let set = validators();
    let view = View(7);
    let (a, b) = (BlockId(Hash([1; 32])), BlockId(Hash([2; 32])));
    let notarize = |block_id| Subject::Notarize { view, block_id };
    let finalize = |block_id| Subject::Finalize { view, block_id };
    let nullify = Subject::Nullify { view };
    for (first, second) in [
        (notarize(a), notarize(b)),
        (finalize(a), finalize(b)),
        (nullify, finalize(a)),
        (finalize(b), nullify),
    ] {
        assert_eq!(votes(vote(first, 2), vote(second, 2)).verify(&chain(), &set), Ok(ValidatorIndex(2)));
    }
    for (first, second) in
        [(notarize(a), notarize(a)), (notarize(a), nullify), (nullify, nullify), (notarize(a), finalize(a))]
    {
        let verdict = votes(vote(first, 2), vote(second, 2)).verify(&chain(), &set);
        assert!(matches!(verdict, Err(EvidenceError::NoConflict(_))), "{first:?} {second:?}: {verdict:?}");
    }
    let other_view = Subject::Notarize { view: View(8), block_id: b };
    assert!(matches!(
        votes(vote(notarize(a), 2), vote(other_view, 2)).verify(&chain(), &set),
        Err(EvidenceError::Views { .. })
    ));
    assert!(matches!(
        votes(vote(notarize(a), 2), vote(notarize(b), 3)).verify(&chain(), &set),
        Err(EvidenceError::Signers { .. })
    ));
    // A forged second vote: validator 2's name, validator 3's signature.
    let mut forged = vote(notarize(b), 3);
    forged.signer = ValidatorIndex(2);
    assert!(matches!(
        votes(vote(notarize(a), 2), forged).verify(&chain(), &set),
        Err(EvidenceError::Signature { which: "second", .. })
    ));

    // Two proposals of one view by its leader, for different blocks.
    let leader = set.leader(view);
    let first = proposal(view, leader);
    let mut second = proposal(view, leader);
    second.block.header.time_ms += 1;
    second.signature = keys()[usize::from(leader.0)].sign(
        Namespace::Proposal,
        &chain(),
        &Proposal::payload(view, View(0), second.block.id()),
    );
    let two = |first: &Proposal, second: &Proposal| Evidence::ConflictingProposals {
        first: Box::new(first.clone()),
        second: Box::new(second.clone()),
    };
    assert_eq!(two(&first, &second).verify(&chain(), &set), Ok(leader));
    assert!(matches!(two(&first, &first).verify(&chain(), &set), Err(EvidenceError::NoConflict(_))));
    let mut not_leader = second.clone();
    not_leader.signature = keys()[usize::from((leader.0 + 1) % 4)].sign(
        Namespace::Proposal,
        &chain(),
        &Proposal::payload(view, View(0), second.block.id()),
    );
    assert!(matches!(two(&first, &not_leader).verify(&chain(), &set), Err(EvidenceError::Signature { .. })));
    assert_eq!(two(&first, &second).view(), view);
}
