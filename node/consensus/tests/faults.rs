//! The deliberately broken behaviours behind the `test-faults` feature really break the rule
//! they name (the simulator relies on them to show that its oracle catches a faulty core).
#![cfg(feature = "test-faults")]

mod common;

use common::*;
use tally_consensus::{Core, Faults};
use tally_types::Subject;

#[test]
fn notarize_twice_per_view_breaks_r2() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.faults = Faults { notarize_twice_per_view: true, ..Faults::default() };
    let (core, start) = fixture.core_with(config);
    let mut host = Host::new(core, start);
    let a = fixture.block(fixture.genesis, 1, 1);
    let b = fixture.block(fixture.genesis, 1, 2);
    host.input(proposal_input(1, fixture.proposal(a.clone(), 0)));
    host.input(proposal_input(1, fixture.proposal(b.clone(), 0)));
    let signed = signed_subjects(&host.log);
    assert_eq!(
        signed,
        vec![
            Subject::Notarize { view: v(1), block_id: a.id() },
            Subject::Notarize { view: v(1), block_id: b.id() }
        ]
    );
    // Its WAL, with both proposals persisted before their notarizes, restores as broken.
    let mut config = fixture.config(0);
    config.faults = Faults { notarize_twice_per_view: true, ..Faults::default() };
    let restored = Core::restore(config, fixture.scheme(0), host.wal.clone()).expect("restores");
    assert!(restored.block(&a.id()).is_some() && restored.block(&b.id()).is_some());
    assert!(Core::restore(fixture.config(0), fixture.scheme(0), host.wal.clone()).is_err());
}

#[test]
fn skip_nullification_check_breaks_r3() {
    let fixture = Fixture::new(4);
    let mut config = fixture.config(0);
    config.faults = Faults { skip_nullification_check: true, ..Faults::default() };
    let (core, start) = fixture.core_with(config);
    let mut host = Host::new(core, start);
    let b1 = fixture.block(fixture.genesis, 1, 1);
    host.input(proposal_input(1, fixture.proposal(b1.clone(), 0)));
    host.input(cert_input(1, fixture.notarization(&b1, &[1, 2, 3])));
    host.input(cert_input(1, fixture.nullification(2, &[1, 2, 3])));
    // View 3 extends genesis, skipping the notarized, never nullified view 1.
    let b3 = fixture.block(fixture.genesis, 3, 3);
    let effects = host.input(proposal_input(3, fixture.proposal(b3.clone(), 0)));
    assert!(signed_subjects(&effects).contains(&Subject::Notarize { view: v(3), block_id: b3.id() }));
}
