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
use tally_types::{
    Certificate, ChainId, Namespace, PublicKey, SecretKey, Signature, ValidatorIndex, ValidatorSet,
};

/// Which scheme a run signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeKind {
    /// Keyed blake3: microseconds per signature, for most seeds.
    Fast,
    /// Real ed25519 (ZIP-215, weak keys refused), as in production.
    Ed25519,
}

/// The fast deterministic scheme for one validator of one epoch's set.
#[derive(Clone, Debug)]
pub struct FastScheme {
    me: ValidatorIndex,
    chain_id: ChainId,
    /// The MAC key of each validator of the set, by index (derived from its public key, so a
    /// rotated key has a MAC key of its own).
    keys: Arc<Vec<[u8; 32]>>,
    /// Deliberately broken (the oracle's own test): also accepts, for each index, the MAC key
    /// of another set's key at that index, as a core that kept a rotated-out key would.
    also_accept: Option<Arc<Vec<[u8; 32]>>>,
}

impl FastScheme {
    /// The scheme of validator `me` of `validators`.
    fn new(me: ValidatorIndex, chain_id: &ChainId, validators: &ValidatorSet) -> Self {
        FastScheme {
            me,
            chain_id: chain_id.clone(),
            keys: Arc::new(validators.keys().iter().map(fast_key).collect()),
            also_accept: None,
        }
    }

    fn mac(&self, key: &[u8; 32], namespace: Namespace, payload: &[u8]) -> Signature {
        let message = signing_message(namespace, &self.chain_id, payload);
        let mut out = [0u8; 64];
        blake3::Hasher::new_keyed(key).update(&message).finalize_xof().fill(&mut out);
        Signature(out)
    }
}

/// The fast scheme's MAC key of a validator key.
fn fast_key(key: &PublicKey) -> [u8; 32] {
    blake3::derive_key("tally-sim v2 fast scheme key", &key.0)
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
        let index = usize::from(signer.0);
        let stale = self.also_accept.as_ref().and_then(|keys| keys.get(index));
        match self.keys.get(index) {
            Some(key) => {
                self.mac(key, namespace, payload) == *signature
                    || stale.is_some_and(|key| self.mac(key, namespace, payload) == *signature)
            }
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

/// Key generations per validator slot: the genesis key and the keys rotations install.
pub const KEY_GENERATIONS: usize = 4;

/// The keys of a simulated chain's validators: every generation of every slot's consensus key,
/// and a scheme for any validator set made of them.
pub struct Keyring {
    kind: SchemeKind,
    chain_id: ChainId,
    validators: ValidatorSet,
    /// `secrets[slot][generation]`.
    secrets: Vec<Vec<SecretKey>>,
}

impl Keyring {
    /// Keys for `n` genesis validators and `joiners` slots after them (validators governance
    /// adds). They depend only on the slot and generation, so every run of every seed uses the
    /// same genesis set (generation 0 of each of the first `n` slots) for a given n.
    pub fn new(kind: SchemeKind, chain_id: ChainId, n: usize, joiners: usize) -> Self {
        let secrets: Vec<Vec<SecretKey>> = (0..n + joiners)
            .map(|slot| (0..KEY_GENERATIONS).map(|generation| validator_secret(slot, generation)).collect())
            .collect();
        let public: Vec<PublicKey> = secrets[..n].iter().map(|keys| keys[0].public_key()).collect();
        let validators = ValidatorSet::new(public).expect("derived keys are valid and distinct, and n >= 4");
        Keyring { kind, chain_id, validators, secrets }
    }

    /// The genesis validator set.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The scheme kind.
    pub fn kind(&self) -> SchemeKind {
        self.kind
    }

    /// The consensus key of `slot` in its `generation`.
    pub fn secret(&self, slot: ValidatorIndex, generation: usize) -> &SecretKey {
        &self.secrets[usize::from(slot.0)][generation]
    }

    /// Every generation of `slot`'s consensus key (what its host holds).
    pub fn secrets_of(&self, slot: ValidatorIndex) -> Vec<SecretKey> {
        self.secrets[usize::from(slot.0)].clone()
    }

    /// The scheme that signs as validator `me` of the genesis set.
    pub fn scheme(&self, me: ValidatorIndex) -> SimScheme {
        self.scheme_in(&self.validators, self.secret(me, 0)).expect("each genesis key is in the genesis set")
    }

    /// The scheme of the holder of `secret` in `validators`; `None` when the key is not in it.
    pub fn scheme_in(&self, validators: &ValidatorSet, secret: &SecretKey) -> Option<SimScheme> {
        scheme_in(self.kind, &self.chain_id, validators, secret)
    }
}

/// The scheme of kind `kind` of the holder of `secret` in `validators`; `None` when the key is
/// not in the set. (A free function so that an engine's epoch factory can build one.)
pub fn scheme_in(
    kind: SchemeKind,
    chain_id: &ChainId,
    validators: &ValidatorSet,
    secret: &SecretKey,
) -> Option<SimScheme> {
    let me = validators.index_of(&secret.public_key())?;
    Some(match kind {
        SchemeKind::Fast => SimScheme::Fast(FastScheme::new(me, chain_id, validators)),
        SchemeKind::Ed25519 => SimScheme::Ed25519(Box::new(
            Ed25519Scheme::new(chain_id.clone(), validators.clone(), secret.clone())
                .expect("the key is in the validator set"),
        )),
    })
}

impl SimScheme {
    /// Deliberately broken (the oracle's own test of the retired-key rule): a fast scheme that
    /// also accepts, at each index, the signatures of `stale`'s key at that index. An ed25519
    /// scheme is returned as it is.
    pub fn accepting_also(self, stale: &ValidatorSet) -> SimScheme {
        match self {
            SimScheme::Fast(scheme) => SimScheme::Fast(FastScheme {
                also_accept: Some(Arc::new(stale.keys().iter().map(fast_key).collect())),
                ..scheme
            }),
            ed25519 => ed25519,
        }
    }
}

/// Whether `certificate` verifies against `validators` with signatures of kind `kind` (a full
/// node's check of a range it follows; it holds no validator key).
pub fn certificate_verifies(
    kind: SchemeKind,
    chain_id: &ChainId,
    validators: &ValidatorSet,
    certificate: &Certificate,
) -> bool {
    match kind {
        SchemeKind::Ed25519 => certificate.verify(chain_id, validators).is_ok(),
        SchemeKind::Fast => {
            // Any index verifies: signing is not asked of it.
            let scheme = FastScheme::new(ValidatorIndex(0), chain_id, validators);
            certificate
                .verify_with(validators, |signer, namespace, payload, signature| {
                    scheme.verify(signer, namespace, payload, signature)
                })
                .is_ok()
        }
    }
}

/// The consensus key of validator slot `slot` in its `generation` (0: genesis).
fn validator_secret(slot: usize, generation: usize) -> SecretKey {
    let mut material = b"tally-sim validator ".to_vec();
    material.extend_from_slice(&(slot as u64).to_le_bytes());
    if generation > 0 {
        material.extend_from_slice(&(generation as u64).to_le_bytes());
    }
    SecretKey::from_seed(&blake3::derive_key("tally-sim v1 validator key", &material))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemes_bind_signer_namespace_and_payload() {
        let chain = ChainId::new("tally-sim").expect("valid");
        for kind in [SchemeKind::Fast, SchemeKind::Ed25519] {
            let keyring = Keyring::new(kind, chain.clone(), 4, 0);
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

    #[test]
    fn a_rotated_out_key_no_longer_verifies_in_its_slot() {
        let chain = ChainId::new("tally-sim").expect("valid");
        for kind in [SchemeKind::Fast, SchemeKind::Ed25519] {
            let keyring = Keyring::new(kind, chain.clone(), 4, 0);
            let old = keyring.scheme(ValidatorIndex(1));
            let mut keys = keyring.validators().keys().to_vec();
            keys[1] = keyring.secret(ValidatorIndex(1), 1).public_key();
            let rotated = ValidatorSet::new(keys).expect("a valid set");
            let new = keyring.scheme_in(&rotated, keyring.secret(ValidatorIndex(1), 1)).expect("in the set");
            let verifier = keyring.scheme_in(&rotated, keyring.secret(ValidatorIndex(0), 0)).expect("in it");
            let stale = old.sign(Namespace::Notarize, b"subject");
            let fresh = new.sign(Namespace::Notarize, b"subject");
            assert!(!verifier.verify(ValidatorIndex(1), Namespace::Notarize, b"subject", &stale));
            assert!(verifier.verify(ValidatorIndex(1), Namespace::Notarize, b"subject", &fresh));
            assert!(keyring.scheme_in(&rotated, keyring.secret(ValidatorIndex(1), 0)).is_none());
        }
    }
}
