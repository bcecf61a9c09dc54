//! Governance (Propose, CastVote) and the epoch schedule: every rule of
//! `execute/governance.rs` by name, each error code, and what each action does to members,
//! issuers, assets, validators and epochs. `Chain::block` checks every state and history
//! invariant after every block.

mod common;

use common::*;
use tally_ledger::state::{EpochsState, GovernanceState, MemberState, ProposalOutcome, ProposalState};
use tally_ledger::{GenesisAsset, GenesisLedger, GenesisMember, GenesisValidator, StateKey, StateValue};
use tally_types::codec::BoundedString;
use tally_types::governance::{
    Action, ApplicationBody, ApplicationProofs, CastVote, ConsensusParams, Propose, SignedApplication,
    Threshold,
};
use tally_types::tx::{AnchorBadges, AssetFlags, AuthorizeSpend, BadgeCanon, BadgeFormat, Hold};
use tally_types::{Amount, ChainId, ErrorCode, Hash, Height, Op, OpId, PublicKey, SecretKey, limits};

const MEMBERS: [&str; 4] = ["acme", "globex", "initech", "hooli"];

/// Member `index`'s issuer, which is also its governance key.
fn governor(index: usize) -> SecretKey {
    key(100 + index as u8)
}

/// Acme's second issuer key; the smaller of acme's two keys is its governance key.
fn second_acme_issuer() -> SecretKey {
    key(130)
}

/// Consensus and network keys of validator `seed`.
fn validator_keys(seed: u8) -> (SecretKey, SecretKey) {
    (key(150 + seed), key(200 + seed.min(50)))
}

/// Four members with one issuer (its governance key), one asset and one validator each; acme
/// runs a second validator, so there are five and one can leave without losing the quorum.
fn consortium() -> GenesisLedger {
    let mut genesis = GenesisLedger::default();
    for (index, id) in MEMBERS.iter().enumerate() {
        genesis.members.push(GenesisMember {
            id: member(id),
            name: id.to_uppercase(),
            // Acme has a second issuer, which is not its governance key.
            issuers: if index == 0 {
                vec![governor(index).public_key(), second_acme_issuer().public_key()]
            } else {
                vec![governor(index).public_key()]
            },
        });
        genesis.assets.push(GenesisAsset {
            asset: asset(&format!("{}@{id}", id.to_uppercase())),
            scale: 2,
            max_supply: None,
            flags: AssetFlags::default(),
        });
    }
    for (seed, id) in [(0u8, "acme"), (1, "globex"), (2, "initech"), (3, "hooli"), (4, "acme")] {
        let (consensus, network) = validator_keys(seed);
        genesis.validators.push(GenesisValidator {
            member: member(id),
            name: format!("{id}-{seed}"),
            consensus_key: consensus.public_key(),
            network_key: network.public_key(),
            p2p_listen: format!("/ip4/10.0.0.{seed}/tcp/27000"),
            http_listen: format!("10.0.0.{seed}:28000"),
        });
    }
    genesis
}

/// A signed application of `member_id` with issuer `issuer` and validator keys `seed`.
fn application_on(chain_id: ChainId, member_id: &str, issuer: &SecretKey, seed: u8) -> SignedApplication {
    let (consensus, network) = validator_keys(seed);
    let body = ApplicationBody {
        chain_id,
        member: member(member_id),
        member_name: BoundedString::new(member_id.to_uppercase()).expect("short"),
        issuer: issuer.public_key(),
        asset_code: code(&member_id.to_uppercase()),
        asset_scale: 2,
        validator_name: BoundedString::new(format!("{member_id}-{seed}")).expect("short"),
        consensus_key: consensus.public_key(),
        network_key: network.public_key(),
        p2p_listen: BoundedString::new(format!("/ip4/10.0.1.{seed}/tcp/27000")).expect("short"),
        http_listen: BoundedString::new(format!("10.0.1.{seed}:28000")).expect("short"),
    };
    signed_by(body, &consensus, &network, issuer)
}

/// `body` with the three proofs of possession made by the given keys.
fn signed_by(
    body: ApplicationBody,
    consensus: &SecretKey,
    network: &SecretKey,
    issuer: &SecretKey,
) -> SignedApplication {
    let message = body.signing_bytes();
    let proofs = ApplicationProofs {
        consensus: consensus.sign_raw(&message),
        network: network.sign_raw(&message),
        issuer: Some(issuer.sign_raw(&message)),
    };
    SignedApplication { body, proofs }
}

fn application(member_id: &str, issuer: &SecretKey, seed: u8) -> SignedApplication {
    application_on(chain(), member_id, issuer, seed)
}

fn propose(id: u8, action: Action, expires_at_height: u64) -> Op {
    Op::Propose(Box::new(Propose {
        proposal_id: op_id(id),
        action,
        expires_at_height: Height(expires_at_height),
    }))
}

fn vote(id: u8, approve: bool) -> Op {
    Op::CastVote(CastVote { proposal_id: op_id(id), approve })
}

fn proposal(chain: &Chain, id: u8) -> ProposalState {
    match chain.state.value(&StateKey::Proposal { proposal_id: op_id(id) }) {
        Some(StateValue::Proposal(proposal)) => (**proposal).clone(),
        other => panic!("proposal {id}: {other:?}"),
    }
}

fn epochs(chain: &Chain) -> EpochsState {
    match chain.state.value(&StateKey::Epochs) {
        Some(StateValue::Epochs(epochs)) => epochs.clone(),
        other => panic!("epochs: {other:?}"),
    }
}

fn governance(chain: &Chain) -> GovernanceState {
    match chain.state.value(&StateKey::Governance) {
        Some(StateValue::Governance(governance)) => governance.clone(),
        other => panic!("governance: {other:?}"),
    }
}

fn member_state(chain: &Chain, id: &str) -> MemberState {
    match chain.state.value(&StateKey::Member { member: member(id) }) {
        Some(StateValue::Member(state)) => state.clone(),
        other => panic!("member {id}: {other:?}"),
    }
}

fn validators_of(epoch: &tally_ledger::state::EpochConfig) -> Vec<PublicKey> {
    epoch.validators.iter().copied().collect()
}

/// Proposes `action` as acme and has globex and initech vote yes: the third yes of four passes
/// it. Returns the height of the passing vote.
fn pass(chain: &mut Chain, id: u8, action: Action) -> Height {
    chain.ok(&governor(0), vec![propose(id, action, 100)]);
    chain.ok(&governor(1), vec![vote(id, true)]);
    assert_eq!(proposal(chain, id).outcome, ProposalOutcome::Open, "two yes of four is not more than 2/3");
    chain.ok(&governor(2), vec![vote(id, true)]);
    let height = chain.height;
    assert_eq!(proposal(chain, id).outcome, ProposalOutcome::Passed { height });
    height
}

#[test]
fn genesis_records_validators_epoch_zero_and_governance_keys() {
    let chain = Chain::from_genesis(&consortium());
    let epochs = epochs(&chain);
    assert_eq!(epochs.current.number, 0);
    assert_eq!(epochs.current.start_height, Height(1));
    assert_eq!(epochs.current.validators.len(), 5);
    assert_eq!(epochs.current.params, ConsensusParams::default());
    assert!(epochs.pending.is_empty());
    assert_eq!(governance(&chain), GovernanceState { threshold: Threshold::default(), active_members: 4 });
    assert_eq!(member_state(&chain, "globex").governance_key, governor(1).public_key());
}

#[test]
fn add_member_passes_with_more_than_two_thirds_and_takes_effect_two_blocks_later() {
    let mut chain = Chain::from_genesis(&consortium());
    let newcomer = key(120);
    let passed =
        pass(&mut chain, 1, Action::AddMember { application: application("umbrella", &newcomer, 9) });

    // The member, its issuer, its governance key and its asset exist at once.
    let umbrella = member_state(&chain, "umbrella");
    assert!(umbrella.is_active());
    assert_eq!(umbrella.governance_key, newcomer.public_key());
    assert!(chain.asset("UMBRELLA@umbrella").is_some());
    assert_eq!(governance(&chain).active_members, 5);
    chain.ok(&newcomer, vec![grant(1, "UMBRELLA@umbrella", &key(10), 500)]);

    // Its validator joins at passed + 2, not before.
    let (consensus, _) = validator_keys(9);
    let scheduled = epochs(&chain);
    assert_eq!(scheduled.pending.len(), 1);
    assert_eq!(scheduled.pending[0].start_height, Height(passed.0 + 2));
    assert_eq!(scheduled.pending[0].number, 1);
    assert!(!scheduled.current.validators.contains(&consensus.public_key()));
    assert_eq!(chain.height, Height(passed.0 + 1));
    chain.block(&[]).expect("empty block");
    let now = epochs(&chain);
    assert_eq!(now.current.number, 1);
    assert_eq!(now.current.start_height, chain.height);
    assert_eq!(now.current.validators.last(), Some(&consensus.public_key()));
    assert_eq!(now.current.validators.len(), 6);
    assert!(now.pending.is_empty());

    // The new member votes from now on, and now four yes of five are needed.
    chain.ok(
        &governor(0),
        vec![propose(2, Action::SetThreshold { threshold: Threshold { numerator: 1, denominator: 2 } }, 100)],
    );
    chain.ok(&governor(1), vec![vote(2, true)]);
    chain.ok(&newcomer, vec![vote(2, true)]);
    assert_eq!(proposal(&chain, 2).outcome, ProposalOutcome::Open, "3 of 5 is not more than 2/3");
    chain.ok(&governor(3), vec![vote(2, true)]);
    assert!(matches!(proposal(&chain, 2).outcome, ProposalOutcome::Passed { .. }));
    assert_eq!(governance(&chain).threshold, Threshold { numerator: 1, denominator: 2 });
}

#[test]
fn a_proposal_passes_once_and_not_after_expiry_and_each_member_votes_once() {
    let mut chain = Chain::from_genesis(&consortium());
    let action = || Action::SetThreshold { threshold: Threshold { numerator: 3, denominator: 4 } };
    pass(&mut chain, 1, action());
    chain.fails(&governor(3), vec![vote(1, true)], 0, ErrorCode::ProposalClosed);
    chain.fails(&governor(0), vec![propose(1, action(), 100)], 0, ErrorCode::DuplicateProposal);

    // Proposed in the next block, expiring two blocks later.
    chain.ok(&governor(0), vec![propose(2, action(), chain.height.0 + 3)]);
    chain.fails(&governor(0), vec![vote(2, true)], 0, ErrorCode::AlreadyVoted);
    chain.ok(&governor(1), vec![vote(2, true)]);
    chain.fails(&governor(2), vec![vote(2, true)], 0, ErrorCode::ProposalExpired);
    assert_eq!(proposal(&chain, 2).outcome, ProposalOutcome::Open);

    chain.fails(&governor(0), vec![vote(9, true)], 0, ErrorCode::UnknownProposal);
    let height = chain.height.0 + 1;
    chain.fails(&governor(0), vec![propose(3, action(), height)], 0, ErrorCode::BadProposalExpiry);
    let too_far = chain.height.0 + 1 + limits::PROPOSAL_TTL_BLOCKS_MAX + 1;
    chain.fails(&governor(0), vec![propose(3, action(), too_far)], 0, ErrorCode::BadProposalExpiry);
    // The farthest expiry allowed is exactly PROPOSAL_TTL_BLOCKS_MAX after the proposal's block.
    let farthest = chain.height.0 + 1 + limits::PROPOSAL_TTL_BLOCKS_MAX;
    chain.ok(&governor(0), vec![propose(3, action(), farthest)]);
    assert_eq!(proposal(&chain, 3).expires_at_height, Height(farthest));
}

#[test]
fn only_members_governance_keys_propose_and_vote() {
    let mut chain = Chain::from_genesis(&consortium());
    let action = Action::SetThreshold { threshold: Threshold { numerator: 3, denominator: 4 } };
    chain.fails(&key(10), vec![propose(1, action.clone(), 100)], 0, ErrorCode::NotMember);
    chain.ok(&governor(0), vec![propose(1, action, 100)]);
    chain.fails(&key(10), vec![vote(1, true)], 0, ErrorCode::NotMember);
    let (consensus, _) = validator_keys(1);
    chain.fails(&consensus, vec![vote(1, true)], 0, ErrorCode::NotMember);
}

#[test]
fn enough_no_votes_reject_a_proposal() {
    let mut chain = Chain::from_genesis(&consortium());
    let action = Action::SetThreshold { threshold: Threshold { numerator: 3, denominator: 4 } };
    chain.ok(&governor(0), vec![propose(1, action, 100)]);
    chain.ok(&governor(1), vec![vote(1, false)]);
    assert_eq!(proposal(&chain, 1).outcome, ProposalOutcome::Open, "3 of 4 could still say yes");
    chain.ok(&governor(2), vec![vote(1, false)]);
    assert_eq!(proposal(&chain, 1).outcome, ProposalOutcome::Rejected { height: chain.height });
    chain.fails(&governor(3), vec![vote(1, true)], 0, ErrorCode::ProposalClosed);
    assert_eq!(governance(&chain).threshold, Threshold::default());
}

#[test]
fn a_removed_member_can_no_longer_mint_anchor_hold_or_vote_but_its_credits_stay_valid() {
    let mut chain = Chain::from_genesis(&consortium());
    let (alice, bob) = (key(10), key(11));
    let globex = governor(1);
    chain.ok(&globex, vec![grant(1, "GLOBEX@globex", &alice, 1_000)]);
    chain.ok(
        &alice,
        vec![Op::AuthorizeSpend(AuthorizeSpend {
            provider: member("globex"),
            asset: asset("GLOBEX@globex"),
            cap: Amount(500),
            expires_at_ms: u64::MAX,
            plan: None,
        })],
    );

    let passed = pass(&mut chain, 1, Action::RemoveMember { member: member("globex") });
    assert_eq!(member_state(&chain, "globex").removed_at, Some(passed));
    assert_eq!(governance(&chain).active_members, 3);

    // Its validator leaves at the epoch two blocks after the vote.
    let (globex_validator, _) = validator_keys(1);
    assert!(validators_of(&epochs(&chain).current).contains(&globex_validator.public_key()));
    chain.block(&[]).expect("empty block");
    assert!(validators_of(&epochs(&chain).current).contains(&globex_validator.public_key()));
    chain.block(&[]).expect("empty block");
    assert!(!validators_of(&epochs(&chain).current).contains(&globex_validator.public_key()));
    assert_eq!(epochs(&chain).current.validators.len(), 4);
    assert!(
        chain.state.value(&StateKey::Validator { consensus_key: globex_validator.public_key() }).is_none()
    );

    chain.fails(&globex, vec![grant(2, "GLOBEX@globex", &alice, 1)], 0, ErrorCode::NotIssuer);
    let anchor = Op::AnchorBadges(AnchorBadges {
        batch_root: Hash([7; 32]),
        leaf_count: 1,
        format: BadgeFormat::OpenBadges3,
        canon: BadgeCanon::JcsBlake3,
        metadata_uri: None,
    });
    chain.fails(&globex, vec![anchor], 0, ErrorCode::NotIssuer);
    let hold = Op::Hold(Hold {
        hold_id: OpId([1; 16]),
        holder: alice.public_key(),
        asset: asset("GLOBEX@globex"),
        amount: Amount(10),
        expires_at_ms: u64::MAX,
    });
    chain.fails(&globex, vec![hold], 0, ErrorCode::NotIssuer);
    let action = Action::SetThreshold { threshold: Threshold { numerator: 3, denominator: 4 } };
    chain.fails(&globex, vec![propose(2, action, 100)], 0, ErrorCode::NotMember);

    // Credits it issued stay valid and transferable.
    chain.ok(&alice, vec![transfer("GLOBEX@globex", &bob, 400)]);
    assert_eq!(chain.available(&bob, "GLOBEX@globex"), 400);
    assert_eq!(chain.supply("GLOBEX@globex"), 1_000);

    // The id is never reused.
    let again = Action::AddMember { application: application("globex", &key(121), 10) };
    chain.fails(&governor(0), vec![propose(3, again, 100)], 0, ErrorCode::MemberExists);
}

#[test]
fn changes_that_would_leave_no_quorum_are_refused() {
    let mut chain = Chain::from_genesis(&consortium());
    // Acme runs two of the five validators: without them three would remain.
    let remove_acme = Action::RemoveMember { member: member("acme") };
    chain.fails(&governor(1), vec![propose(1, remove_acme, 100)], 0, ErrorCode::ValidatorCountOutOfRange);
    let (first, _) = validator_keys(0);
    let (second, _) = validator_keys(1);
    chain.ok(
        &governor(0),
        vec![propose(2, Action::RemoveValidator { consensus_key: first.public_key() }, 100)],
    );
    // One removal fits (five to four); a second in the same schedule would leave three.
    pass_votes(&mut chain, 2);
    // (Past the epoch change, so that the refusals below are all that changes.)
    chain.block(&[]).expect("empty block");
    chain.block(&[]).expect("empty block");
    let again = Action::RemoveValidator { consensus_key: second.public_key() };
    chain.fails(&governor(0), vec![propose(3, again, 100)], 0, ErrorCode::ValidatorCountOutOfRange);
    let unknown = Action::RemoveValidator { consensus_key: key(99).public_key() };
    chain.fails(&governor(0), vec![propose(4, unknown, 100)], 0, ErrorCode::UnknownValidator);
}

/// The yes votes of globex and initech on proposal `id`.
fn pass_votes(chain: &mut Chain, id: u8) {
    chain.ok(&governor(1), vec![vote(id, true)]);
    chain.ok(&governor(2), vec![vote(id, true)]);
    assert!(matches!(proposal(chain, id).outcome, ProposalOutcome::Passed { .. }));
}

#[test]
fn applications_must_prove_possession_and_be_for_this_chain() {
    let mut chain = Chain::from_genesis(&consortium());
    let newcomer = key(120);
    let mut forged = application("umbrella", &newcomer, 9);
    forged.proofs.consensus = forged.proofs.network;
    let add = |application| Action::AddMember { application };
    chain.fails(&governor(0), vec![propose(1, add(forged), 100)], 0, ErrorCode::BadProofOfPossession);
    let mut unsigned = application("umbrella", &newcomer, 9);
    unsigned.proofs.issuer = None;
    chain.fails(&governor(0), vec![propose(1, add(unsigned), 100)], 0, ErrorCode::BadProofOfPossession);
    let elsewhere = application_on(ChainId::new("tally-elsewhere").expect("valid"), "umbrella", &newcomer, 9);
    chain.fails(&governor(0), vec![propose(1, add(elsewhere), 100)], 0, ErrorCode::ApplicationWrongChain);
    // A consensus key that already validates, or an issuer that already serves a member.
    chain.fails(
        &governor(0),
        vec![propose(1, add(application("umbrella", &newcomer, 3)), 100)],
        0,
        ErrorCode::KeyInUse,
    );
    chain.fails(
        &governor(0),
        vec![propose(1, add(application("umbrella", &governor(2), 9)), 100)],
        0,
        ErrorCode::KeyInUse,
    );

    // Rotation: the new keys must prove possession, and belong to the same member.
    let (old, _) = validator_keys(1);
    let mut unproven = application("globex", &governor(1), 11);
    unproven.proofs.network = unproven.proofs.consensus;
    let rotate = |application| Action::RotateValidatorKey { consensus_key: old.public_key(), application };
    chain.fails(&governor(1), vec![propose(1, rotate(unproven), 100)], 0, ErrorCode::BadProofOfPossession);
    let foreign = application("globex", &governor(2), 11);
    chain.fails(&governor(1), vec![propose(1, rotate(foreign), 100)], 0, ErrorCode::IssuerNotOfMember);
    let other_member = application("initech", &governor(2), 11);
    chain.fails(&governor(1), vec![propose(1, rotate(other_member), 100)], 0, ErrorCode::IssuerNotOfMember);
}

#[test]
fn a_rotated_key_keeps_its_place_and_the_old_key_leaves_at_the_epoch() {
    let mut chain = Chain::from_genesis(&consortium());
    let (old, _) = validator_keys(1);
    let (new, _) = validator_keys(11);
    let rotate = Action::RotateValidatorKey {
        consensus_key: old.public_key(),
        application: application("globex", &governor(1), 11),
    };
    let before = validators_of(&epochs(&chain).current);
    chain.ok(&governor(1), vec![propose(1, rotate, 100)]);
    chain.ok(&governor(0), vec![vote(1, true)]);
    chain.ok(&governor(2), vec![vote(1, true)]);
    chain.block(&[]).expect("empty block");
    assert_eq!(validators_of(&epochs(&chain).current), before, "not before the epoch");
    chain.block(&[]).expect("empty block");
    let after = validators_of(&epochs(&chain).current);
    assert_eq!(after[1], new.public_key());
    assert_eq!([&after[..1], &after[2..]], [&before[..1], &before[2..]]);
    assert!(chain.state.value(&StateKey::Validator { consensus_key: old.public_key() }).is_none());
    assert!(chain.state.value(&StateKey::Validator { consensus_key: new.public_key() }).is_some());
}

#[test]
fn a_passed_action_that_no_longer_fits_is_recorded_as_failed_and_changes_nothing() {
    let mut chain = Chain::from_genesis(&consortium());
    let add =
        |issuer: u8, seed: u8| Action::AddMember { application: application("umbrella", &key(issuer), seed) };
    chain.ok(&governor(3), vec![propose(2, add(121, 10), 100)]);
    pass(&mut chain, 1, add(120, 9));
    // Past the epoch that admits umbrella's validator.
    chain.block(&[]).expect("empty block");
    chain.block(&[]).expect("empty block");
    let before: Vec<(StateKey, StateValue)> = chain
        .state
        .entries()
        .filter(|(key, _)| !matches!(key, StateKey::Account { .. } | StateKey::Proposal { .. }))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    // Five members now: the fourth yes passes it.
    chain.ok(&governor(1), vec![vote(2, true)]);
    chain.ok(&governor(2), vec![vote(2, true)]);
    chain.ok(&governor(0), vec![vote(2, true)]);
    let ProposalOutcome::Failed { code, .. } = proposal(&chain, 2).outcome else {
        panic!("{:?}", proposal(&chain, 2).outcome);
    };
    assert_eq!(code, ErrorCode::MemberExists);
    let after: Vec<(StateKey, StateValue)> = chain
        .state
        .entries()
        .filter(|(key, _)| !matches!(key, StateKey::Account { .. } | StateKey::Proposal { .. }))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn consensus_parameters_change_at_the_epoch_and_bad_ones_are_refused() {
    let mut chain = Chain::from_genesis(&consortium());
    let bad = ConsensusParams { timeout_notarize_ms: 10, ..ConsensusParams::default() };
    chain.fails(
        &governor(0),
        vec![propose(1, Action::SetConsensusParams { params: bad }, 100)],
        0,
        ErrorCode::BadConsensusParams,
    );
    let slower = ConsensusParams {
        timeout_propose_ms: 2_000,
        timeout_notarize_ms: 3_000,
        ..ConsensusParams::default()
    };
    let passed = pass(&mut chain, 2, Action::SetConsensusParams { params: slower });
    assert_eq!(epochs(&chain).current.params, ConsensusParams::default());
    assert_eq!(epochs(&chain).at(Height(passed.0 + 2)).params, slower);
    chain.block(&[]).expect("empty block");
    chain.block(&[]).expect("empty block");
    assert_eq!(epochs(&chain).current.params, slower);
    let bad_threshold = Action::SetThreshold { threshold: Threshold { numerator: 1, denominator: 3 } };
    chain.fails(&governor(0), vec![propose(3, bad_threshold, 100)], 0, ErrorCode::BadThreshold);
}

#[test]
fn changes_passed_in_consecutive_blocks_make_consecutive_epochs() {
    let mut chain = Chain::from_genesis(&consortium());
    let (first, _) = validator_keys(0);
    let (second, _) = validator_keys(11);
    chain.ok(
        &governor(0),
        vec![propose(1, Action::RemoveValidator { consensus_key: first.public_key() }, 100)],
    );
    let add = Action::AddValidator { application: application("globex", &governor(1), 11) };
    chain.ok(&governor(1), vec![propose(2, add, 100)]);
    chain.ok(&governor(1), vec![vote(1, true)]);
    chain.ok(&governor(0), vec![vote(2, true)]);
    // One block passes proposal 1, the next proposal 2: epochs at H + 2 and H + 3.
    let tx1 = chain.tx(&governor(2), vec![vote(1, true)]);
    chain.block(&[tx1]).expect("block");
    let h = chain.height;
    let tx2 = chain.tx(&governor(2), vec![vote(2, true)]);
    chain.block(&[tx2]).expect("block");
    let scheduled = epochs(&chain);
    assert_eq!(scheduled.pending.len(), 2);
    assert_eq!(scheduled.pending[0].start_height, Height(h.0 + 2));
    assert_eq!(scheduled.pending[1].start_height, Height(h.0 + 3));
    assert!(
        !scheduled.pending[1].validators.contains(&first.public_key()),
        "the later epoch builds on the earlier"
    );
    assert!(scheduled.pending[1].validators.contains(&second.public_key()));
    chain.block(&[]).expect("block");
    chain.block(&[]).expect("block");
    let now = epochs(&chain);
    assert_eq!(now.current.number, 2);
    assert_eq!(now.current.validators.len(), 5);
    assert!(now.pending.is_empty());
}

#[test]
fn an_action_failing_midway_leaves_none_of_its_writes() {
    // Rotation of a key that another proposal removed first: the rotation writes the new
    // validator's entry before it finds the old key gone from the schedule. The new entry must
    // not remain (the invariants would find it in no epoch).
    let mut chain = Chain::from_genesis(&consortium());
    let (old, _) = validator_keys(1);
    let (new, _) = validator_keys(11);
    let rotate = Action::RotateValidatorKey {
        consensus_key: old.public_key(),
        application: application("globex", &governor(1), 11),
    };
    chain.ok(&governor(1), vec![propose(2, rotate, 100)]);
    assert!(
        chain.state.value(&StateKey::Validator { consensus_key: new.public_key() }).is_none(),
        "checking a proposal must not carry it out"
    );
    chain.ok(&governor(0), vec![vote(2, true)]);
    pass(&mut chain, 1, Action::RemoveValidator { consensus_key: old.public_key() });
    // The next block, before the old key's entry goes at the epoch: the rotation passes.
    chain.ok(&governor(2), vec![vote(2, true)]);
    let ProposalOutcome::Failed { code, .. } = proposal(&chain, 2).outcome else {
        panic!("{:?}", proposal(&chain, 2).outcome);
    };
    assert_eq!(code, ErrorCode::UnknownValidator);
    assert!(chain.state.value(&StateKey::Validator { consensus_key: new.public_key() }).is_none());
}

#[test]
fn a_validator_added_and_removed_in_one_block_leaves_no_entry() {
    let mut chain = Chain::from_genesis(&consortium());
    let (joining, _) = validator_keys(12);
    let add = Action::AddValidator { application: application("globex", &governor(1), 12) };
    chain.ok(&governor(0), vec![propose(1, add, 100)]);
    chain.ok(&governor(0), vec![propose(2, Action::RemoveMember { member: member("globex") }, 100)]);
    chain.ok(&governor(1), vec![vote(1, true), vote(2, true)]);
    // Both pass in this block: the admission first, then the removal takes the new key out again.
    chain.ok(&governor(2), vec![vote(1, true), vote(2, true)]);
    assert!(matches!(proposal(&chain, 1).outcome, ProposalOutcome::Passed { .. }));
    assert!(matches!(proposal(&chain, 2).outcome, ProposalOutcome::Passed { .. }));
    assert!(chain.state.value(&StateKey::Validator { consensus_key: joining.public_key() }).is_none());
    chain.block(&[]).expect("empty block");
    chain.block(&[]).expect("empty block");
    assert!(!validators_of(&epochs(&chain).current).contains(&joining.public_key()));
}

#[test]
fn a_removed_members_votes_no_longer_count() {
    let mut chain = Chain::from_genesis(&consortium());
    let action = Action::SetThreshold { threshold: Threshold { numerator: 3, denominator: 4 } };
    chain.ok(&governor(3), vec![propose(9, action, 100)]);
    pass(&mut chain, 1, Action::RemoveMember { member: member("hooli") });
    chain.ok(&governor(0), vec![vote(9, true)]);
    chain.ok(&governor(1), vec![vote(9, true)]);
    // With hooli's yes it would be three of three; without it, two of three is not enough.
    assert_eq!(proposal(&chain, 9).outcome, ProposalOutcome::Open);
    assert!(proposal(&chain, 9).votes.iter().all(|vote| vote.member != member("hooli")));
    chain.ok(&governor(2), vec![vote(9, true)]);
    assert!(matches!(proposal(&chain, 9).outcome, ProposalOutcome::Passed { .. }));
}

#[test]
fn a_removed_providers_holds_can_be_voided_by_their_holders_at_once() {
    let mut chain = Chain::from_genesis(&consortium());
    let alice = key(10);
    let globex = governor(1);
    chain.ok(&globex, vec![grant(1, "GLOBEX@globex", &alice, 1_000)]);
    let authorize = |cap: u128| {
        Op::AuthorizeSpend(AuthorizeSpend {
            provider: member("globex"),
            asset: asset("GLOBEX@globex"),
            cap: Amount(cap),
            expires_at_ms: u64::MAX,
            plan: None,
        })
    };
    chain.ok(&alice, vec![authorize(500)]);
    let hold = Op::Hold(Hold {
        hold_id: OpId([1; 16]),
        holder: alice.public_key(),
        asset: asset("GLOBEX@globex"),
        amount: Amount(300),
        expires_at_ms: u64::MAX,
    });
    chain.ok(&globex, vec![hold]);
    let void = Op::Void(tally_types::tx::Void { hold_id: OpId([1; 16]) });
    chain.fails(&alice, vec![void.clone()], 0, ErrorCode::HoldNotExpired);
    pass(&mut chain, 2, Action::RemoveMember { member: member("globex") });
    chain.block(&[]).expect("empty block");
    chain.block(&[]).expect("empty block");
    chain.ok(&alice, vec![void]);
    assert_eq!(chain.balance(&alice, "GLOBEX@globex").locked, Amount(0));
    assert_eq!(chain.available(&alice, "GLOBEX@globex"), 1_000);
    // A removed provider cannot be authorized again; revoking stays possible.
    chain.fails(&alice, vec![authorize(100)], 0, ErrorCode::UnknownMember);
    chain.ok(&alice, vec![authorize(0)]);
}

/// An application of `member_id` with the consensus key of validator seed `consensus` and the
/// network key of seed `network`.
fn application_with_keys(
    member_id: &str,
    issuer: &SecretKey,
    consensus: u8,
    network: u8,
) -> SignedApplication {
    let mut body = application(member_id, issuer, consensus).body;
    let (_, network_key) = validator_keys(network);
    body.network_key = network_key.public_key();
    signed_by(body, &validator_keys(consensus).0, &network_key, issuer)
}

#[test]
fn a_rotation_may_keep_one_of_the_validators_own_keys() {
    let mut chain = Chain::from_genesis(&consortium());
    let (consensus, old_network) = validator_keys(1);
    // The network key alone: consensus key 1 kept, network key of seed 41 (a new one).
    let network_only = application_with_keys("globex", &governor(1), 1, 41);
    let rotate =
        Action::RotateValidatorKey { consensus_key: consensus.public_key(), application: network_only };
    pass(&mut chain, 1, rotate);
    let Some(StateValue::Validator(entry)) =
        chain.state.value(&StateKey::Validator { consensus_key: consensus.public_key() }).cloned()
    else {
        panic!("the validator keeps its entry");
    };
    assert_ne!(entry.network_key, old_network.public_key());
    assert_eq!(entry.network_key, validator_keys(41).1.public_key());
    // The consensus key alone: a new consensus key, the (new) network key kept.
    let consensus_only = application_with_keys("globex", &governor(1), 13, 41);
    let rotate =
        Action::RotateValidatorKey { consensus_key: consensus.public_key(), application: consensus_only };
    pass(&mut chain, 2, rotate);
    chain.block(&[]).expect("empty block");
    chain.block(&[]).expect("empty block");
    let current = validators_of(&epochs(&chain).current);
    assert_eq!(current[1], validator_keys(13).0.public_key());
    // Another validator's network key is still refused.
    let taken = application_with_keys("globex", &governor(1), 14, 2);
    let rotate =
        Action::RotateValidatorKey { consensus_key: validator_keys(13).0.public_key(), application: taken };
    chain.fails(&governor(1), vec![propose(3, rotate, 100)], 0, ErrorCode::KeyInUse);
}

#[test]
fn application_fields_follow_the_genesis_rules() {
    let mut chain = Chain::from_genesis(&consortium());
    let newcomer = key(120);
    let edited = |edit: &dyn Fn(&mut ApplicationBody)| {
        let mut body = application("umbrella", &newcomer, 9).body;
        edit(&mut body);
        let (consensus, network) = validator_keys(9);
        Action::AddMember { application: signed_by(body, &consensus, &network, &newcomer) }
    };
    let cases: [&dyn Fn(&mut ApplicationBody); 9] = [
        &|body| body.asset_scale = 19,
        &|body| body.issuer = body.consensus_key,
        &|body| body.network_key = body.consensus_key,
        &|body| body.issuer = body.network_key,
        &|body| body.p2p_listen = BoundedString::new("/ip4/10.0.1.9/udp/27000").expect("short"),
        &|body| body.p2p_listen = BoundedString::new("/ip4/0.0.0.0/tcp/27000").expect("short"),
        &|body| body.http_listen = BoundedString::new("10.0.1.9").expect("short"),
        &|body| body.member_name = BoundedString::new("Umbrella\u{1b}[31m").expect("short"),
        &|body| body.validator_name = BoundedString::new("umbrella 0").expect("short"),
    ];
    for (index, edit) in cases.into_iter().enumerate() {
        chain.fails(
            &governor(0),
            vec![propose(index as u8 + 1, edited(edit), 100)],
            0,
            ErrorCode::BadApplication,
        );
    }
    // The largest scale is fine.
    chain.ok(&governor(0), vec![propose(9, edited(&|body| body.asset_scale = 18), 100)]);
}

#[test]
fn an_issuer_of_another_member_cannot_be_admitted_as_a_new_members_issuer() {
    let mut chain = Chain::from_genesis(&consortium());
    // The issuer that is not acme's governance key, and the one that is.
    let (smaller, larger) = if governor(0).public_key() < second_acme_issuer().public_key() {
        (governor(0), second_acme_issuer())
    } else {
        (second_acme_issuer(), governor(0))
    };
    assert_eq!(member_state(&chain, "acme").governance_key, smaller.public_key());
    for issuer in [&larger, &smaller] {
        let action = Action::AddMember { application: application("umbrella", issuer, 9) };
        chain.fails(&governor(1), vec![propose(1, action, 100)], 0, ErrorCode::KeyInUse);
    }
}
