//! Invariants of the governance entries: the governor index matches the active members'
//! governance keys exactly; the member count is right; the threshold is usable; every validator
//! of the current and pending epochs has its entry and every entry is in some epoch, each
//! naming a member that exists; pending epochs follow the current one in number and height;
//! every proposal names an existing proposer.

use std::collections::{BTreeMap, BTreeSet};

use tally_types::{Height, MemberId, OpId, PublicKey, limits};

use super::{InvariantViolation, World};
use crate::state::{EpochsState, GovernanceState, MemberState, StateKey, StateValue};

/// A broken invariant of the governance entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceViolation {
    #[error(
        "governance key {account} is indexed for `{member}`, whose governance key it is not or which is not active"
    )]
    StaleGovernor { account: PublicKey, member: MemberId },
    #[error("active member `{member}`'s governance key {account} is not indexed")]
    GovernorMissing { account: PublicKey, member: MemberId },
    #[error("the governance entry counts {recorded} active members; there are {actual}")]
    MemberCountMismatch { recorded: u32, actual: u32 },
    #[error("the governance entry is missing while members exist")]
    GovernanceMissing,
    #[error("the threshold is not usable: {problem}")]
    BadThreshold { problem: String },
    #[error("validator {consensus_key} is in epoch {epoch} but has no validator entry")]
    ValidatorWithoutEntry { consensus_key: PublicKey, epoch: u64 },
    #[error("validator entry {consensus_key} is in no current or pending epoch")]
    StaleValidator { consensus_key: PublicKey },
    #[error("validator {consensus_key} belongs to member `{member}`, which does not exist")]
    ValidatorOfUnknownMember { consensus_key: PublicKey, member: MemberId },
    #[error("epoch {epoch} lists a validator twice or has {count} validators ({min} to {max})", min = limits::VALIDATORS_MIN, max = limits::VALIDATORS_MAX)]
    BadValidatorList { epoch: u64, count: usize },
    #[error(
        "pending epoch {epoch} (start {start}) does not follow epoch {previous} (start {previous_start})"
    )]
    EpochOutOfOrder { epoch: u64, start: Height, previous: u64, previous_start: Height },
    #[error("proposal {proposal_id} names proposer `{member}`, which does not exist")]
    ProposalOfUnknownMember { proposal_id: OpId, member: MemberId },
}

/// Gathers the governance entries of a state.
#[derive(Default)]
pub(crate) struct Collector<'a> {
    governors: Vec<(&'a PublicKey, &'a MemberId)>,
    governance: Option<&'a GovernanceState>,
    validators: BTreeMap<&'a PublicKey, &'a MemberId>,
    epochs: Option<&'a EpochsState>,
    proposals: Vec<(&'a OpId, &'a MemberId)>,
}

impl<'a> Collector<'a> {
    /// Keeps each governance entry for [`Self::finish`].
    pub fn observe(&mut self, key: &'a StateKey, value: &'a StateValue) -> Result<(), InvariantViolation> {
        match (key, value) {
            (StateKey::Governor { account }, StateValue::Governor(governor)) => {
                self.governors.push((account, &governor.member));
            }
            (StateKey::Governance, StateValue::Governance(governance)) => {
                if let Some(problem) = governance.threshold.problem() {
                    return Err(GovernanceViolation::BadThreshold { problem }.into());
                }
                self.governance = Some(governance);
            }
            (StateKey::Validator { consensus_key }, StateValue::Validator(validator)) => {
                self.validators.insert(consensus_key, &validator.member);
            }
            (StateKey::Epochs, StateValue::Epochs(epochs)) => self.epochs = Some(epochs),
            (StateKey::Proposal { proposal_id }, StateValue::Proposal(proposal)) => {
                self.proposals.push((proposal_id, &proposal.proposer));
            }
            _ => unreachable!("check_invariants routes only governance entries here, with matching kinds"),
        }
        Ok(())
    }

    /// Checks the entries against the members (`member_states`: every member, active or not).
    pub fn finish(
        self,
        world: &World<'a>,
        member_states: &BTreeMap<&'a MemberId, &'a MemberState>,
    ) -> Result<(), InvariantViolation> {
        self.check_governors(member_states)?;
        self.check_validators(world)?;
        for (proposal_id, member) in self.proposals {
            if !member_states.contains_key(member) {
                return Err(GovernanceViolation::ProposalOfUnknownMember {
                    proposal_id: *proposal_id,
                    member: member.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Governors match the active members' governance keys one to one, and the governance
    /// entry counts the active members (it exists once there are members).
    fn check_governors(
        &self,
        member_states: &BTreeMap<&'a MemberId, &'a MemberState>,
    ) -> Result<(), InvariantViolation> {
        let active: Vec<(&MemberId, &MemberState)> = member_states
            .iter()
            .filter(|(_, state)| state.is_active())
            .map(|(id, state)| (*id, *state))
            .collect();
        let governors: BTreeSet<(&PublicKey, &MemberId)> = self.governors.iter().copied().collect();
        for (account, member) in &self.governors {
            let matches = member_states
                .get(member)
                .is_some_and(|state| state.is_active() && state.governance_key == **account);
            if !matches {
                return Err(GovernanceViolation::StaleGovernor {
                    account: **account,
                    member: (*member).clone(),
                }
                .into());
            }
        }
        for (member, state) in &active {
            if !governors.contains(&(&state.governance_key, *member)) {
                return Err(GovernanceViolation::GovernorMissing {
                    account: state.governance_key,
                    member: (*member).clone(),
                }
                .into());
            }
        }
        match self.governance {
            Some(governance) if governance.active_members as usize != active.len() => {
                return Err(GovernanceViolation::MemberCountMismatch {
                    recorded: governance.active_members,
                    actual: active.len() as u32,
                }
                .into());
            }
            None if !member_states.is_empty() => return Err(GovernanceViolation::GovernanceMissing.into()),
            _ => {}
        }
        Ok(())
    }

    /// Validator entries name known members; epochs follow one another, each with a list of
    /// enough distinct validators that have entries; no entry is outside every epoch.
    fn check_validators(&self, world: &World<'a>) -> Result<(), InvariantViolation> {
        for (consensus_key, member) in &self.validators {
            if !world.members.contains_key(member) {
                return Err(GovernanceViolation::ValidatorOfUnknownMember {
                    consensus_key: **consensus_key,
                    member: (*member).clone(),
                }
                .into());
            }
        }
        let mut in_epochs: BTreeSet<&PublicKey> = BTreeSet::new();
        if let Some(epochs) = self.epochs {
            let mut previous = &epochs.current;
            for epoch in std::iter::once(&epochs.current).chain(epochs.pending.iter()) {
                if !std::ptr::eq(epoch, previous)
                    && (epoch.number != previous.number + 1 || epoch.start_height <= previous.start_height)
                {
                    return Err(GovernanceViolation::EpochOutOfOrder {
                        epoch: epoch.number,
                        start: epoch.start_height,
                        previous: previous.number,
                        previous_start: previous.start_height,
                    }
                    .into());
                }
                previous = epoch;
                let distinct: BTreeSet<&PublicKey> = epoch.validators.iter().collect();
                if distinct.len() != epoch.validators.len() || epoch.validators.len() < limits::VALIDATORS_MIN
                {
                    return Err(GovernanceViolation::BadValidatorList {
                        epoch: epoch.number,
                        count: epoch.validators.len(),
                    }
                    .into());
                }
                for key in epoch.validators.iter() {
                    if !self.validators.contains_key(key) {
                        return Err(GovernanceViolation::ValidatorWithoutEntry {
                            consensus_key: *key,
                            epoch: epoch.number,
                        }
                        .into());
                    }
                    in_epochs.insert(key);
                }
            }
        }
        if let Some(stale) = self.validators.keys().find(|key| !in_epochs.contains(**key)) {
            return Err(GovernanceViolation::StaleValidator { consensus_key: **stale }.into());
        }
        Ok(())
    }
}
