//! Certificates' signatures are checked as one batch through the scheme, and the ed25519
//! scheme's batch verdicts are its single verdicts.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{Fixture, cert_input, i, v};
use tally_consensus::{Core, Ed25519Scheme, Scheme};
use tally_types::codec::BoundedVec;
use tally_types::{Namespace, Signature, Subject, ValidatorIndex};

/// Counts the scheme's single and batch checks.
struct Batching {
    inner: Ed25519Scheme,
    singles: Rc<Cell<u64>>,
    batches: Rc<Cell<u64>>,
}

impl Scheme for Batching {
    fn sign(&self, namespace: Namespace, payload: &[u8]) -> Signature {
        self.inner.sign(namespace, payload)
    }
    fn verify(
        &self,
        signer: ValidatorIndex,
        namespace: Namespace,
        payload: &[u8],
        signature: &Signature,
    ) -> bool {
        self.singles.set(self.singles.get() + 1);
        self.inner.verify(signer, namespace, payload, signature)
    }
    fn verify_batch(
        &self,
        namespace: Namespace,
        payload: &[u8],
        signed: &[(ValidatorIndex, &Signature)],
    ) -> Vec<bool> {
        self.batches.set(self.batches.get() + 1);
        self.inner.verify_batch(namespace, payload, signed)
    }
}

#[test]
fn ed25519_batch_verdicts_are_its_single_verdicts() {
    let fixture = Fixture::new(7);
    let scheme = fixture.scheme(0);
    let subject = Subject::Nullify { view: v(4) };
    let payload = subject.payload();
    let signatures: Vec<Signature> = (0..7).map(|signer| fixture.vote(signer, subject).signature).collect();
    let other_kind = fixture.vote(3, Subject::Nullify { view: v(5) }).signature;
    let signed: Vec<(ValidatorIndex, &Signature)> = vec![
        (i(0), &signatures[0]),
        (i(1), &signatures[2]), // another validator's signature
        (i(2), &signatures[2]),
        (i(3), &other_kind),    // another subject
        (i(9), &signatures[4]), // not a validator
        (i(4), &signatures[4]),
        (i(6), &signatures[6]),
    ];
    let single: Vec<bool> = signed
        .iter()
        .map(|(signer, signature)| scheme.verify(*signer, Namespace::Nullify, &payload, signature))
        .collect();
    assert_eq!(single, [true, false, true, false, false, true, true]);
    assert_eq!(scheme.verify_batch(Namespace::Nullify, &payload, &signed), single);
    assert_eq!(scheme.verify_batch(Namespace::Notarize, &payload, &signed), vec![false; signed.len()]);
    assert_eq!(scheme.verify_batch(Namespace::Nullify, &payload, &[]), Vec::<bool>::new());
}

#[test]
fn a_certificate_reaches_the_scheme_as_one_batch_and_a_bad_signature_refuses_it() {
    let fixture = Fixture::new(4);
    let singles = Rc::new(Cell::new(0));
    let batches = Rc::new(Cell::new(0));
    let scheme = Batching { inner: fixture.scheme(0), singles: singles.clone(), batches: batches.clone() };
    let mut core = Core::new(fixture.config(0), scheme).expect("valid config");
    core.start();
    let (singles_before, batches_before) = (singles.get(), batches.get());

    // A nullification of view 1 with validator 1's signature in every place: refused, the view
    // stays.
    let mut forged = fixture.nullification(1, &[1, 2, 3]);
    let first = forged.signatures[0];
    forged.signatures = BoundedVec::new(vec![first; 3]).expect("three signatures");
    core.on_input(cert_input(1, forged));
    assert_eq!(core.view(), v(1));
    assert_eq!(batches.get(), batches_before + 1);

    // The honest one moves the core to view 2, checked as one batch, no single checks.
    core.on_input(cert_input(1, fixture.nullification(1, &[1, 2, 3])));
    assert_eq!(core.view(), v(2));
    assert_eq!(batches.get(), batches_before + 2);
    assert_eq!(singles.get(), singles_before);
}
