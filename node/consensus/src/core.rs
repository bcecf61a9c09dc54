//! The consensus core: Simplex rules R1–R7 (see the crate documentation) over per-view state.
//!
//! All state lives in ordered maps (`BTreeMap`/`BTreeSet`), so the effects of an input never
//! depend on hash iteration order. Effects are collected in `self.effects` while an input is
//! handled and returned in the order they were produced.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tally_types::block::{ParentLink, tx_root};
use tally_types::{
    Block, BlockId, Certificate, ChildError, Hash, Header, Namespace, Proposal, Signature, Subject,
    ValidatorIndex, View, Vote,
};

use crate::api::{BlockRef, Effect, Evidence, Input, Message, Recipient, Ticket, Timer, TimerKind, WalEntry};
use crate::config::{Config, ConfigError};
use crate::scheme::Scheme;
use crate::sign_state::{SignState, Signed};

/// Fewest certificates per justification page (see [`Core::justification`]), whatever the
/// view window: the base certificate and two nullifications.
const JUSTIFICATION_MIN: u64 = 3;

/// Why a WAL could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("WAL entry for view {view} holds a vote of validator {signer}, not of this node")]
    ForeignSignature { view: View, signer: ValidatorIndex },
    #[error(
        "WAL holds a proposal for view {0} that is not a well-formed proposal signed by the view's leader"
    )]
    BadProposal(View),
    #[error("WAL holds two conflicting messages signed (or notarized) by this node in view {0}")]
    ConflictingVotes(View),
    #[error("WAL holds a certificate for view {0} that does not verify")]
    BadCertificate(View),
    #[error(
        "WAL holds an entry for view {view} of epoch {}, after the store's epoch {epoch}: the store is behind \
         what this node signed (restored from a backup, or its disk lost writes); refusing to start rather \
         than risk a double vote: restore the store that goes with this WAL",
        view.epoch()
    )]
    LaterEpoch { view: View, epoch: u64 },
}

/// The kinds of vote (and of certificate), for bookkeeping.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum VoteKind {
    Notarize,
    Nullify,
    Finalize,
}

impl VoteKind {
    fn of(subject: &Subject) -> Self {
        match subject {
            Subject::Notarize { .. } => VoteKind::Notarize,
            Subject::Nullify { .. } => VoteKind::Nullify,
            Subject::Finalize { .. } => VoteKind::Finalize,
        }
    }
}

/// Where the host's check of a proposed block stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verification {
    NotRequested,
    Requested,
    Valid,
    Invalid,
}

/// R3 for a proposal's parent, as far as this core knows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ParentStanding {
    /// The parent is the finalized block, or the block notarized in the parent's view.
    Holds,
    /// The parent's view has no notarization here yet.
    Unknown,
    /// The parent is below the finalized view, or not the block finalized or notarized there.
    Refuted,
}

/// A proposal held for a view; its block is in `Core::blocks`.
#[derive(Clone, Debug)]
struct HeldProposal {
    parent_view: View,
    block_id: BlockId,
    signature: Signature,
    verification: Verification,
}

/// Everything the core knows about one view. Each map is keyed by a validator index below n,
/// so a view holds at most one vote of each kind per validator.
#[derive(Default, Debug)]
struct ViewState {
    proposal: Option<HeldProposal>,
    notarizes: BTreeMap<ValidatorIndex, (BlockId, Signature)>,
    nullifies: BTreeMap<ValidatorIndex, Signature>,
    finalizes: BTreeMap<ValidatorIndex, (BlockId, Signature)>,
    notarization: Option<Certificate>,
    nullification: Option<Certificate>,
    finalization: Option<Certificate>,
    /// What this node signed in the view (recorded at signing time, before it is durable).
    signed_notarize: Option<BlockId>,
    signed_nullify: bool,
    signed_finalize: Option<BlockId>,
    /// This node (as leader) asked the host to build on this parent (view, block).
    build_parent: Option<(View, BlockRef)>,
    /// This node (as leader) signed its proposal.
    proposed: bool,
    /// Evidence already reported, so each equivocation is reported once.
    reported: BTreeSet<(ValidatorIndex, VoteKind)>,
    proposal_equivocation_reported: bool,
    /// Messages counted against `Config::future_messages_max` while the view was ahead.
    future_messages: usize,
}

impl ViewState {
    /// The certificate of `kind` held for the view.
    fn certificate(&self, kind: VoteKind) -> Option<&Certificate> {
        match kind {
            VoteKind::Notarize => self.notarization.as_ref(),
            VoteKind::Nullify => self.nullification.as_ref(),
            VoteKind::Finalize => self.finalization.as_ref(),
        }
    }

    /// Where the certificate of `kind` is held.
    fn certificate_slot(&mut self, kind: VoteKind) -> &mut Option<Certificate> {
        match kind {
            VoteKind::Notarize => &mut self.notarization,
            VoteKind::Nullify => &mut self.nullification,
            VoteKind::Finalize => &mut self.finalization,
        }
    }

    /// Whether the view's notarization or finalization certifies `block_id`: such a block may
    /// be a later proposal's parent or a commit, so it is kept after the view is left.
    fn certifies(&self, block_id: BlockId) -> bool {
        [&self.notarization, &self.finalization]
            .into_iter()
            .flatten()
            .any(|certificate| certificate.subject.block_id() == Some(block_id))
    }
}

/// A message this node signed, waiting for its WAL entry to be durable.
#[derive(Debug)]
enum Outgoing {
    Proposal(Proposal),
    Vote(Vote),
}

/// Sizes of the core's collections (see [`Core::stats`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stats {
    /// Views with state: unfinalized past views, the current view, buffered future views.
    pub views_held: usize,
    /// Blocks held (proposals, built, fetched; pruned once committed, or when their view is
    /// left and nothing needs them).
    pub blocks_held: usize,
    /// Proposals and votes held for views ahead of the current one.
    pub future_messages: usize,
    /// Fetches requested and not yet answered.
    pub fetches_outstanding: usize,
    /// Messages this node signed that wait for their WAL entry to be acknowledged.
    pub unsent_signed_messages: usize,
}

/// One validator's consensus state machine. See the crate documentation for the protocol and
/// `API.md` for the host contract.
pub struct Core<S: Scheme> {
    config: Config,
    scheme: S,
    n: usize,
    quorum: usize,
    validators_hash: Hash,
    started: bool,
    /// The current view; never decreases.
    view: View,
    /// Views entered through a nullification since the last notarization or finalization.
    consecutive_nullified: u32,
    /// The next nullify re-broadcast period in the current view.
    nullify_retry_ms: u64,
    /// Per-view state for views in (finalized_view, view + view_window] (and beyond, for
    /// certificates only).
    views: BTreeMap<View, ViewState>,
    /// Blocks of held proposals, built blocks and fetched blocks not yet committed (see
    /// [`Core::drop_past_proposals`] for when a proposal's block goes earlier).
    blocks: BTreeMap<BlockId, Block>,
    /// The last block emitted as `Commit` (or the anchor / last synced block).
    committed: BlockRef,
    /// The highest finalized view known, its block, and its certificate (None when the
    /// finalization is the anchor and the WAL does not hold its certificate, or came from
    /// sync).
    finalized_view: View,
    finalized_id: BlockId,
    finalization: Option<Certificate>,
    /// The highest-view certificate seen; re-broadcast while stuck and sent to laggards.
    latest_certificate: Option<Certificate>,
    /// Messages currently held for views ahead of `view`.
    future_messages: usize,
    /// Blocks requested with `Fetch` and not yet received.
    fetching: BTreeSet<BlockId>,
    fetch_timer_armed: bool,
    /// While a `Sync` is outstanding: the `FetchRetry` expiries left before it is re-issued.
    /// At most one sync is outstanding, so a long sync is not re-requested at every fetch
    /// retry nor at every new finalization.
    sync_retry_ticks: Option<u64>,
    /// Where the next page of a justification longer than one send starts (see
    /// [`Core::justification`]).
    justification_cursor: View,
    /// Per peer, the view of ours at which we last sent it catch-up help.
    helped: BTreeMap<ValidatorIndex, View>,
    /// The last message this node signed (from the WAL, the host's kept record and this
    /// run); every signature passes [`SignState::check`] against it first.
    sign_state: SignState,
    next_ticket: u64,
    persisted: u64,
    outbox: VecDeque<(Ticket, Outgoing)>,
    effects: Vec<Effect>,
}

impl<S: Scheme> Core<S> {
    /// A core for a node with an empty WAL, starting after `config.anchor`.
    pub fn new(config: Config, scheme: S) -> Result<Self, ConfigError> {
        config.validate()?;
        let probe = scheme.sign(Namespace::Proposal, &[]);
        // A proposal payload is never empty, so this signature can never be replayed as one.
        if !scheme.verify(config.me, Namespace::Proposal, &[], &probe) {
            return Err(ConfigError::SchemeNotMe(config.me));
        }
        let n = config.validators.len();
        let quorum = config.validators.quorum();
        let validators_hash = config.validators.hash();
        let anchor = config.anchor;
        // A later epoch's core starts on the last block of the one before: its views count
        // from the epoch's base, which stands in for the finalized view.
        let start = anchor.view.max(View::epoch_base(config.epoch));
        let nullify_retry_ms = config.nullify_retry_ms;
        let anchor_finalization = config.anchor_finalization.clone();
        let mut core = Core {
            config,
            scheme,
            n,
            quorum,
            validators_hash,
            started: false,
            view: start.next(),
            consecutive_nullified: 0,
            nullify_retry_ms,
            views: BTreeMap::new(),
            blocks: BTreeMap::new(),
            committed: anchor,
            finalized_view: start,
            finalized_id: anchor.id,
            finalization: None,
            latest_certificate: None,
            future_messages: 0,
            fetching: BTreeSet::new(),
            fetch_timer_armed: false,
            sync_retry_ticks: None,
            justification_cursor: View(0),
            helped: BTreeMap::new(),
            sign_state: SignState::default(),
            next_ticket: 1,
            persisted: 0,
            outbox: VecDeque::new(),
            effects: Vec::new(),
        };
        if let Some(certificate) = anchor_finalization {
            core.adopt_anchor_finalization(certificate);
        }
        Ok(core)
    }

    /// A core rebuilt from the WAL entries of an earlier run, in the order they were written.
    /// The restored core never signs a vote that conflicts with one in `entries`.
    pub fn restore(
        config: Config,
        scheme: S,
        entries: impl IntoIterator<Item = WalEntry>,
    ) -> Result<Self, RestoreError> {
        let mut core = Core::new(config, scheme)?;
        let me = core.config.me;
        let mut highest_view = core.view;
        for entry in entries {
            let view = entry.view();
            // An earlier epoch's entries belong to its finished instance (the host committed
            // that epoch's last block before starting this one); a later epoch's mean the host
            // chose the wrong epoch.
            if view.epoch() < core.config.epoch {
                continue;
            }
            if view.epoch() > core.config.epoch {
                return Err(RestoreError::LaterEpoch { view, epoch: core.config.epoch });
            }
            match entry {
                WalEntry::Vote(vote) => {
                    if vote.signer != me {
                        return Err(RestoreError::ForeignSignature { view, signer: vote.signer });
                    }
                    core.sign_state.record(Signed::vote(&vote.subject));
                    core.restore_vote(vote)?;
                    // A finalize is signed only after the view's notarization, whose WAL entry
                    // precedes it, so the certificate entry already moved the view past it.
                    highest_view = highest_view.max(view);
                }
                WalEntry::Proposal(proposal) => {
                    if core.config.validators.leader(view) == me {
                        core.sign_state.record(Signed::proposal(view, proposal.block.id()));
                    }
                    core.restore_proposal(proposal)?;
                    // This node proposed or notarized in the view, so it was there.
                    highest_view = highest_view.max(view);
                }
                WalEntry::Certificate(certificate) => {
                    if !view_has_successor(view) || !core.verify_certificate(&certificate) {
                        return Err(RestoreError::BadCertificate(view));
                    }
                    core.restore_certificate(certificate);
                    highest_view = highest_view.max(view.next());
                }
            }
        }
        core.view = highest_view.max(core.finalized_view.next());
        core.prune_finalized();
        // Keep what a running core would have kept: below the highest notarized view only
        // certified blocks, above it also the blocks this node notarized.
        let floor = core.finalized_view.next();
        let highest_notarized = core
            .views
            .range(floor..core.view)
            .rev()
            .find(|(_, state)| state.notarization.is_some())
            .map(|(view, _)| *view);
        if let Some(notarized) = highest_notarized {
            core.drop_past_proposals(floor..notarized, false);
        }
        core.drop_past_proposals(floor..core.view, true);
        Ok(core)
    }

    /// Gives the core the sign state the host kept beside the key (see [`crate::sign_state`]):
    /// it signs nothing at or below it but the very message recorded. Call before
    /// [`Core::start`]; the core keeps the later of this and what its WAL showed it signed.
    pub fn with_sign_state(mut self, kept: SignState) -> Self {
        assert!(!self.started, "Core::with_sign_state is called before start");
        self.sign_state = self.sign_state.later(kept);
        self
    }

    /// The last message this node signed, as far as the core knows.
    pub fn sign_state(&self) -> SignState {
        self.sign_state
    }

    /// While the current view is below the view of the last signature (a node whose WAL and
    /// store were lost restarts far behind its sign state), the core signs nothing: it follows
    /// certificates until it is past that view. Returns that view while it does.
    pub fn following_until(&self) -> Option<View> {
        let last = self.sign_state.view();
        (self.view < last).then_some(last)
    }

    /// Whether `signed` may be signed now; records it when so and asks the host to keep the
    /// record durable before the message's WAL entry ([`Effect::PersistSignState`]).
    fn sign_guard(&mut self, signed: Signed) -> bool {
        // The deliberately broken core of the simulator's oracle test notarizes twice per
        // view; the guard would stop it.
        if !self.faults_notarize_twice() && self.sign_state.check(&signed).is_err() {
            return false;
        }
        let before = self.sign_state;
        self.sign_state.record(signed);
        if self.sign_state != before {
            self.effects.push(Effect::PersistSignState(self.sign_state));
        }
        true
    }

    /// The effects of starting: the view's timers, re-broadcast of this node's durable
    /// messages for unfinished views (a crash may have fallen between Persist and Send; a
    /// proposal goes with its justification), Finalize for restored notarizations of views
    /// this node neither nullified nor finalized (a crash may have fallen between persisting
    /// the notarization and signing), a build request if this node leads, and commits or
    /// fetches a restored finalization needs.
    /// Call exactly once, before any [`Core::on_input`].
    pub fn start(&mut self) -> Vec<Effect> {
        assert!(!self.started, "Core::start is called once");
        self.started = true;
        self.set_view_timers();
        let me = self.config.me;
        let mut resend = Vec::new();
        // R6 after a crash between persisting a notarization and signing Finalize for it.
        let mut unfinalized = Vec::new();
        for (view, state) in &self.views {
            if state.proposed
                && let Some(held) = &state.proposal
                && let Some(block) = self.blocks.get(&held.block_id)
            {
                resend.push(Message::Proposal(Proposal {
                    view: *view,
                    parent_view: held.parent_view,
                    block: block.clone(),
                    signature: held.signature,
                }));
            }
            if let Some(block_id) = state.notarization.as_ref().and_then(|n| n.subject.block_id())
                && !state.signed_nullify
                && state.signed_finalize.is_none()
            {
                unfinalized.push(Subject::Finalize { view: *view, block_id });
            }
            if let Some((block_id, signature)) = state.notarizes.get(&me) {
                let subject = Subject::Notarize { view: *view, block_id: *block_id };
                resend.push(Message::Vote(Vote { subject, signer: me, signature: *signature }));
            }
            if let Some(signature) = state.nullifies.get(&me) {
                let subject = Subject::Nullify { view: *view };
                resend.push(Message::Vote(Vote { subject, signer: me, signature: *signature }));
            }
            if let Some((block_id, signature)) = state.finalizes.get(&me) {
                let subject = Subject::Finalize { view: *view, block_id: *block_id };
                resend.push(Message::Vote(Vote { subject, signer: me, signature: *signature }));
            }
        }
        for message in resend {
            match message {
                Message::Proposal(proposal) => self.send_proposal(proposal),
                message => self.effects.push(Effect::Send { to: Recipient::All, message }),
            }
        }
        for subject in unfinalized {
            // Signed like any vote: sent only once its WAL entry is acknowledged.
            self.sign_vote(subject);
        }
        if self.views.get(&self.view).is_some_and(|state| state.signed_nullify) {
            self.set_timer(TimerKind::NullifyRetry, self.nullify_retry_ms);
        }
        self.progress();
        std::mem::take(&mut self.effects)
    }

    /// Feeds one input; returns the effects to perform, in order.
    pub fn on_input(&mut self, input: Input) -> Vec<Effect> {
        assert!(self.started, "Core::start must be called before Core::on_input");
        match input {
            Input::Message { from, message } => self.on_message(from, message),
            Input::Timeout(timer) => self.on_timeout(timer),
            Input::Persisted(ticket) => self.on_persisted(ticket),
            Input::BlockVerified { view, block_id, valid } => self.on_block_verified(view, block_id, valid),
            Input::BlockBuilt { view, block } => self.on_block_built(view, block),
            Input::BlockFetched { block } => self.on_block_fetched(block),
            Input::Synced { anchor, finalization } => self.on_synced(anchor, finalization),
        }
        std::mem::take(&mut self.effects)
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// The last block emitted as `Commit` (or the anchor, or the last block synced).
    pub fn committed(&self) -> BlockRef {
        self.committed
    }

    /// The highest finalized view known (its block may not be committed yet).
    pub fn finalized_view(&self) -> View {
        self.finalized_view
    }

    /// A block the core holds, for serving peers' fetches.
    pub fn block(&self, id: &BlockId) -> Option<&Block> {
        self.blocks.get(id)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The signature scheme, for a host that checks certificates off the core's thread (sync)
    /// the same way the core does.
    pub fn scheme(&self) -> &S {
        &self.scheme
    }

    /// Sizes of the core's remotely fed collections, for metrics and bound checks.
    pub fn stats(&self) -> Stats {
        Stats {
            views_held: self.views.len(),
            blocks_held: self.blocks.len(),
            future_messages: self.future_messages,
            fetches_outstanding: self.fetching.len(),
            unsent_signed_messages: self.outbox.len(),
        }
    }

    // ----- inputs -------------------------------------------------------------------------

    fn on_message(&mut self, from: ValidatorIndex, message: Message) {
        if usize::from(from.0) >= self.n || from == self.config.me {
            return;
        }
        // R8: another epoch's messages are another instance's; none is read here.
        if message.view().epoch() != self.config.epoch {
            return;
        }
        match message {
            Message::Proposal(proposal) => self.on_proposal(from, proposal),
            Message::Vote(vote) => self.on_vote(from, vote),
            Message::Certificate(certificate) => self.on_certificate_message(certificate),
        }
    }

    /// R1/R3: accept a leader's proposal for later notarization.
    fn on_proposal(&mut self, from: ValidatorIndex, proposal: Proposal) {
        let view = proposal.view;
        if view <= self.finalized_view {
            self.help(from);
            return;
        }
        if !self.in_window(view) {
            return;
        }
        let leader = self.config.validators.leader(view);
        if leader == self.config.me {
            // Only this node signs its proposals; a copy from the network adds nothing.
            return;
        }
        let block_id = proposal.block.id();
        if let Some(held) = self.views.get(&view).and_then(|state| state.proposal.as_ref()) {
            if held.block_id == block_id && held.parent_view == proposal.parent_view {
                return;
            }
            self.on_conflicting_proposal(proposal);
            return;
        }
        if view > self.view && self.future_messages >= self.config.future_messages_max {
            return;
        }
        // A view already left cannot be notarized here any more: its block is kept only if
        // certified (a later proposal's parent, or a commit), as when the view was left.
        if view < self.view && !self.views.get(&view).is_some_and(|state| state.certifies(block_id)) {
            return;
        }
        if !self.verify_proposal_signature(&proposal) {
            return;
        }
        if !self.proposal_header_ok(&proposal) {
            // The leader signed a malformed proposal: nothing in this view can be notarized.
            if view == self.view {
                self.nullify_current();
            }
            return;
        }
        self.hold_proposal(proposal);
        self.progress();
    }

    /// Header fields the core can check without the parent; a signed proposal failing them
    /// is a faulty leader's, and is dropped (the view then times out, R5).
    fn proposal_header_ok(&self, proposal: &Proposal) -> bool {
        let header = &proposal.block.header;
        // R8: a re-proposal names a block notarized at `parent_view`, proposed in its own view
        // (that view, or an earlier one when it was re-proposed before) by that view's leader;
        // any other proposal names a new block of its view.
        let view_ok = if is_reproposal(proposal) {
            header.view <= proposal.parent_view
        } else {
            header.view == proposal.view
        };
        view_ok
            && header.view.epoch() == self.config.epoch
            && header.proposer == self.config.validators.leader(header.view)
            && header.check_chain(&self.config.chain_id, &self.validators_hash).is_ok()
            && proposal.parent_view < proposal.view
            && proposal.parent_view >= self.finalized_view
    }

    fn hold_proposal(&mut self, proposal: Proposal) {
        let view = proposal.view;
        let block_id = proposal.block.id();
        let ahead = view > self.view;
        let state = self.views.entry(view).or_default();
        state.proposal = Some(HeldProposal {
            parent_view: proposal.parent_view,
            block_id,
            signature: proposal.signature,
            verification: Verification::NotRequested,
        });
        if ahead {
            state.future_messages += 1;
            self.future_messages += 1;
        }
        self.blocks.insert(block_id, proposal.block);
    }

    /// A second, different proposal by the view's leader: evidence, reported once.
    fn on_conflicting_proposal(&mut self, proposal: Proposal) {
        let view = proposal.view;
        let Some(state) = self.views.get(&view) else { return };
        let Some(held) = state.proposal.clone() else { return };
        if state.proposal_equivocation_reported || !self.verify_proposal_signature(&proposal) {
            return;
        }
        let Some(block) = self.blocks.get(&held.block_id) else { return };
        let first =
            Proposal { view, parent_view: held.parent_view, block: block.clone(), signature: held.signature };
        if let Some(state) = self.views.get_mut(&view) {
            state.proposal_equivocation_reported = true;
        }
        #[cfg(feature = "test-faults")]
        if self.config.faults.notarize_twice_per_view && self.proposal_header_ok(&proposal) {
            // Deliberately broken (R2): adopt the second proposal so that it is notarized too.
            self.effects.push(Effect::Evidence(Evidence::ConflictingProposals {
                first: Box::new(first),
                second: Box::new(proposal.clone()),
            }));
            if let Some(state) = self.views.get_mut(&view) {
                state.proposal = None;
            }
            self.hold_proposal(proposal);
            self.progress();
            return;
        }
        self.effects.push(Effect::Evidence(Evidence::ConflictingProposals {
            first: Box::new(first),
            second: Box::new(proposal),
        }));
    }

    fn on_vote(&mut self, from: ValidatorIndex, vote: Vote) {
        let view = vote.subject.view();
        let signer = vote.signer;
        if usize::from(signer.0) >= self.n || signer == self.config.me {
            return;
        }
        // A sender is behind when it still votes two views back, or re-sends a nullify for a
        // view we left (it is stuck there): send it our certificates. One view back is the
        // normal tail of votes arriving after a certificate.
        let behind = match vote.subject {
            Subject::Nullify { .. } => view < self.view,
            Subject::Notarize { .. } => view.0.saturating_add(1) < self.view.0,
            Subject::Finalize { .. } => view.0.saturating_add(2) < self.view.0,
        };
        if behind {
            self.help(from);
        }
        if view <= self.finalized_view || !self.in_window(view) {
            return;
        }
        let kind = VoteKind::of(&vote.subject);
        let existing = self.views.get(&view);
        if let Some(state) = existing {
            // A certificate of this kind exists: more votes cannot change anything.
            if state.certificate(kind).is_some() {
                return;
            }
            if let Some(first) = stored_vote(view, state, signer, kind) {
                if first.subject != vote.subject && self.verify_vote(&vote) {
                    self.report_votes(first, vote, kind);
                }
                return;
            }
        }
        if view > self.view && self.future_messages >= self.config.future_messages_max {
            return;
        }
        if !self.verify_vote(&vote) {
            return;
        }
        // Nullify and finalize by one signer in one view conflict (an honest node never signs
        // both); both still count, each toward its own certificate.
        let opposite = match kind {
            VoteKind::Nullify => Some(VoteKind::Finalize),
            VoteKind::Finalize => Some(VoteKind::Nullify),
            VoteKind::Notarize => None,
        };
        if let Some(opposite) = opposite
            && let Some(first) =
                self.views.get(&view).and_then(|state| stored_vote(view, state, signer, opposite))
        {
            self.report_votes(first, vote.clone(), kind);
        }
        if view > self.view {
            let state = self.views.entry(view).or_default();
            state.future_messages += 1;
            self.future_messages += 1;
        }
        self.add_vote(vote);
        self.progress();
    }

    fn report_votes(&mut self, first: Vote, second: Vote, kind: VoteKind) {
        let view = first.subject.view();
        let signer = first.signer;
        let state = self.views.entry(view).or_default();
        if state.reported.insert((signer, kind)) {
            self.effects.push(Effect::Evidence(Evidence::ConflictingVotes {
                first: Box::new(first),
                second: Box::new(second),
            }));
        }
    }

    /// Records a verified (or own, durable) vote and assembles a certificate on a quorum.
    fn add_vote(&mut self, vote: Vote) {
        let view = vote.subject.view();
        if view <= self.finalized_view {
            return;
        }
        let state = self.views.entry(view).or_default();
        // The vote is recorded even when its certificate exists (a restarted node re-sends its
        // own durable votes from here), but then there is nothing to assemble.
        let done = state.certificate(VoteKind::of(&vote.subject)).is_some();
        let votes: Vec<(ValidatorIndex, Signature)> = match vote.subject {
            Subject::Notarize { block_id, .. } => {
                state.notarizes.entry(vote.signer).or_insert((block_id, vote.signature));
                same_block(&state.notarizes, block_id)
            }
            Subject::Nullify { .. } => {
                state.nullifies.entry(vote.signer).or_insert(vote.signature);
                state.nullifies.iter().map(|(signer, signature)| (*signer, *signature)).collect()
            }
            Subject::Finalize { block_id, .. } => {
                state.finalizes.entry(vote.signer).or_insert((block_id, vote.signature));
                same_block(&state.finalizes, block_id)
            }
        };
        if !done && votes.len() >= self.quorum {
            let certificate = Certificate::from_votes(vote.subject, &votes, self.n)
                .expect("votes are keyed by distinct validator indices below n");
            self.on_certificate(certificate);
        }
    }

    fn on_certificate_message(&mut self, certificate: Certificate) {
        let view = certificate.subject.view();
        if view <= self.finalized_view || !view_has_successor(view) {
            return;
        }
        if self
            .views
            .get(&view)
            .is_some_and(|state| state.certificate(VoteKind::of(&certificate.subject)).is_some())
        {
            return;
        }
        // Certificates are accepted for any view ahead (R7): a quorum signed them, so they
        // cannot be flooded by fewer than Q validators, and they are not buffered.
        if !self.verify_certificate(&certificate) {
            return;
        }
        self.on_certificate(certificate);
        self.progress();
    }

    /// R6/R7: a new verified certificate (assembled here or received).
    fn on_certificate(&mut self, certificate: Certificate) {
        let view = certificate.subject.view();
        if view <= self.finalized_view {
            return;
        }
        let slot = self.views.entry(view).or_default().certificate_slot(VoteKind::of(&certificate.subject));
        if slot.is_some() {
            return;
        }
        *slot = Some(certificate.clone());
        self.persist(WalEntry::Certificate(certificate.clone()), None);
        let advances = view >= self.view;
        let is_finalization = matches!(certificate.subject, Subject::Finalize { .. });
        // R7: forward once. A finalization is forwarded whenever it is new, so that nodes
        // behind can commit; other certificates only when they move this node.
        if advances || is_finalization {
            self.effects.push(Effect::Send {
                to: Recipient::All,
                message: Message::Certificate(certificate.clone()),
            });
        }
        if self.latest_certificate.as_ref().is_none_or(|latest| view >= latest.subject.view()) {
            self.latest_certificate = Some(certificate.clone());
        }
        match certificate.subject {
            Subject::Notarize { block_id, .. } => {
                // Leaders extend the highest notarized block they know, so blocks of earlier
                // views that nothing certifies are no longer needed, even those notarized here.
                let below = self.finalized_view.next()..view.min(self.view);
                self.drop_past_proposals(below, false);
                // R6: finalize the notarized block unless this node nullified the view (an
                // honest node never signs both nullify and finalize in one view).
                let state = self.views.entry(view).or_default();
                if !state.signed_nullify && state.signed_finalize.is_none() {
                    self.sign_vote(Subject::Finalize { view, block_id });
                }
                if advances {
                    self.enter_view(view.next(), true);
                }
            }
            Subject::Nullify { .. } => {
                if advances {
                    self.enter_view(view.next(), false);
                }
            }
            Subject::Finalize { block_id, .. } => {
                self.finalized_view = view;
                self.finalized_id = block_id;
                self.finalization = Some(certificate);
                self.consecutive_nullified = 0;
                if advances {
                    self.enter_view(view.next(), true);
                }
                self.prune_finalized();
                self.try_commit();
            }
        }
    }

    fn on_timeout(&mut self, timer: Timer) {
        match timer.kind {
            TimerKind::Leader => {
                // R5: no proposal by 2Δ.
                if timer.view == self.view {
                    let state = self.views.get(&self.view);
                    let no_proposal = state.is_none_or(|state| state.proposal.is_none());
                    if no_proposal {
                        self.nullify_current();
                    }
                }
            }
            TimerKind::Advance => {
                // R5: no notarization by 3Δ.
                if timer.view == self.view {
                    self.nullify_current();
                }
            }
            TimerKind::NullifyRetry => {
                if timer.view == self.view {
                    self.rebroadcast_nullify();
                }
            }
            TimerKind::FetchRetry => {
                self.fetch_timer_armed = false;
                // Recompute what is still needed: stale requests disappear, live ones repeat.
                self.fetching.clear();
                // An outstanding sync is re-issued on a slower period (about `timeout_max_ms`):
                // a sync of many blocks takes longer than a fetch.
                match self.sync_retry_ticks {
                    Some(ticks) if ticks > 1 => {
                        self.sync_retry_ticks = Some(ticks - 1);
                        self.arm_fetch_timer();
                    }
                    Some(_) => self.sync_retry_ticks = None,
                    None => {}
                }
                self.progress();
            }
        }
    }

    fn on_persisted(&mut self, ticket: Ticket) {
        debug_assert!(ticket.0 < self.next_ticket, "Persisted({}) for a ticket never issued", ticket.0);
        let acknowledged = ticket.0.min(self.next_ticket.saturating_sub(1));
        if acknowledged <= self.persisted {
            return;
        }
        self.persisted = acknowledged;
        while self.outbox.front().is_some_and(|(ticket, _)| ticket.0 <= acknowledged) {
            let Some((_, outgoing)) = self.outbox.pop_front() else { break };
            match outgoing {
                Outgoing::Proposal(proposal) => {
                    self.send_proposal(proposal);
                }
                Outgoing::Vote(vote) => {
                    self.effects
                        .push(Effect::Send { to: Recipient::All, message: Message::Vote(vote.clone()) });
                    // Counted only now, so that no certificate carries this node's signature
                    // before the signature is durable.
                    self.add_vote(vote);
                }
            }
        }
        self.progress();
    }

    /// R1: sends this node's proposal, preceded by its justification, so that a peer that
    /// missed a certificate for the parent or a skipped view can still check R3. Each later
    /// leader does the same while the chain does not advance.
    fn send_proposal(&mut self, proposal: Proposal) {
        for certificate in self.justification(proposal.view, Some(proposal.parent_view)) {
            self.effects
                .push(Effect::Send { to: Recipient::All, message: Message::Certificate(certificate) });
        }
        self.effects.push(Effect::Send { to: Recipient::All, message: Message::Proposal(proposal) });
    }

    fn on_block_verified(&mut self, view: View, block_id: BlockId, valid: bool) {
        let Some(held) = self.views.get_mut(&view).and_then(|state| state.proposal.as_mut()) else { return };
        if held.block_id != block_id || held.verification != Verification::Requested {
            return;
        }
        if valid {
            held.verification = Verification::Valid;
        } else {
            self.mark_invalid(view);
        }
        self.progress();
    }

    /// R1: sign and send the proposal for a block the host built, with the leader's notarize.
    fn on_block_built(&mut self, view: View, block: Block) {
        if view != self.view {
            return;
        }
        let Some(state) = self.views.get(&view) else { return };
        if state.proposed || state.signed_nullify || state.signed_notarize.is_some() {
            return;
        }
        let Some((parent_view, parent)) = state.build_parent else { return };
        let header = &block.header;
        // R8: the host answers with the parent itself when the parent ends its epoch.
        let well_formed = if block.id() == parent.id {
            header.view <= parent_view
        } else {
            header.view == view
                && header.proposer == self.config.me
                && self.check_child(header, &parent).is_ok()
        };
        debug_assert!(well_formed, "the host built a block that does not extend the requested parent");
        if !well_formed {
            return;
        }
        let block_id = block.id();
        // The leader's notarize follows at once: both must pass the sign state.
        let notarize = Signed::vote(&Subject::Notarize { view, block_id });
        let refused = self.sign_state.check(&notarize).is_err() && !self.faults_notarize_twice();
        if refused || !self.sign_guard(Signed::proposal(view, block_id)) {
            return;
        }
        let signature =
            self.scheme.sign(Namespace::Proposal, &Proposal::payload(view, parent_view, block_id));
        let proposal = Proposal { view, parent_view, block: block.clone(), signature };
        let state = self.views.entry(view).or_default();
        state.proposed = true;
        state.proposal =
            Some(HeldProposal { parent_view, block_id, signature, verification: Verification::Valid });
        self.blocks.insert(block_id, block);
        self.persist(WalEntry::Proposal(proposal.clone()), Some(Outgoing::Proposal(proposal)));
        // The proposal counts as the leader's notarize only through this vote (API.md).
        self.sign_vote(Subject::Notarize { view, block_id });
    }

    fn on_block_fetched(&mut self, block: Block) {
        let block_id = block.id();
        if !self.fetching.remove(&block_id) {
            return;
        }
        let ids: Vec<_> = block.txs.iter().map(|tx| tx.id()).collect();
        if block.header.check_chain(&self.config.chain_id, &self.validators_hash).is_err()
            || tx_root(&ids) != block.header.tx_root
        {
            // The id covers only the header; a body that does not match it is junk from a
            // faulty peer. Ask again on the retry timer.
            self.fetching.insert(block_id);
            return;
        }
        self.blocks.insert(block_id, block);
        self.progress();
    }

    fn on_synced(&mut self, anchor: BlockRef, finalization: Option<Certificate>) {
        if anchor.height <= self.committed.height {
            return;
        }
        self.committed = anchor;
        self.sync_retry_ticks = None;
        if anchor.view > self.finalized_view {
            self.finalized_view = anchor.view;
            self.finalized_id = anchor.id;
            self.finalization = None;
            if let Some(certificate) = finalization {
                self.adopt_anchor_finalization(certificate);
            }
        }
        if anchor.view >= self.view {
            self.enter_view(anchor.view.next(), true);
        }
        self.prune_finalized();
        self.progress();
    }

    // ----- rules --------------------------------------------------------------------------

    /// Re-evaluates everything that may have become possible: proposing (R1), notarizing the
    /// current view (R2–R4), committing (R6).
    fn progress(&mut self) {
        self.try_propose();
        self.try_notarize();
        self.try_commit();
    }

    /// R1: the leader extends the highest notarized block it knows, with nullifications for
    /// every view skipped since.
    fn try_propose(&mut self) {
        let view = self.view;
        if self.config.validators.leader(view) != self.config.me {
            return;
        }
        if let Some(state) = self.views.get(&view)
            && (state.build_parent.is_some() || state.proposed || state.signed_nullify)
        {
            return;
        }
        let Some((parent_view, parent)) = self.proposal_parent(view) else { return };
        self.views.entry(view).or_default().build_parent = Some((parent_view, parent));
        self.effects.push(Effect::BuildBlock { view, parent });
    }

    /// The parent a proposal for `view` extends: the highest view below it with a
    /// notarization, every view in between nullified (or the finalized block). None when a
    /// certificate is missing, or when the parent block is not held (then it is fetched).
    fn proposal_parent(&mut self, view: View) -> Option<(View, BlockRef)> {
        let mut candidate = View(view.0 - 1);
        let parent_id = loop {
            if candidate <= self.finalized_view {
                break self.finalized_id;
            }
            let state = self.views.get(&candidate)?;
            if let Some(notarization) = &state.notarization {
                break notarization.subject.block_id().expect("a notarization names a block");
            }
            state.nullification.as_ref()?;
            candidate = View(candidate.0 - 1);
        };
        let parent_view = candidate.max(self.finalized_view);
        match self.block_ref(&parent_id) {
            Some(parent) => Some((parent_view, parent)),
            None => {
                self.fetch(parent_id);
                None
            }
        }
    }

    /// R2–R4: notarize the current view's proposal once, only if valid, extending a notarized
    /// parent with nullifications for every skipped view, and only if not nullified here.
    fn try_notarize(&mut self) {
        let view = self.view;
        let Some(state) = self.views.get(&view) else { return };
        let Some(held) = state.proposal.clone() else { return };
        // R2: at most once per view.
        if state.signed_notarize.is_some() && !self.faults_notarize_twice() {
            return;
        }
        if state.signed_notarize == Some(held.block_id) {
            return;
        }
        // R4: never after nullifying the view.
        if state.signed_nullify || held.verification == Verification::Invalid {
            return;
        }
        // R3: the parent is the finalized block or a notarized one (R8: for a re-proposal,
        // the block itself is)...
        let reproposal = match self.blocks.get(&held.block_id) {
            Some(block) => block.header.view != view,
            None => return,
        };
        let parent_id = match self.blocks.get(&held.block_id) {
            Some(_) if reproposal => held.block_id,
            Some(block) => block.header.parent_id,
            None => return,
        };
        match self.parent_standing(held.parent_view, parent_id) {
            ParentStanding::Holds => {}
            ParentStanding::Unknown => return,
            ParentStanding::Refuted => {
                self.mark_invalid(view);
                return;
            }
        }
        // ...and every view between the parent's and this one is nullified.
        if !self.faults_skip_nullification_check() && !self.views_nullified_between(held.parent_view, view) {
            return;
        }
        let Some(parent) = self.block_ref(&parent_id) else {
            self.fetch(parent_id);
            return;
        };
        let Some(block) = self.blocks.get(&held.block_id) else { return };
        // The parent link holds by construction (the parent is the one the header names); the
        // chain id and validators hash were checked on receipt, and are cheap to check again.
        // A re-proposal's block is already notarized: the host checks only that it ends its
        // epoch (it gets the block as its own parent).
        if !reproposal && self.check_child(&block.header, &parent).is_err() {
            self.mark_invalid(view);
            return;
        }
        match held.verification {
            Verification::NotRequested => {
                let block = block.clone();
                if let Some(held) = self.views.get_mut(&view).and_then(|s| s.proposal.as_mut()) {
                    held.verification = Verification::Requested;
                }
                self.effects.push(Effect::VerifyBlock { view, block, parent });
            }
            Verification::Requested | Verification::Invalid => {}
            Verification::Valid => self.notarize_verified(view, &held),
        }
    }

    /// R3: whether `parent_id`, proposed as the block of `parent_view`, is the finalized block
    /// or the one notarized in that view.
    fn parent_standing(&self, parent_view: View, parent_id: BlockId) -> ParentStanding {
        if parent_view < self.finalized_view {
            return ParentStanding::Refuted;
        }
        if parent_view == self.finalized_view {
            return if parent_id == self.finalized_id {
                ParentStanding::Holds
            } else {
                ParentStanding::Refuted
            };
        }
        match self.views.get(&parent_view).and_then(|s| s.notarization.as_ref()) {
            None => ParentStanding::Unknown,
            Some(notarization) if notarization.subject.block_id() == Some(parent_id) => ParentStanding::Holds,
            Some(_) => ParentStanding::Refuted,
        }
    }

    /// R3: every view strictly between `parent_view` and `view` is nullified here.
    fn views_nullified_between(&self, parent_view: View, view: View) -> bool {
        let mut skipped = parent_view.next();
        while skipped < view {
            if self.views.get(&skipped).is_none_or(|s| s.nullification.is_none()) {
                return false;
            }
            skipped = skipped.next();
        }
        true
    }

    /// Notarizes the held proposal of `view`, whose block the host found valid.
    fn notarize_verified(&mut self, view: View, held: &HeldProposal) {
        if self.sign_state.check(&Signed::vote(&Subject::Notarize { view, block_id: held.block_id })).is_err()
            && !self.faults_notarize_twice()
        {
            return;
        }
        // Availability: the block is durable before the notarize for it can leave this
        // node (a lower ticket than the vote's), so the f + 1 honest notarizers behind
        // any notarization still hold the block after a crash and serve it to fetches.
        // A leader's own proposal was persisted when it was signed.
        if self.config.validators.leader(view) != self.config.me {
            let block = self.blocks.get(&held.block_id).expect("the caller found the held block").clone();
            let proposal = Proposal { view, parent_view: held.parent_view, block, signature: held.signature };
            self.persist(WalEntry::Proposal(proposal), None);
        }
        self.sign_vote(Subject::Notarize { view, block_id: held.block_id });
    }

    /// The view's proposal cannot be notarized. Waiting for the timeout would only delay the
    /// view change, so the current view is nullified at once (R5 allows nullifying any time
    /// before finalizing).
    fn mark_invalid(&mut self, view: View) {
        if let Some(held) = self.views.get_mut(&view).and_then(|s| s.proposal.as_mut()) {
            held.verification = Verification::Invalid;
        }
        if view == self.view {
            self.nullify_current();
        }
    }

    /// R5: nullify the current view unless already nullified or finalized here.
    fn nullify_current(&mut self) {
        let view = self.view;
        let state = self.views.entry(view).or_default();
        if state.signed_nullify || state.signed_finalize.is_some() {
            return;
        }
        let no_proposal = state.proposal.is_none();
        if !self.sign_vote(Subject::Nullify { view }) {
            return;
        }
        self.set_timer(TimerKind::NullifyRetry, self.nullify_retry_ms);
        if no_proposal {
            // The leader may be missing a certificate it needs to propose (R1): give every
            // peer this node's justification, so the next leaders hold the union of them.
            self.broadcast_justification();
        }
    }

    /// R5: while stuck, re-send this node's (durable) nullify and the latest certificate, with
    /// the period doubling up to `timeout_max_ms`.
    fn rebroadcast_nullify(&mut self) {
        let me = self.config.me;
        let view = self.view;
        if let Some(signature) = self.views.get(&view).and_then(|s| s.nullifies.get(&me)) {
            let vote = Vote { subject: Subject::Nullify { view }, signer: me, signature: *signature };
            self.effects.push(Effect::Send { to: Recipient::All, message: Message::Vote(vote) });
        }
        if let Some(certificate) = self.latest_certificate.clone() {
            self.effects
                .push(Effect::Send { to: Recipient::All, message: Message::Certificate(certificate) });
        }
        // Stuck: peers may lack certificates for skipped views (the next page of a long
        // justification at each retry).
        self.broadcast_justification();
        self.nullify_retry_ms = self.nullify_retry_ms.saturating_mul(2).min(self.config.timeout_max_ms);
        self.set_timer(TimerKind::NullifyRetry, self.nullify_retry_ms);
    }

    /// Signs a vote, records it as signed at once (so no conflicting vote can follow), and
    /// queues it behind its WAL entry.
    /// A vote the sign state refuses is not signed (see [`Core::following_until`]).
    fn sign_vote(&mut self, subject: Subject) -> bool {
        if !self.sign_guard(Signed::vote(&subject)) {
            return false;
        }
        let view = subject.view();
        let signature = self.scheme.sign(subject.namespace(), &subject.payload());
        let vote = Vote { subject, signer: self.config.me, signature };
        let state = self.views.entry(view).or_default();
        match subject {
            Subject::Notarize { block_id, .. } => state.signed_notarize = Some(block_id),
            Subject::Nullify { .. } => state.signed_nullify = true,
            Subject::Finalize { block_id, .. } => state.signed_finalize = Some(block_id),
        }
        self.persist(WalEntry::Vote(vote.clone()), Some(Outgoing::Vote(vote)));
        true
    }

    /// R6: commit the finalized block and every uncommitted ancestor in height order, each
    /// with the finalization covering it. Missing blocks are fetched, or synced when too many.
    fn try_commit(&mut self) {
        if self.finalized_id == self.committed.id || self.finalized_view <= self.committed.view {
            return;
        }
        let Some(finalization) = self.finalization.clone() else { return };
        let mut chain = Vec::new();
        let mut cursor = self.finalized_id;
        while cursor != self.committed.id {
            let Some(block) = self.blocks.get(&cursor) else {
                if self.sync_retry_ticks.is_none() {
                    self.fetch(cursor);
                }
                return;
            };
            let height = block.header.height;
            if height <= self.committed.height {
                // The finalized chain does not pass through the committed block: only possible
                // if more than f validators are faulty. Committing anything would be unsafe.
                return;
            }
            if chain.is_empty() && height.0 - self.committed.height.0 > self.config.fetch_gap_blocks_max {
                if self.sync_retry_ticks.is_none() {
                    let ticks = self.config.timeout_max_ms.div_ceil(self.config.advance_timeout_ms).max(1);
                    self.sync_retry_ticks = Some(ticks);
                    self.effects.push(Effect::Sync { finalization: finalization.clone(), height });
                    self.arm_fetch_timer();
                }
                return;
            }
            chain.push(cursor);
            cursor = block.header.parent_id;
        }
        for id in chain.into_iter().rev() {
            let block = self.blocks.get(&id).expect("walked above").clone();
            let covering = self
                .views
                .get(&block.header.view)
                .and_then(|s| s.finalization.clone())
                .unwrap_or_else(|| finalization.clone());
            self.committed = BlockRef::of(&block);
            self.effects.push(Effect::Commit { block, finalization: covering });
        }
        self.blocks.retain(|_, block| block.header.height > self.committed.height);
        self.effects.push(Effect::PruneWal { below: self.finalized_view });
    }

    // ----- view changes and bookkeeping ---------------------------------------------------

    fn enter_view(&mut self, view: View, progress: bool) {
        if view <= self.view {
            return;
        }
        let left = self.view;
        self.view = view;
        self.drop_past_proposals(left..view, true);
        if progress {
            self.consecutive_nullified = 0;
        } else {
            self.consecutive_nullified = self.consecutive_nullified.saturating_add(1);
        }
        self.nullify_retry_ms = self.config.nullify_retry_ms;
        // Messages held for views now current or past no longer count as future.
        for (_, state) in self.views.range_mut(..=view) {
            self.future_messages -= state.future_messages;
            state.future_messages = 0;
        }
        self.set_view_timers();
    }

    fn set_view_timers(&mut self) {
        let leader = self.grown_timeout(self.config.leader_timeout_ms);
        let advance = self.grown_timeout(self.config.advance_timeout_ms);
        self.set_timer(TimerKind::Leader, leader);
        self.set_timer(TimerKind::Advance, advance);
    }

    /// `base` × growth^(consecutive nullified views), capped at `timeout_max_ms`.
    fn grown_timeout(&self, base: u64) -> u64 {
        let cap = self.config.timeout_max_ms;
        let growth = u64::from(self.config.timeout_growth_percent);
        let mut timeout = base.min(cap);
        for _ in 0..self.consecutive_nullified {
            if timeout >= cap {
                break;
            }
            timeout = (timeout.saturating_mul(growth) / 100).min(cap);
        }
        timeout
    }

    fn set_timer(&mut self, kind: TimerKind, after_ms: u64) {
        self.effects.push(Effect::SetTimer { timer: Timer { kind, view: self.view }, after_ms });
    }

    /// Drops state for views at or below the finalized view: nothing there can change the
    /// outcome any more (a proposal must extend the finalized block or a descendant).
    fn prune_finalized(&mut self) {
        let keep = self.views.split_off(&self.finalized_view.next());
        for state in self.views.values() {
            self.future_messages -= state.future_messages;
        }
        self.views = keep;
        if self.committed.id == self.finalized_id {
            let finalized_view = self.finalized_view;
            self.blocks.retain(|_, block| block.header.view > finalized_view);
        }
    }

    fn in_window(&self, view: View) -> bool {
        view.0 <= self.view.0.saturating_add(self.config.view_window)
    }

    /// Sends a peer that is behind our latest certificates, once per view of ours.
    fn help(&mut self, peer: ValidatorIndex) {
        if self.helped.get(&peer) == Some(&self.view) {
            return;
        }
        self.helped.insert(peer, self.view);
        if let Some(finalization) = self.finalization.clone() {
            self.effects
                .push(Effect::Send { to: Recipient::One(peer), message: Message::Certificate(finalization) });
        }
        if let Some(latest) = self.latest_certificate.clone()
            && Some(&latest) != self.finalization.as_ref()
        {
            self.effects
                .push(Effect::Send { to: Recipient::One(peer), message: Message::Certificate(latest) });
        }
    }

    /// The certificates that let a peer check R3 for a proposal in `view`: the parent's
    /// notarization (or the finalization, when the parent is the finalized block) and the
    /// nullification of every view in between, ascending. With `parent_view`, for this node's
    /// own proposal; without, the parent is the highest view below `view` with a notarization
    /// held, and views with no certificate held are skipped (peers may hold them).
    ///
    /// At most `max(view_window, 3)` certificates: a longer justification is sent in pages,
    /// the base certificate with each, the nullifications from `justification_cursor` on,
    /// wrapping around, so that successive sends cover all of it.
    fn justification(&mut self, view: View, parent_view: Option<View>) -> Vec<Certificate> {
        let finalized = self.finalized_view;
        let floor = match parent_view {
            Some(parent) if parent > finalized => parent,
            _ => finalized,
        };
        let mut base = if floor == finalized {
            self.finalization.as_ref()
        } else {
            self.views.get(&floor).and_then(|state| state.notarization.as_ref())
        };
        let mut nullifications = Vec::new();
        if floor < view {
            for (_, state) in self.views.range(floor.next()..view).rev() {
                if parent_view.is_none()
                    && let Some(notarization) = &state.notarization
                {
                    base = Some(notarization);
                    break;
                }
                if let Some(nullification) = &state.nullification {
                    nullifications.push(nullification);
                }
            }
        }
        nullifications.reverse();
        // Room for at least two nullifications per page, so that the pages of a justification
        // that grows by one view per view still come round (one page is sent per view at least).
        let capacity = usize::try_from(self.config.view_window.max(JUSTIFICATION_MIN)).unwrap_or(usize::MAX);
        let room = capacity - usize::from(base.is_some());
        let mut page: Vec<Certificate> = base.into_iter().cloned().collect();
        if nullifications.len() <= room {
            page.extend(nullifications.into_iter().cloned());
            return page;
        }
        let cursor = self.justification_cursor;
        let start = nullifications.iter().position(|c| c.subject.view() >= cursor).unwrap_or(0);
        let end = nullifications.len().min(start + room);
        page.extend(nullifications[start..end].iter().map(|c| (*c).clone()));
        self.justification_cursor = nullifications[end - 1].subject.view().next();
        page
    }

    /// Sends the justification of the current view to every peer, when this node may hold
    /// certificates a peer lacks: it nullified the view without a proposal (the leader may
    /// lack a certificate to propose), or it is stuck. A justification that is only the
    /// certificate of the previous view is not sent: it moved every peer here and was
    /// forwarded then, and stuck nodes re-send it with their nullify.
    fn broadcast_justification(&mut self) {
        let view = self.view;
        let page = self.justification(view, None);
        if let [only] = page.as_slice()
            && only.subject.view().next() == view
        {
            return;
        }
        for certificate in page {
            if self.latest_certificate.as_ref() != Some(&certificate) {
                self.effects
                    .push(Effect::Send { to: Recipient::All, message: Message::Certificate(certificate) });
            }
        }
    }

    /// Drops the proposals (and their blocks) of past views in `views` that cannot be needed:
    /// a past view is never notarized here, so its block matters only as a later proposal's
    /// parent or as a commit, that is, if a notarization or finalization certifies it; those
    /// are kept until finalization. A block this node notarized is kept too while no later
    /// view is known notarized (`keep_vouched`): a notarization for it may still surface, and
    /// the honest nodes that notarized it are where peers fetch it from. Any dropped block
    /// that turns out to be needed is fetched.
    fn drop_past_proposals(&mut self, views: std::ops::Range<View>, keep_vouched: bool) {
        if views.is_empty() {
            return;
        }
        let mut dropped = Vec::new();
        for (_, state) in self.views.range_mut(views) {
            if let Some(held) = &state.proposal
                && !state.certifies(held.block_id)
                && !(keep_vouched && state.signed_notarize == Some(held.block_id))
            {
                dropped.push(held.block_id);
                state.proposal = None;
            }
        }
        for block_id in dropped {
            // R8: a re-proposed block is held under two views; keep it while another needs it.
            let needed = self.views.values().any(|state| {
                state.certifies(block_id)
                    || state.proposal.as_ref().is_some_and(|held| held.block_id == block_id)
            });
            if !needed {
                self.blocks.remove(&block_id);
            }
        }
    }

    fn fetch(&mut self, block_id: BlockId) {
        if self.fetching.contains(&block_id) || self.blocks.contains_key(&block_id) {
            return;
        }
        if self.fetching.len() as u64 >= self.config.fetch_gap_blocks_max {
            return;
        }
        self.fetching.insert(block_id);
        self.effects.push(Effect::Fetch { block_id });
        self.arm_fetch_timer();
    }

    fn arm_fetch_timer(&mut self) {
        if !self.fetch_timer_armed {
            self.fetch_timer_armed = true;
            self.set_timer(TimerKind::FetchRetry, self.config.advance_timeout_ms);
        }
    }

    fn persist(&mut self, entry: WalEntry, then: Option<Outgoing>) {
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.effects.push(Effect::Persist { entry, ticket });
        if let Some(outgoing) = then {
            self.outbox.push_back((ticket, outgoing));
        }
    }

    fn block_ref(&self, id: &BlockId) -> Option<BlockRef> {
        if *id == self.committed.id {
            return Some(self.committed);
        }
        self.blocks.get(id).map(BlockRef::of)
    }

    /// The rules a header must meet to extend `parent` on this chain
    /// ([`Header::check_child_of`]).
    fn check_child(&self, header: &Header, parent: &BlockRef) -> Result<(), ChildError> {
        let link = ParentLink { id: parent.id, height: parent.height, time_ms: parent.time_ms };
        header.check_child_of(&link, &self.config.chain_id, &self.validators_hash)
    }

    /// The tally-types checks of votes, proposals and certificates, with every signature
    /// checked through this core's scheme.
    fn verifier(&self) -> impl Fn(ValidatorIndex, Namespace, &[u8], &Signature) -> bool + '_ {
        |signer, namespace, payload, signature| self.scheme.verify(signer, namespace, payload, signature)
    }

    fn verify_vote(&self, vote: &Vote) -> bool {
        vote.verify_with(&self.config.validators, self.verifier()).is_ok()
    }

    fn verify_proposal_signature(&self, proposal: &Proposal) -> bool {
        proposal.verify_with(&self.config.validators, self.verifier()).is_ok()
    }

    /// Bitmap shape, a quorum of distinct known signers, and every signature, checked through
    /// this core's scheme as one batch.
    fn verify_certificate(&self, certificate: &Certificate) -> bool {
        certificate
            .verify_batch_with(&self.config.validators, |namespace, payload, signed| {
                self.scheme.verify_batch(namespace, payload, signed)
            })
            .is_ok()
    }

    // ----- restore ------------------------------------------------------------------------

    fn restore_vote(&mut self, vote: Vote) -> Result<(), RestoreError> {
        let view = vote.subject.view();
        let allow_double_notarize = self.faults_notarize_twice();
        let state = self.views.entry(view).or_default();
        match vote.subject {
            Subject::Notarize { block_id, .. } => {
                if state.signed_notarize.is_some_and(|id| id != block_id) && !allow_double_notarize {
                    return Err(RestoreError::ConflictingVotes(view));
                }
                state.signed_notarize = Some(block_id);
                state.notarizes.insert(vote.signer, (block_id, vote.signature));
            }
            Subject::Nullify { .. } => {
                if state.signed_finalize.is_some() {
                    return Err(RestoreError::ConflictingVotes(view));
                }
                state.signed_nullify = true;
                state.nullifies.insert(vote.signer, vote.signature);
            }
            Subject::Finalize { block_id, .. } => {
                if state.signed_nullify || state.signed_finalize.is_some_and(|id| id != block_id) {
                    return Err(RestoreError::ConflictingVotes(view));
                }
                state.signed_finalize = Some(block_id);
                state.finalizes.insert(vote.signer, (block_id, vote.signature));
            }
        }
        Ok(())
    }

    /// A proposal entry: this node's own proposal, or the leader's proposal of a block this
    /// node notarized (persisted before the notarize). Either way it must be the view's
    /// leader's signed proposal of exactly this block, so the block can be built on, checked
    /// against and served to peers after the restart.
    fn restore_proposal(&mut self, proposal: Proposal) -> Result<(), RestoreError> {
        let view = proposal.view;
        let leader = self.config.validators.leader(view);
        let header = &proposal.block.header;
        let ids: Vec<_> = proposal.block.txs.iter().map(|tx| tx.id()).collect();
        let view_ok =
            if is_reproposal(&proposal) { header.view <= proposal.parent_view } else { header.view == view };
        let well_formed = view_ok
            && header.proposer == self.config.validators.leader(header.view)
            && header.check_chain(&self.config.chain_id, &self.validators_hash).is_ok()
            && tx_root(&ids) == header.tx_root
            && self.verify_proposal_signature(&proposal);
        if !well_formed {
            return Err(RestoreError::BadProposal(view));
        }
        let own = leader == self.config.me;
        let allow_double_notarize = self.faults_notarize_twice();
        let block_id = proposal.block.id();
        let state = self.views.entry(view).or_default();
        if let Some(held) = &state.proposal
            && held.block_id != block_id
            && (own || !allow_double_notarize)
        {
            return Err(RestoreError::ConflictingVotes(view));
        }
        state.proposal = Some(HeldProposal {
            parent_view: proposal.parent_view,
            block_id,
            signature: proposal.signature,
            // Own blocks were built here; others were verified by the host before persisting.
            verification: Verification::Valid,
        });
        state.proposed |= own;
        self.blocks.insert(block_id, proposal.block);
        Ok(())
    }

    /// Keeps `certificate` as the finalization of the finalized block this core stands on
    /// (its anchor: `Config::anchor_finalization`, `Input::Synced`), when it finalizes exactly
    /// that block at its view and verifies; otherwise leaves things as they are. (A later
    /// epoch's core stands on the epoch's base view, where no block is, so an earlier epoch's
    /// finalization never matches.)
    fn adopt_anchor_finalization(&mut self, certificate: Certificate) {
        let Subject::Finalize { view, block_id } = certificate.subject else { return };
        if view != self.finalized_view
            || block_id != self.finalized_id
            || !self.verify_certificate(&certificate)
        {
            return;
        }
        if self.latest_certificate.as_ref().is_none_or(|latest| view >= latest.subject.view()) {
            self.latest_certificate = Some(certificate.clone());
        }
        self.finalization = Some(certificate);
    }

    fn restore_certificate(&mut self, certificate: Certificate) {
        let view = certificate.subject.view();
        *self.views.entry(view).or_default().certificate_slot(VoteKind::of(&certificate.subject)) =
            Some(certificate.clone());
        // The anchor's own finalization counts too (the WAL keeps it: pruning stops below the
        // finalized view): it is the base of every justification this node sends until the
        // next finalization, and a peer that missed it cannot check R3 for a proposal on the
        // anchor, nor learn it is behind, without it (tally-sim seed 10,095,345).
        if let Subject::Finalize { block_id, .. } = certificate.subject
            && (view > self.finalized_view
                || (view == self.finalized_view
                    && block_id == self.finalized_id
                    && self.finalization.is_none()))
        {
            self.finalized_view = view;
            self.finalized_id = block_id;
            self.finalization = Some(certificate.clone());
        }
        if self.latest_certificate.as_ref().is_none_or(|latest| view >= latest.subject.view()) {
            self.latest_certificate = Some(certificate);
        }
    }

    #[cfg(feature = "test-faults")]
    fn faults_notarize_twice(&self) -> bool {
        self.config.faults.notarize_twice_per_view
    }

    #[cfg(not(feature = "test-faults"))]
    fn faults_notarize_twice(&self) -> bool {
        false
    }

    #[cfg(feature = "test-faults")]
    fn faults_skip_nullification_check(&self) -> bool {
        self.config.faults.skip_nullification_check
    }

    #[cfg(not(feature = "test-faults"))]
    fn faults_skip_nullification_check(&self) -> bool {
        false
    }
}

/// Whether a node can move past `view`. The last view, 2^64 − 1, is never reached by honest
/// nodes; refusing it keeps every `view + 1` in range, whatever a peer sends.
/// R8: a proposal of a block already notarized in an earlier view (its header names another
/// view), made when that block ends its epoch so that the epoch's own validators can finalize it.
fn is_reproposal(proposal: &Proposal) -> bool {
    proposal.block.header.view != proposal.view
}

fn view_has_successor(view: View) -> bool {
    view.0 < u64::MAX
}

/// The votes in `votes` (per signer) that are for `block_id`.
fn same_block(
    votes: &BTreeMap<ValidatorIndex, (BlockId, Signature)>,
    block_id: BlockId,
) -> Vec<(ValidatorIndex, Signature)> {
    votes
        .iter()
        .filter(|(_, (id, _))| *id == block_id)
        .map(|(signer, (_, signature))| (*signer, *signature))
        .collect()
}

/// The vote of `kind` that `signer` cast in `view`, as held.
fn stored_vote(view: View, state: &ViewState, signer: ValidatorIndex, kind: VoteKind) -> Option<Vote> {
    let (subject, signature) = match kind {
        VoteKind::Notarize => {
            let (block_id, signature) = state.notarizes.get(&signer)?;
            (Subject::Notarize { view, block_id: *block_id }, *signature)
        }
        VoteKind::Nullify => (Subject::Nullify { view }, *state.nullifies.get(&signer)?),
        VoteKind::Finalize => {
            let (block_id, signature) = state.finalizes.get(&signer)?;
            (Subject::Finalize { view, block_id: *block_id }, *signature)
        }
    };
    Some(Vote { subject, signer, signature })
}
