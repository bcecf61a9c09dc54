//! Signature schemes for simulated validators: real ed25519 (the production
//! [`Ed25519Scheme`]) or a fast deterministic stand-in for most seeds.
//!
//! The fast scheme is a keyed blake3 MAC over exactly the bytes ed25519 would sign
//! (`namespace || chain id || payload`), stretched to 64 bytes. Every simulated host can
//! compute every key, so it is no signature at all against a real attacker; it is sound in
//! the simulator because Byzantine actors are simulator code that signs only with their own
//! validator's key, and it keeps the property the core relies on: a signature verifies only
//! for the signer, namespace, chain and payload it was made for.

use std::sync::Arc;

use tally_consensus::{Ed25519Scheme, Scheme};
use tally_types::keys::signing_message;
use tally_types::{ChainId, Namespace, PublicKey, SecretKey, Signature, ValidatorIndex, ValidatorSet};

/// Which scheme a run signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeKind {
    /// Keyed blake3: microseconds per signature, for most seeds.
    Fast,
    /// Real ed25519 (ZIP-215, weak keys refused), as in production.
    Ed25519,
}

/// The fast deterministic scheme for one validator.
#[derive(Clone, Debug)]
pub struct FastScheme {
    me: ValidatorIndex,
    chain_id: ChainId,
    keys: Arc<Vec<[u8; 32]>>,
}

impl FastScheme {
    fn mac(&self, key: &[u8; 32], namespace: Namespace, payload: &[u8]) -> Signature {
        let message = signing_message(namespace, &self.chain_id, payload);
        let mut out = [0u8; 64];
        blake3::Hasher::new_keyed(key).update(&message).finalize_xof().fill(&mut out);
        Signature(out)
    }
}

impl Scheme for FastScheme {
    fn sign(&self, namespace: Namespace, payload: &[u8]) -> Signature {
        self.mac(&self.keys[usize::from(self.me.0)], namespace, payload)
    }

    fn verify(
        &self,
        signer: ValidatorIndex,
        namespace: Namespace,
        payload: &[u8],
        signature: &Signature,
    ) -> bool {
        match self.keys.get(usize::from(signer.0)) {
            Some(key) => self.mac(key, namespace, payload) == *signature,
            None => false,
        }
    }
}

/// The scheme of one simulated validator: either kind, behind one type so that every host
/// runs the same `Core<SimScheme>`.
#[derive(Clone, Debug)]
pub enum SimScheme {
    Fast(FastScheme),
    Ed25519(Box<Ed25519Scheme>),
}

impl Scheme for SimScheme {
    fn sign(&self, namespace: Namespace, payload: &[u8]) -> Signature {
        match self {
            SimScheme::Fast(scheme) => scheme.sign(namespace, payload),
            SimScheme::Ed25519(scheme) => scheme.sign(namespace, payload),
        }
    }

    fn verify(
        &self,
        signer: ValidatorIndex,
        namespace: Namespace,
        payload: &[u8],
        signature: &Signature,
    ) -> bool {
        match self {
            SimScheme::Fast(scheme) => scheme.verify(signer, namespace, payload, signature),
            SimScheme::Ed25519(scheme) => scheme.verify(signer, namespace, payload, signature),
        }
    }
}

/// The keys of a simulated validator set, and a scheme per validator.
pub struct Keyring {
    kind: SchemeKind,
    chain_id: ChainId,
    validators: ValidatorSet,
    secrets: Vec<SecretKey>,
    fast_keys: Arc<Vec<[u8; 32]>>,
}

impl Keyring {
    /// Keys for `n` validators. They depend only on the validator index, so every run of
    /// every seed uses the same validator set for a given n.
    pub fn new(kind: SchemeKind, chain_id: ChainId, n: usize) -> Self {
        let secrets: Vec<SecretKey> = (0..n)
            .map(|index| {
                let mut material = b"tally-sim validator ".to_vec();
                material.extend_from_slice(&(index as u64).to_le_bytes());
                SecretKey::from_seed(&blake3::derive_key("tally-sim v1 validator key", &material))
            })
            .collect();
        let public: Vec<PublicKey> = secrets.iter().map(SecretKey::public_key).collect();
        let validators = ValidatorSet::new(public).expect("derived keys are valid and distinct, and n >= 4");
        let fast_keys = (0..n)
            .map(|index| blake3::derive_key("tally-sim v1 fast scheme key", &(index as u64).to_le_bytes()))
            .collect();
        Keyring { kind, chain_id, validators, secrets, fast_keys: Arc::new(fast_keys) }
    }

    /// The validator set.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The scheme kind.
    pub fn kind(&self) -> SchemeKind {
        self.kind
    }

    /// The scheme that signs as validator `me`.
    pub fn scheme(&self, me: ValidatorIndex) -> SimScheme {
        match self.kind {
            SchemeKind::Fast => SimScheme::Fast(FastScheme {
                me,
                chain_id: self.chain_id.clone(),
                keys: Arc::clone(&self.fast_keys),
            }),
            SchemeKind::Ed25519 => {
                let scheme = Ed25519Scheme::new(
                    self.chain_id.clone(),
                    self.validators.clone(),
                    self.secrets[usize::from(me.0)].clone(),
                )
                .expect("each derived key is in the validator set");
                SimScheme::Ed25519(Box::new(scheme))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemes_bind_signer_namespace_and_payload() {
        let chain = ChainId::new("tally-sim").expect("valid");
        for kind in [SchemeKind::Fast, SchemeKind::Ed25519] {
            let keyring = Keyring::new(kind, chain.clone(), 4);
            let alice = keyring.scheme(ValidatorIndex(1));
            let signature = alice.sign(Namespace::Notarize, b"subject");
            let verifier = keyring.scheme(ValidatorIndex(0));
            assert!(verifier.verify(ValidatorIndex(1), Namespace::Notarize, b"subject", &signature));
            assert!(!verifier.verify(ValidatorIndex(2), Namespace::Notarize, b"subject", &signature));
            assert!(!verifier.verify(ValidatorIndex(1), Namespace::Finalize, b"subject", &signature));
            assert!(!verifier.verify(ValidatorIndex(1), Namespace::Notarize, b"other", &signature));
            assert!(!verifier.verify(ValidatorIndex(9), Namespace::Notarize, b"subject", &signature));
        }
    }
}
