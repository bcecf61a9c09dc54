//! Consensus messages: proposals, votes and certificates, and the validator set that signs
//! them (docs/ARCHITECTURE.md "Blocks and consensus"). Only the data and its verification live here; the protocol is in
//! `tally-consensus`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::block::{Block, BlockId};
use crate::codec::{Bounded, BoundedBytes, BoundedVec, encode};
use crate::hash::{Domain, Hash};
use crate::ids::{ChainId, ValidatorIndex, View};
use crate::keys::{Namespace, PublicKey, SecretKey, Signature, SignatureItem, signing_message, verify_batch};
use crate::limits;

/// The validators, in genesis order. Leader of view v is `validators[v mod n]`.
///
/// Every way of making one — [`ValidatorSet::new`], borsh decoding, JSON — runs the same
/// checks, so no code path holds a set with duplicate keys (which would count twice towards a
/// quorum) or with fewer than four validators (an empty set would make every certificate pass).
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, Serialize, Deserialize)]
#[serde(try_from = "UncheckedValidatorSet")]
pub struct ValidatorSet {
    keys: BoundedVec<PublicKey, { limits::VALIDATORS_MAX }>,
}

/// The wire shape of a validator set, before its checks.
#[derive(BorshDeserialize, Deserialize)]
struct UncheckedValidatorSet {
    keys: BoundedVec<PublicKey, { limits::VALIDATORS_MAX }>,
}

impl TryFrom<UncheckedValidatorSet> for ValidatorSet {
    type Error = ValidatorSetError;
    fn try_from(raw: UncheckedValidatorSet) -> Result<Self, Self::Error> {
        ValidatorSet::new(raw.keys.into_inner())
    }
}

impl BorshDeserialize for ValidatorSet {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let raw = UncheckedValidatorSet::deserialize_reader(reader)?;
        ValidatorSet::try_from(raw)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error.to_string()))
    }
}

/// Why a validator set is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("{0} validators; at least {min} are needed (f = ⌊(n − 1)/3⌋ ≥ 1)", min = limits::VALIDATORS_MIN)]
    TooFew(usize),
    #[error("{0} validators; at most {max} are allowed", max = limits::VALIDATORS_MAX)]
    TooMany(usize),
    #[error("validator {0} appears twice")]
    Duplicate(usize),
    #[error("validator {index} key refused: {error}")]
    BadKey { index: usize, error: crate::keys::KeyError },
}

impl ValidatorSet {
    /// Builds and checks a validator set: n ≥ 4, distinct, valid, non-weak keys. Any n works:
    /// with f = ⌊(n − 1)/3⌋ and quorum Q = n − f, two quorums share at least n − 2f ≥ f + 1
    /// validators, so at least one honest one (safety), and the n − f honest validators alone
    /// make a quorum (liveness).
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, ValidatorSetError> {
        let n = keys.len();
        if n < limits::VALIDATORS_MIN {
            return Err(ValidatorSetError::TooFew(n));
        }
        for (index, key) in keys.iter().enumerate() {
            key.validate_strict().map_err(|error| ValidatorSetError::BadKey { index, error })?;
            if keys[..index].contains(key) {
                return Err(ValidatorSetError::Duplicate(index));
            }
        }
        let keys = BoundedVec::new(keys).map_err(|keys| ValidatorSetError::TooMany(keys.len()))?;
        Ok(ValidatorSet { keys })
    }

    /// The keys, in validator-index order.
    pub fn keys(&self) -> &[PublicKey] {
        self.keys.as_slice()
    }

    /// n.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Never true for a checked set.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// f = (n - 1) / 3.
    pub fn max_faulty(&self) -> usize {
        (self.len().saturating_sub(1)) / 3
    }

    /// Q = n - f.
    pub fn quorum(&self) -> usize {
        self.len() - self.max_faulty()
    }

    /// The leader of `view`.
    pub fn leader(&self, view: View) -> ValidatorIndex {
        ValidatorIndex((view.0 % self.len() as u64) as u16)
    }

    /// The key of validator `index`.
    pub fn key(&self, index: ValidatorIndex) -> Option<&PublicKey> {
        self.keys.get(usize::from(index.0))
    }

    /// The position of `key`.
    pub fn index_of(&self, key: &PublicKey) -> Option<ValidatorIndex> {
        self.keys.iter().position(|k| k == key).map(|i| ValidatorIndex(i as u16))
    }

    /// The hash carried in every header.
    pub fn hash(&self) -> Hash {
        Domain::ValidatorSet.hash(&[&encode(self)])
    }
}

impl Bounded for ValidatorSet {
    const MAX_ENCODED_SIZE: usize = limits::VALIDATOR_SET_BYTES_MAX;
}

/// What a vote or certificate is about.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// The block is valid and extends the chain as the view's leader proposed it.
    Notarize { view: View, block_id: BlockId },
    /// The view made no progress here; move on without a block.
    Nullify { view: View },
    /// This validator did not nullify the view in which the block was notarized.
    Finalize { view: View, block_id: BlockId },
}

impl Subject {
    /// The view voted on.
    pub fn view(&self) -> View {
        match *self {
            Subject::Notarize { view, .. } | Subject::Nullify { view } | Subject::Finalize { view, .. } => {
                view
            }
        }
    }

    /// The block voted on, if any.
    pub fn block_id(&self) -> Option<BlockId> {
        match *self {
            Subject::Notarize { block_id, .. } | Subject::Finalize { block_id, .. } => Some(block_id),
            Subject::Nullify { .. } => None,
        }
    }

    /// The signature namespace of this kind of vote.
    pub fn namespace(&self) -> Namespace {
        match self {
            Subject::Notarize { .. } => Namespace::Notarize,
            Subject::Nullify { .. } => Namespace::Nullify,
            Subject::Finalize { .. } => Namespace::Finalize,
        }
    }

    /// The signed payload: the encoded subject.
    pub fn payload(&self) -> Vec<u8> {
        encode(self)
    }

    /// Signs this subject.
    pub fn sign(&self, chain_id: &ChainId, key: &SecretKey) -> Signature {
        key.sign(self.namespace(), chain_id, &self.payload())
    }
}

/// One validator's signed vote.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Vote {
    pub subject: Subject,
    pub signer: ValidatorIndex,
    pub signature: Signature,
}

impl Vote {
    /// Verifies the signature against the validator set.
    pub fn verify(&self, chain_id: &ChainId, validators: &ValidatorSet) -> Result<(), CertificateError> {
        self.verify_with(validators, key_verifier(chain_id, validators))
    }

    /// [`Vote::verify`] with the signature check delegated to `verify` (called as
    /// `verify(signer, namespace, payload, signature)`), for a caller holding its own
    /// signature scheme; the signer must still be in `validators`.
    pub fn verify_with(
        &self,
        validators: &ValidatorSet,
        verify: impl Fn(ValidatorIndex, Namespace, &[u8], &Signature) -> bool,
    ) -> Result<(), CertificateError> {
        validators.key(self.signer).ok_or(CertificateError::UnknownSigner(self.signer))?;
        if verify(self.signer, self.subject.namespace(), &self.subject.payload(), &self.signature) {
            Ok(())
        } else {
            Err(CertificateError::BadSignature(self.signer))
        }
    }
}

/// The verifier behind the `verify` methods of one vote or proposal: the validator's key, the
/// signature rule of [`crate::keys`], the chain id.
fn key_verifier<'a>(
    chain_id: &'a ChainId,
    validators: &'a ValidatorSet,
) -> impl Fn(ValidatorIndex, Namespace, &[u8], &Signature) -> bool + 'a {
    move |signer, namespace, payload, signature| {
        validators.key(signer).is_some_and(|key| key.verify(namespace, chain_id, payload, signature).is_ok())
    }
}

impl Bounded for Vote {
    const MAX_ENCODED_SIZE: usize = 128;
}

/// A leader's proposal for its view: the block, the view of its parent (the highest
/// notarized block this leader extends), and the leader's signature in the `Proposal`
/// namespace over `(view, parent_view, block_id)`.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Proposal {
    pub view: View,
    pub parent_view: View,
    pub block: Block,
    pub signature: Signature,
}

impl Proposal {
    /// The signed payload.
    pub fn payload(view: View, parent_view: View, block_id: BlockId) -> Vec<u8> {
        encode(&(view, parent_view, block_id))
    }

    /// Verifies that the view's leader signed this proposal.
    pub fn verify(&self, chain_id: &ChainId, validators: &ValidatorSet) -> Result<(), CertificateError> {
        self.verify_with(validators, key_verifier(chain_id, validators))
    }

    /// [`Proposal::verify`] with the signature check delegated to `verify` (see
    /// [`Vote::verify_with`]).
    pub fn verify_with(
        &self,
        validators: &ValidatorSet,
        verify: impl Fn(ValidatorIndex, Namespace, &[u8], &Signature) -> bool,
    ) -> Result<(), CertificateError> {
        let leader = validators.leader(self.view);
        validators.key(leader).ok_or(CertificateError::UnknownSigner(leader))?;
        let payload = Self::payload(self.view, self.parent_view, self.block.id());
        if verify(leader, Namespace::Proposal, &payload, &self.signature) {
            Ok(())
        } else {
            Err(CertificateError::BadSignature(leader))
        }
    }
}

impl Bounded for Proposal {
    const MAX_ENCODED_SIZE: usize = limits::BLOCK_BYTES_MAX + 256;
}

/// Q = n − f signatures over one subject: a notarization, nullification or finalization.
/// `signers` is a bitmap over validator indices (bit i of byte i/8, least significant first);
/// `signatures` are in ascending signer order.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Certificate {
    pub subject: Subject,
    pub signers: BoundedBytes<{ limits::VALIDATORS_MAX.div_ceil(8) }>,
    pub signatures: BoundedVec<Signature, { limits::VALIDATORS_MAX }>,
}

/// Proof that a validator signed two conflicting messages. The messages are boxed: evidence
/// is rare, and boxing keeps every consensus `Effect` small.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub enum Evidence {
    /// The view's leader signed two different proposals for the view.
    ConflictingProposals { first: Box<Proposal>, second: Box<Proposal> },
    /// One signer signed, in one view, two notarizes (or two finalizes) for different blocks,
    /// or a nullify and a finalize.
    ConflictingVotes { first: Box<Vote>, second: Box<Vote> },
}

impl Bounded for Evidence {
    const MAX_ENCODED_SIZE: usize = 1 + 2 * Proposal::MAX_ENCODED_SIZE;
}

/// Why a record is not evidence of equivocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the two messages are of views {first} and {second}, not one view")]
    Views { first: View, second: View },
    #[error("the two votes are signed by validators {first} and {second}, not one")]
    Signers { first: ValidatorIndex, second: ValidatorIndex },
    #[error("the two messages do not conflict: {0}")]
    NoConflict(&'static str),
    #[error("the {which} message: {error}")]
    Signature { which: &'static str, error: CertificateError },
}

impl Evidence {
    /// The view both messages are about (the first's; [`Evidence::verify`] checks the second's).
    pub fn view(&self) -> View {
        match self {
            Evidence::ConflictingProposals { first, .. } => first.view,
            Evidence::ConflictingVotes { first, .. } => first.subject.view(),
        }
    }

    /// Checks that this proves equivocation under `validators` (the set of the view's epoch):
    /// both messages are of one view, signed by one validator of the set (a proposal by the
    /// view's leader), with valid signatures, and in conflict — two different proposals; two
    /// notarizes or two finalizes of different blocks; a nullify and a finalize. Returns the
    /// validator it proves faulty.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        validators: &ValidatorSet,
    ) -> Result<ValidatorIndex, EvidenceError> {
        let signature = |which, result: Result<(), CertificateError>| {
            result.map_err(|error| EvidenceError::Signature { which, error })
        };
        match self {
            Evidence::ConflictingProposals { first, second } => {
                if first.view != second.view {
                    return Err(EvidenceError::Views { first: first.view, second: second.view });
                }
                if (first.parent_view, first.block.id()) == (second.parent_view, second.block.id()) {
                    return Err(EvidenceError::NoConflict("one proposal twice"));
                }
                signature("first", first.verify(chain_id, validators))?;
                signature("second", second.verify(chain_id, validators))?;
                Ok(validators.leader(first.view))
            }
            Evidence::ConflictingVotes { first, second } => {
                let (a, b) = (first.subject, second.subject);
                if a.view() != b.view() {
                    return Err(EvidenceError::Views { first: a.view(), second: b.view() });
                }
                if first.signer != second.signer {
                    return Err(EvidenceError::Signers { first: first.signer, second: second.signer });
                }
                let conflict = match (a, b) {
                    (Subject::Notarize { block_id: x, .. }, Subject::Notarize { block_id: y, .. })
                    | (Subject::Finalize { block_id: x, .. }, Subject::Finalize { block_id: y, .. }) => {
                        x != y
                    }
                    (Subject::Nullify { .. }, Subject::Finalize { .. })
                    | (Subject::Finalize { .. }, Subject::Nullify { .. }) => true,
                    _ => false,
                };
                if !conflict {
                    return Err(EvidenceError::NoConflict(
                        "only two notarizes or two finalizes of different blocks, or a nullify and a finalize, conflict",
                    ));
                }
                signature("first", first.verify(chain_id, validators))?;
                signature("second", second.verify(chain_id, validators))?;
                Ok(first.signer)
            }
        }
    }
}

/// Why a vote or certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("signer bitmap is {actual} bytes; {expected} expected for this validator set")]
    BitmapLength { expected: usize, actual: usize },
    #[error("signer bitmap sets bit {0}, beyond the last validator")]
    BitmapBeyondSet(usize),
    #[error("{signers} signers in the bitmap but {signatures} signatures")]
    CountMismatch { signers: usize, signatures: usize },
    #[error("{have} signatures; a quorum of {need} is needed")]
    NoQuorum { have: usize, need: usize },
    #[error("validator {0} is not in the validator set")]
    UnknownSigner(ValidatorIndex),
    #[error("signature of validator {0} does not verify")]
    BadSignature(ValidatorIndex),
    #[error("validator {0} signed twice")]
    DuplicateSigner(ValidatorIndex),
}

impl Certificate {
    /// Assembles a certificate from votes on one subject (any order, no duplicates). The
    /// caller guarantees the votes verified; this only arranges them.
    pub fn from_votes(
        subject: Subject,
        votes: &[(ValidatorIndex, Signature)],
        n: usize,
    ) -> Result<Self, CertificateError> {
        let mut sorted: Vec<(ValidatorIndex, Signature)> = votes.to_vec();
        sorted.sort_by_key(|(index, _)| *index);
        let mut bitmap = vec![0u8; n.div_ceil(8)];
        for window in sorted.windows(2) {
            if window[0].0 == window[1].0 {
                return Err(CertificateError::DuplicateSigner(window[0].0));
            }
        }
        for (index, _) in &sorted {
            let i = usize::from(index.0);
            if i >= n {
                return Err(CertificateError::UnknownSigner(*index));
            }
            bitmap[i / 8] |= 1 << (i % 8);
        }
        let signatures = sorted.into_iter().map(|(_, signature)| signature).collect();
        Ok(Certificate {
            subject,
            signers: BoundedBytes::new(bitmap).map_err(|_| CertificateError::BitmapBeyondSet(n))?,
            signatures: BoundedVec::new(signatures)
                .map_err(|s| CertificateError::CountMismatch { signers: n, signatures: s.len() })?,
        })
    }

    /// The signer indices, ascending.
    pub fn signer_indices(&self) -> Vec<ValidatorIndex> {
        let mut out = Vec::new();
        for (byte_index, byte) in self.signers.as_slice().iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    out.push(ValidatorIndex((byte_index * 8 + bit) as u16));
                }
            }
        }
        out
    }

    /// Verifies the certificate: bitmap shape, a quorum of distinct signers, and every
    /// signature against the validator set, the signatures as one batch
    /// ([`crate::keys::verify_batch`]). A bad signature is reported as
    /// [`Certificate::verify_with`] reports it: the one of the lowest signer.
    pub fn verify(&self, chain_id: &ChainId, validators: &ValidatorSet) -> Result<(), CertificateError> {
        self.verify_batch_with(validators, |namespace, payload, signed| {
            verify_signed_batch(chain_id, validators, namespace, payload, signed)
        })
    }

    /// [`Certificate::verify`] with each signature check delegated to `verify` (see
    /// [`Vote::verify_with`]); the bitmap and quorum checks are the same. Signatures are
    /// checked only after the cheap shape checks pass, and the first bad one stops the check.
    pub fn verify_with(
        &self,
        validators: &ValidatorSet,
        verify: impl Fn(ValidatorIndex, Namespace, &[u8], &Signature) -> bool,
    ) -> Result<(), CertificateError> {
        let signers = self.checked_signers(validators)?;
        let payload = self.subject.payload();
        let namespace = self.subject.namespace();
        for (index, signature) in signers.iter().zip(self.signatures.iter()) {
            if !verify(*index, namespace, &payload, signature) {
                return Err(CertificateError::BadSignature(*index));
            }
        }
        Ok(())
    }

    /// [`Certificate::verify`] with the signature checks delegated, all at once, to
    /// `verify_all` (called as `verify_all(namespace, payload, signed)` with the
    /// `(signer, signature)` pairs in ascending signer order, and returning one verdict per
    /// pair, in order), for a caller whose scheme checks signatures in batches. The bitmap and
    /// quorum checks are the same, and come first.
    ///
    /// # Panics
    /// If `verify_all` returns a different number of verdicts than it was given pairs: that is
    /// a bug in the caller's scheme, not a property of the certificate.
    pub fn verify_batch_with(
        &self,
        validators: &ValidatorSet,
        verify_all: impl FnOnce(Namespace, &[u8], &[(ValidatorIndex, &Signature)]) -> Vec<bool>,
    ) -> Result<(), CertificateError> {
        let signers = self.checked_signers(validators)?;
        let signed: Vec<(ValidatorIndex, &Signature)> =
            signers.iter().copied().zip(self.signatures.iter()).collect();
        let verdicts = verify_all(self.subject.namespace(), &self.subject.payload(), &signed);
        assert_eq!(verdicts.len(), signed.len(), "one verdict per signature");
        match signed.iter().zip(&verdicts).find(|(_, passed)| !**passed) {
            Some(((index, _), _)) => Err(CertificateError::BadSignature(*index)),
            None => Ok(()),
        }
    }

    /// The checks before any signature: bitmap length, no bit beyond the set, one signature
    /// per signer, a quorum. Returns the signers, ascending.
    fn checked_signers(&self, validators: &ValidatorSet) -> Result<Vec<ValidatorIndex>, CertificateError> {
        let n = validators.len();
        let expected = n.div_ceil(8);
        if self.signers.len() != expected {
            return Err(CertificateError::BitmapLength { expected, actual: self.signers.len() });
        }
        let signers = self.signer_indices();
        if let Some(beyond) = signers.iter().find(|index| usize::from(index.0) >= n) {
            return Err(CertificateError::BitmapBeyondSet(usize::from(beyond.0)));
        }
        if signers.len() != self.signatures.len() {
            return Err(CertificateError::CountMismatch {
                signers: signers.len(),
                signatures: self.signatures.len(),
            });
        }
        if signers.len() < validators.quorum() {
            return Err(CertificateError::NoQuorum { have: signers.len(), need: validators.quorum() });
        }
        Ok(signers)
    }
}

/// The batch verifier behind [`Certificate::verify`]: validator `signer`'s signature over
/// `namespace || chain_id || payload`, for every pair at once. An unknown signer fails.
/// `tally-consensus`'s ed25519 scheme uses it for the same check.
pub fn verify_signed_batch(
    chain_id: &ChainId,
    validators: &ValidatorSet,
    namespace: Namespace,
    payload: &[u8],
    signed: &[(ValidatorIndex, &Signature)],
) -> Vec<bool> {
    let message = signing_message(namespace, chain_id, payload);
    let mut verdicts = vec![false; signed.len()];
    let mut known: Vec<usize> = Vec::with_capacity(signed.len());
    let mut items: Vec<SignatureItem<'_>> = Vec::with_capacity(signed.len());
    for (position, (signer, signature)) in signed.iter().enumerate() {
        if let Some(key) = validators.key(*signer) {
            known.push(position);
            items.push(SignatureItem { key, message: &message, signature });
        }
    }
    for (position, verdict) in known.into_iter().zip(verify_batch(&items)) {
        verdicts[position] = verdict.is_ok();
    }
    verdicts
}

impl Bounded for Certificate {
    const MAX_ENCODED_SIZE: usize = limits::CERTIFICATE_BYTES_MAX;
}
