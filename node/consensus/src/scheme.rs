//! The signature scheme the core signs and verifies with.
//!
//! Production uses [`Ed25519Scheme`]: tally-types ed25519 keys and their signature rule
//! (ZIP-215, weak keys refused; `tally_types::keys`), a namespace per message kind and the chain
//! id in every signed message (docs/ARCHITECTURE.md "Protocol basics"). It checks the signatures of a certificate as one
//! batch, whose random coefficients come from the OS: they cannot change a verdict (a batch
//! passes exactly when each signature passes alone), so the core stays a deterministic function
//! of its inputs. A simulator may
//! plug a fast deterministic scheme; signatures stay [`Signature`] (64 bytes) either way, so
//! certificates and the wire format do not change with the scheme.

use tally_types::{ChainId, Namespace, SecretKey, Signature, ValidatorIndex, ValidatorSet};

/// Signs as this node and verifies signatures of any validator.
///
/// `payload` is the kind's payload (an encoded [`tally_types::Subject`], or
/// [`tally_types::Proposal::payload`]); the scheme adds the namespace and chain id, so a
/// signature of one kind or chain never verifies as another.
pub trait Scheme {
    /// This node's signature over `payload` in `namespace`.
    fn sign(&self, namespace: Namespace, payload: &[u8]) -> Signature;
    /// Whether `signature` is validator `signer`'s signature over `payload` in `namespace`.
    /// False for an unknown signer.
    fn verify(
        &self,
        signer: ValidatorIndex,
        namespace: Namespace,
        payload: &[u8],
        signature: &Signature,
    ) -> bool;

    /// [`Scheme::verify`] for each `(signer, signature)` over one `payload` in `namespace` (the
    /// signatures of a certificate): one verdict per pair, in order. The default checks them one
    /// by one; a scheme that checks them as a batch must give exactly the same verdicts.
    fn verify_batch(
        &self,
        namespace: Namespace,
        payload: &[u8],
        signed: &[(ValidatorIndex, &Signature)],
    ) -> Vec<bool> {
        signed.iter().map(|(signer, signature)| self.verify(*signer, namespace, payload, signature)).collect()
    }
}

/// Real ed25519 (tally-types keys and their signature rule).
#[derive(Clone, Debug)]
pub struct Ed25519Scheme {
    chain_id: ChainId,
    validators: ValidatorSet,
    key: SecretKey,
}

/// Why an [`Ed25519Scheme`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("the signing key {0} is not in the validator set")]
    NotAValidator(tally_types::PublicKey),
}

impl Ed25519Scheme {
    /// A scheme that signs with `key`, which must belong to a validator of `validators`.
    pub fn new(chain_id: ChainId, validators: ValidatorSet, key: SecretKey) -> Result<Self, SchemeError> {
        let public = key.public_key();
        if validators.index_of(&public).is_none() {
            return Err(SchemeError::NotAValidator(public));
        }
        Ok(Ed25519Scheme { chain_id, validators, key })
    }

    /// The index of the signing key in the validator set.
    pub fn me(&self) -> ValidatorIndex {
        self.validators.index_of(&self.key.public_key()).expect("checked in Ed25519Scheme::new")
    }
}

impl Scheme for Ed25519Scheme {
    fn sign(&self, namespace: Namespace, payload: &[u8]) -> Signature {
        self.key.sign(namespace, &self.chain_id, payload)
    }

    fn verify(
        &self,
        signer: ValidatorIndex,
        namespace: Namespace,
        payload: &[u8],
        signature: &Signature,
    ) -> bool {
        match self.validators.key(signer) {
            Some(key) => key.verify(namespace, &self.chain_id, payload, signature).is_ok(),
            None => false,
        }
    }

    fn verify_batch(
        &self,
        namespace: Namespace,
        payload: &[u8],
        signed: &[(ValidatorIndex, &Signature)],
    ) -> Vec<bool> {
        tally_types::consensus::verify_signed_batch(
            &self.chain_id,
            &self.validators,
            namespace,
            payload,
            signed,
        )
    }
}
