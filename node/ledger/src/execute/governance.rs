//! Governance (issue #12): Propose and CastVote, the tally, the actions a passed proposal
//! carries out, and the epoch schedule they feed.
//!
//! Rules, in one place:
//! - **Who.** Only the governance key of an active member proposes or votes (`NotMember`); a
//!   member votes once per proposal (`AlreadyVoted`), and proposing is its yes vote.
//! - **When.** A proposal takes votes up to and including its `expires_at_height`, which must
//!   be after the proposal's own height and at most `PROPOSAL_TTL_BLOCKS_MAX` later.
//! - **Tally.** After every vote: with `yes` the approving votes of members still active and
//!   `n` the active members, it passes when `yes × d > k × n` for the threshold k/d (default
//!   more than two thirds); it is rejected when even every member yet to vote could no longer
//!   make it pass. A decided proposal takes no more votes (`ProposalClosed`), so it passes at
//!   most once, and at the height of the vote that carried it.
//! - **Actions** are checked when proposed (a proposal that could not execute is refused with
//!   the action's code) and again when they pass; if the state changed in between so that the
//!   action no longer fits, the proposal is recorded as `Failed` with that code and nothing
//!   else changes.
//! - **Epochs.** Changes to validators or consensus parameters passed in block H take effect
//!   at height H + 2: they edit the epoch scheduled to start there (created on first use), and
//!   the prologue of block H + 2 makes it current ([`BlockExecutor::advance_epoch`]). A change
//!   that would leave fewer than `VALIDATORS_MIN` validators is refused, so that a quorum
//!   always exists.

use tally_types::address;
use tally_types::codec::BoundedVec;
use tally_types::governance::{Action, CastVote, Propose, SignedApplication, Threshold};
use tally_types::receipt::ErrorCode;
use tally_types::tx::AssetFlags;
use tally_types::{Amount, AssetId, Height, MemberId, PublicKey, limits};

use super::{BlockExecutor, OpContext, OpFailure, OpResult, wrong_kind};
use crate::state::{
    AssetState, EpochConfig, EpochsState, GovernanceState, GovernorState, IssuerState, MemberState,
    ProposalOutcome, ProposalState, StateError, StateKey, StateRead, StateValue, ValidatorState, VoteRecord,
};

impl<S: StateRead + ?Sized> BlockExecutor<'_, S> {
    /// Propose. Checks, in order: the signer is the governance key of an active member
    /// (`NotMember`); the expiry is after this height and within `PROPOSAL_TTL_BLOCKS_MAX`
    /// (`BadProposalExpiry`); the id is new (`DuplicateProposal`); the action could be carried
    /// out now (its own codes, see [`Self::check_action`]). Then the proposer's yes is counted,
    /// which passes the proposal at once in a consortium small enough.
    pub(super) fn propose(&mut self, at: OpContext<'_>, op: &Propose) -> OpResult {
        let member = self.governor_member(at.signer)?.ok_or(ErrorCode::NotMember)?;
        let height = self.context.height;
        let latest = Height(height.0.saturating_add(limits::PROPOSAL_TTL_BLOCKS_MAX));
        if op.expires_at_height <= height || op.expires_at_height > latest {
            return Err(ErrorCode::BadProposalExpiry.into());
        }
        let key = StateKey::Proposal { proposal_id: op.proposal_id };
        if self.read(&key)?.is_some() {
            return Err(ErrorCode::DuplicateProposal.into());
        }
        self.check_action(&op.action)?;
        let vote = VoteRecord { member: member.clone(), approve: true, height };
        let proposal = ProposalState {
            proposer: member,
            action: op.action.clone(),
            height,
            expires_at_height: op.expires_at_height,
            votes: BoundedVec::new(vec![vote]).expect("one vote is within MEMBERS_MAX"),
            outcome: ProposalOutcome::Open,
            tx_id: *at.tx_id,
        };
        self.tally_and_store(key, proposal)
    }

    /// CastVote. Checks, in order: the signer is the governance key of an active member
    /// (`NotMember`); the proposal exists (`UnknownProposal`); it is still open
    /// (`ProposalClosed`); this height is not past its expiry (`ProposalExpired`); the member
    /// has not voted on it (`AlreadyVoted`). Then the tally.
    pub(super) fn cast_vote(&mut self, at: OpContext<'_>, op: &CastVote) -> OpResult {
        let member = self.governor_member(at.signer)?.ok_or(ErrorCode::NotMember)?;
        let key = StateKey::Proposal { proposal_id: op.proposal_id };
        let mut proposal = match self.read(&key)? {
            None => return Err(ErrorCode::UnknownProposal.into()),
            Some(StateValue::Proposal(proposal)) => *proposal,
            Some(other) => return Err(wrong_kind(&key, &other).into()),
        };
        if proposal.outcome != ProposalOutcome::Open {
            return Err(ErrorCode::ProposalClosed.into());
        }
        if self.context.height > proposal.expires_at_height {
            return Err(ErrorCode::ProposalExpired.into());
        }
        if proposal.votes.iter().any(|vote| vote.member == member) {
            return Err(ErrorCode::AlreadyVoted.into());
        }
        // Votes of members removed since they voted are dropped here: the tally ignores them,
        // and keeping them could outgrow the list when members come and go during a long vote.
        // What remains is one vote per active member, so at most MEMBERS_MAX.
        let mut votes = Vec::with_capacity(proposal.votes.len() + 1);
        for vote in proposal.votes.into_inner() {
            if self.active_member(&vote.member)?.is_some() {
                votes.push(vote);
            }
        }
        votes.push(VoteRecord { member, approve: op.approve, height: self.context.height });
        proposal.votes = BoundedVec::new(votes).map_err(|votes| StateError::Corrupt {
            key: key.clone(),
            reason: format!("{} votes of active members, more than MEMBERS_MAX", votes.len()),
        })?;
        self.tally_and_store(key, proposal)
    }

    /// Counts the votes of active members, decides the proposal if it can be decided, carries
    /// out a passed action, and stores the proposal.
    fn tally_and_store(&mut self, key: StateKey, mut proposal: ProposalState) -> OpResult {
        let governance = self.governance()?;
        let (mut yes, mut no) = (0u32, 0u32);
        for vote in proposal.votes.iter() {
            if self.active_member(&vote.member)?.is_some() {
                if vote.approve {
                    yes += 1;
                } else {
                    no += 1;
                }
            }
        }
        let members = governance.active_members;
        let height = self.context.height;
        if governance.threshold.passes(yes, members) {
            // The action runs on a copy of the transaction's writes so far: if it fails, the
            // proposal is recorded as failed and none of the action's writes remain.
            let saved = self.tx_writes.clone();
            proposal.outcome = match self.carry_out(&proposal.action) {
                Ok(()) => ProposalOutcome::Passed { height },
                Err(OpFailure::Code(code)) => {
                    self.tx_writes = saved;
                    ProposalOutcome::Failed { height, code }
                }
                Err(OpFailure::State(error)) => return Err(error.into()),
            };
        } else if !governance.threshold.passes(members.saturating_sub(no), members) {
            proposal.outcome = ProposalOutcome::Rejected { height };
        }
        self.put(key, Some(StateValue::Proposal(Box::new(proposal))));
        Ok(())
    }

    /// Whether `action` could be carried out on the current state, with the code of the first
    /// reason it could not.
    fn check_action(&mut self, action: &Action) -> OpResult {
        // Checking is carrying out on a scratch copy of this transaction's writes.
        let saved = self.tx_writes.clone();
        let result = self.carry_out(action);
        self.tx_writes = saved;
        result
    }

    /// Carries out a passed action. Each arm checks everything before it writes anything that
    /// a later check could contradict; a failure leaves writes the caller discards.
    fn carry_out(&mut self, action: &Action) -> OpResult {
        match action {
            Action::AddMember { application } => self.add_member(application),
            Action::RemoveMember { member } => self.remove_member(member),
            Action::AddValidator { application } => {
                let member = &application.body.member;
                let state = self.active_member(member)?.ok_or(ErrorCode::UnknownMember)?;
                if !state.issuers.contains(&application.body.issuer) {
                    return Err(ErrorCode::IssuerNotOfMember.into());
                }
                self.check_application(application, None)?;
                self.add_validator_entry(application)?;
                self.schedule(|validators| {
                    validators.push(application.body.consensus_key);
                    Ok(())
                })
            }
            Action::RemoveValidator { consensus_key } => self.schedule(|validators| {
                let before = validators.len();
                validators.retain(|key| key != consensus_key);
                if validators.len() == before { Err(ErrorCode::UnknownValidator) } else { Ok(()) }
            }),
            Action::RotateValidatorKey { consensus_key, application } => {
                let old = self.validator(consensus_key)?.ok_or(ErrorCode::UnknownValidator)?;
                if old.member != application.body.member {
                    return Err(ErrorCode::IssuerNotOfMember.into());
                }
                let state = self.active_member(&old.member)?.ok_or(ErrorCode::UnknownMember)?;
                if !state.issuers.contains(&application.body.issuer) {
                    return Err(ErrorCode::IssuerNotOfMember.into());
                }
                self.check_application(application, Some(consensus_key))?;
                self.add_validator_entry(application)?;
                let new_key = application.body.consensus_key;
                self.schedule(|validators| {
                    let slot = validators.iter_mut().find(|key| *key == consensus_key);
                    let slot = slot.ok_or(ErrorCode::UnknownValidator)?;
                    *slot = new_key;
                    Ok(())
                })
            }
            Action::SetConsensusParams { params } => {
                if !params.problems().is_empty() {
                    return Err(ErrorCode::BadConsensusParams.into());
                }
                self.edit_next_epoch(|next| {
                    next.params = *params;
                    Ok(())
                })
            }
            Action::SetThreshold { threshold } => {
                if threshold.problem().is_some() {
                    return Err(ErrorCode::BadThreshold.into());
                }
                let mut governance = self.governance()?;
                governance.threshold = *threshold;
                self.put(StateKey::Governance, Some(StateValue::Governance(governance)));
                Ok(())
            }
        }
    }

    /// AddMember: a new member with its issuer (also its governance key), its asset and its
    /// validator. Codes: the application's ([`Self::check_application`]); the id was never used
    /// (`MemberExists`); the issuer serves no one yet (`KeyInUse`); room for another member
    /// (`ValidatorCountOutOfRange`).
    fn add_member(&mut self, application: &SignedApplication) -> OpResult {
        let body = &application.body;
        self.check_application(application, None)?;
        let member_key = StateKey::Member { member: body.member.clone() };
        if self.read(&member_key)?.is_some() {
            return Err(ErrorCode::MemberExists.into());
        }
        let issuer_key = StateKey::Issuer { account: body.issuer };
        let governor_key = StateKey::Governor { account: body.issuer };
        if self.read(&issuer_key)?.is_some() || self.read(&governor_key)?.is_some() {
            return Err(ErrorCode::KeyInUse.into());
        }
        let mut governance = self.governance()?;
        if governance.active_members as usize >= limits::MEMBERS_MAX {
            return Err(ErrorCode::ValidatorCountOutOfRange.into());
        }
        governance.active_members += 1;
        let member = MemberState {
            name: body.member_name.clone(),
            issuers: BoundedVec::new(vec![body.issuer]).expect("one issuer is within the limit"),
            governance_key: body.issuer,
            removed_at: None,
        };
        self.put(member_key, Some(StateValue::Member(member)));
        self.put(issuer_key, Some(StateValue::Issuer(IssuerState { member: body.member.clone() })));
        self.put(governor_key, Some(StateValue::Governor(GovernorState { member: body.member.clone() })));
        self.put(StateKey::Governance, Some(StateValue::Governance(governance)));
        let asset = AssetState {
            scale: body.asset_scale,
            max_supply: None,
            flags: AssetFlags::default(),
            supply: Amount::ZERO,
            minted: Amount::ZERO,
            burned: Amount::ZERO,
        };
        let asset_key = StateKey::Asset { asset: AssetId::new(body.asset_code.clone(), body.member.clone()) };
        self.put(asset_key, Some(StateValue::Asset(asset)));
        self.add_validator_entry(application)?;
        self.schedule(|validators| {
            validators.push(body.consensus_key);
            Ok(())
        })
    }

    /// RemoveMember: the member is marked removed, its issuer and governance keys stop acting
    /// for it, and its validators leave at the next epoch. Codes: the member is active
    /// (`UnknownMember`); at least `VALIDATORS_MIN` validators remain
    /// (`ValidatorCountOutOfRange`).
    fn remove_member(&mut self, member: &MemberId) -> OpResult {
        let key = StateKey::Member { member: member.clone() };
        let mut state = self.active_member(member)?.ok_or(ErrorCode::UnknownMember)?;
        let mut governance = self.governance()?;
        // Its validators, as of the latest schedule.
        let mut theirs = Vec::new();
        if let Some(epochs) = self.epochs()? {
            for consensus_key in epochs.latest().validators.iter() {
                if self.validator(consensus_key)?.is_some_and(|validator| validator.member == *member) {
                    theirs.push(*consensus_key);
                }
            }
        }
        if !theirs.is_empty() {
            self.schedule(|validators| {
                validators.retain(|key| !theirs.contains(key));
                Ok(())
            })?;
        }
        for issuer in state.issuers.iter() {
            self.put(StateKey::Issuer { account: *issuer }, None);
        }
        self.put(StateKey::Governor { account: state.governance_key }, None);
        state.removed_at = Some(self.context.height);
        self.put(key, Some(StateValue::Member(state)));
        governance.active_members -= 1;
        self.put(StateKey::Governance, Some(StateValue::Governance(governance)));
        Ok(())
    }

    /// An application's own checks: for this chain (`ApplicationWrongChain`), its fields
    /// acceptable by the rules of a genesis file: names, a dialable multiaddr, a canonical
    /// `IP:PORT`, three distinct strictly valid keys, the scale (`BadApplication`), all three proofs of possession (`BadProofOfPossession`),
    /// and its consensus and network keys new to the consortium (`KeyInUse`). A rotation
    /// (`replacing` the validator with that consensus key) may keep either of that validator's
    /// own keys, so that one key can be rotated alone.
    fn check_application(
        &mut self,
        application: &SignedApplication,
        replacing: Option<&PublicKey>,
    ) -> OpResult {
        let body = &application.body;
        if body.chain_id != self.context.chain_id {
            return Err(ErrorCode::ApplicationWrongChain.into());
        }
        // The same field rules as a genesis file's (`tally_types::address`).
        let names_ok = address::check_member_name(body.member_name.as_str()).is_ok()
            && address::check_validator_name(body.validator_name.as_str()).is_ok();
        let addresses_ok = address::parse_p2p_listen(body.p2p_listen.as_str()).is_ok()
            && address::parse_http_listen(body.http_listen.as_str()).is_ok();
        let keys = [body.issuer, body.consensus_key, body.network_key];
        let keys_distinct = keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2];
        // The strict check, as for any validator set: no small-order component.
        let keys_valid = keys.iter().all(|key| key.validate_strict().is_ok());
        if !names_ok
            || !addresses_ok
            || !keys_distinct
            || !keys_valid
            || body.asset_scale > limits::ASSET_SCALE_MAX
        {
            return Err(ErrorCode::BadApplication.into());
        }
        body.verify_proofs(&application.proofs).map_err(|_| ErrorCode::BadProofOfPossession)?;
        let consensus_in_use =
            replacing != Some(&body.consensus_key) && self.validator(&body.consensus_key)?.is_some();
        if consensus_in_use || self.network_key_in_use(&body.network_key, replacing)? {
            return Err(ErrorCode::KeyInUse.into());
        }
        Ok(())
    }

    /// Writes the validator entry of an application's validator.
    fn add_validator_entry(&mut self, application: &SignedApplication) -> OpResult {
        let body = &application.body;
        let state = ValidatorState {
            member: body.member.clone(),
            name: body.validator_name.clone(),
            network_key: body.network_key,
            p2p_listen: body.p2p_listen.clone(),
            http_listen: body.http_listen.clone(),
        };
        self.put(
            StateKey::Validator { consensus_key: body.consensus_key },
            Some(StateValue::Validator(state)),
        );
        Ok(())
    }

    /// True when a validator of the current or a scheduled epoch, other than `except`, uses
    /// `network_key`.
    fn network_key_in_use(
        &self,
        network_key: &PublicKey,
        except: Option<&PublicKey>,
    ) -> Result<bool, StateError> {
        let Some(epochs) = self.epochs()? else { return Ok(false) };
        for consensus_key in epochs.scheduled_keys().into_iter().filter(|key| Some(key) != except) {
            if self.validator(&consensus_key)?.is_some_and(|validator| validator.network_key == *network_key)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Edits the validator list of the epoch starting at H + 2, refusing a result outside
    /// `VALIDATORS_MIN..=VALIDATORS_MAX` (`ValidatorCountOutOfRange`).
    ///
    /// A key the edit takes out that is in no other epoch (it was added by a change not yet in
    /// force, for example an admission and a removal passed in the same block) never serves:
    /// its entry is deleted now, since no epoch start will.
    fn schedule(&mut self, edit: impl FnOnce(&mut Vec<PublicKey>) -> Result<(), ErrorCode>) -> OpResult {
        let mut dropped = Vec::new();
        self.edit_next_epoch(|next| {
            let mut validators = next.validators.iter().copied().collect::<Vec<_>>();
            edit(&mut validators)?;
            if !(limits::VALIDATORS_MIN..=limits::VALIDATORS_MAX).contains(&validators.len()) {
                return Err(ErrorCode::ValidatorCountOutOfRange);
            }
            dropped = next.validators.iter().filter(|key| !validators.contains(key)).copied().collect();
            next.validators =
                BoundedVec::new(validators).expect("the count was checked against VALIDATORS_MAX");
            Ok(())
        })?;
        if dropped.is_empty() {
            return Ok(());
        }
        let epochs = self.epochs()?.ok_or(ErrorCode::UnknownValidator)?;
        for key in dropped {
            if !epochs.schedules(&key) {
                self.put(StateKey::Validator { consensus_key: key }, None);
            }
        }
        Ok(())
    }

    /// Edits the epoch that starts at this height + 2, made from the latest schedule if no
    /// change of this block made it yet. A ledger without epochs (made without validators, in
    /// tests of other ops) has no validator to change (`UnknownValidator`).
    fn edit_next_epoch(&mut self, edit: impl FnOnce(&mut EpochConfig) -> Result<(), ErrorCode>) -> OpResult {
        let mut epochs = self.epochs()?.ok_or(ErrorCode::UnknownValidator)?;
        let start = Height(self.context.height.0 + 2);
        let mut pending = epochs.pending.clone().into_inner();
        if epochs.latest().start_height != start {
            let latest = epochs.latest();
            pending.push(EpochConfig {
                number: latest.number + 1,
                start_height: start,
                validators: latest.validators.clone(),
                params: latest.params,
            });
        }
        let next = pending.last_mut().expect("an epoch starting at H + 2 was just ensured");
        edit(next)?;
        // At most two pending: one from the previous block (starting at H + 1) and this one
        // (the prologue promoted any that started here).
        let count = pending.len();
        epochs.pending = BoundedVec::new(pending).map_err(|_| StateError::Corrupt {
            key: StateKey::Epochs,
            reason: format!("{count} pending epochs; at most one starts at each of H + 1 and H + 2"),
        })?;
        self.put(StateKey::Epochs, Some(StateValue::Epochs(epochs)));
        Ok(())
    }

    /// Block prologue: makes the epoch that starts at this height current, and deletes the
    /// entries of validators that are in no epoch any more.
    pub(super) fn advance_epoch(&mut self) -> Result<(), StateError> {
        let Some(mut epochs) = self.epochs()? else { return Ok(()) };
        let height = self.context.height;
        // Every pending epoch starts exactly two blocks after the block that scheduled it, so
        // at most one starts here; one that should have started earlier means the stored
        // state is broken, and no answer would be right.
        match epochs.pending.first() {
            Some(first) if first.start_height == height => {}
            Some(first) if first.start_height < height => {
                return Err(StateError::Corrupt {
                    key: StateKey::Epochs,
                    reason: format!("epoch {} was due at height {}", first.number, first.start_height),
                });
            }
            _ => return Ok(()),
        }
        let mut pending = epochs.pending.clone().into_inner();
        let old = std::mem::replace(&mut epochs.current, pending.remove(0));
        epochs.pending = BoundedVec::new(pending).expect("one fewer than before");
        for key in old.validators.iter() {
            if !epochs.schedules(key) {
                self.put(StateKey::Validator { consensus_key: *key }, None);
            }
        }
        self.put(StateKey::Epochs, Some(StateValue::Epochs(epochs)));
        Ok(())
    }

    // ---- reads ----

    /// The member a governance key acts for, if it is an active member's.
    fn governor_member(&self, account: &PublicKey) -> Result<Option<MemberId>, StateError> {
        let key = StateKey::Governor { account: *account };
        match self.read(&key)? {
            None => Ok(None),
            Some(StateValue::Governor(governor)) => Ok(Some(governor.member)),
            Some(other) => Err(wrong_kind(&key, &other)),
        }
    }

    /// True when `member` exists and has not been removed.
    pub(super) fn member_is_active(&self, member: &MemberId) -> Result<bool, StateError> {
        Ok(self.active_member(member)?.is_some())
    }

    /// The member, if it exists and is active.
    fn active_member(&self, member: &MemberId) -> Result<Option<MemberState>, StateError> {
        let key = StateKey::Member { member: member.clone() };
        match self.read(&key)? {
            None => Ok(None),
            Some(StateValue::Member(state)) => Ok(Some(state).filter(MemberState::is_active)),
            Some(other) => Err(wrong_kind(&key, &other)),
        }
    }

    fn governance(&self) -> Result<GovernanceState, StateError> {
        match self.read(&StateKey::Governance)? {
            // A ledger made without governance (tests of other ops) has no members to vote.
            None => Ok(GovernanceState { threshold: Threshold::default(), active_members: 0 }),
            Some(StateValue::Governance(state)) => Ok(state),
            Some(other) => Err(wrong_kind(&StateKey::Governance, &other)),
        }
    }

    fn epochs(&self) -> Result<Option<EpochsState>, StateError> {
        match self.read(&StateKey::Epochs)? {
            None => Ok(None),
            Some(StateValue::Epochs(state)) => Ok(Some(state)),
            Some(other) => Err(wrong_kind(&StateKey::Epochs, &other)),
        }
    }

    fn validator(&self, consensus_key: &PublicKey) -> Result<Option<ValidatorState>, StateError> {
        let key = StateKey::Validator { consensus_key: *consensus_key };
        match self.read(&key)? {
            None => Ok(None),
            Some(StateValue::Validator(state)) => Ok(Some(state)),
            Some(other) => Err(wrong_kind(&key, &other)),
        }
    }
}
