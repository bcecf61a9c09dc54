//! What a host feeds the core ([`Input`]) and what the core asks of the host ([`Effect`]).
//! `API.md` next to this crate states the host's obligations in full.

use crate::sign_state::SignState;
use borsh::{BorshDeserialize, BorshSerialize};
use tally_types::codec::Bounded;
use tally_types::{Block, BlockId, Certificate, Height, Proposal, ValidatorIndex, View, Vote};

/// A block as the core refers to it without its body: enough to extend it (R1) and to check
/// a child's height and time (R3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct BlockRef {
    pub id: BlockId,
    pub height: Height,
    /// The view in which the block was proposed (0 for genesis).
    pub view: View,
    pub time_ms: u64,
}

impl BlockRef {
    /// The reference to `block`.
    pub fn of(block: &Block) -> Self {
        BlockRef {
            id: block.id(),
            height: block.header.height,
            view: block.header.view,
            time_ms: block.header.time_ms,
        }
    }
}

/// A consensus message on the wire between validators.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub enum Message {
    Proposal(Proposal),
    Vote(Vote),
    Certificate(Certificate),
}

impl Bounded for Message {
    const MAX_ENCODED_SIZE: usize =
        1 + max(Proposal::MAX_ENCODED_SIZE, max(Vote::MAX_ENCODED_SIZE, Certificate::MAX_ENCODED_SIZE));
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

impl Message {
    /// The view the message is about.
    pub fn view(&self) -> View {
        match self {
            Message::Proposal(proposal) => proposal.view,
            Message::Vote(vote) => vote.subject.view(),
            Message::Certificate(certificate) => certificate.subject.view(),
        }
    }
}

/// Who a [`Effect::Send`] goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Recipient {
    /// Every other validator.
    All,
    /// One validator (never this node).
    One(ValidatorIndex),
}

/// Identifies a durable-write request; acknowledged cumulatively by [`Input::Persisted`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Ticket(pub u64);

/// What a timer is for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum TimerKind {
    /// R5: no proposal by 2Δ.
    Leader,
    /// R5: no notarization by 3Δ.
    Advance,
    /// R5: re-broadcast this node's nullify while stuck in the view.
    NullifyRetry,
    /// Re-issue fetches for blocks still missing.
    FetchRetry,
}

/// A timer the core asked for. The host feeds it back as [`Input::Timeout`] when it expires.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timer {
    pub kind: TimerKind,
    pub view: View,
}

/// Proof that a validator signed two conflicting messages: defined in `tally-types`, so that
/// an auditor checks it without this crate ([`Evidence::verify`]).
pub use tally_types::consensus::Evidence;

/// One write-ahead-log record: what this node signed, the blocks it notarized, and
/// certificates it saw (so a restarted node resumes at the right view, knows the notarized
/// chain and still holds the blocks it vouched for).
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub enum WalEntry {
    /// A vote this node signed.
    Vote(Vote),
    /// A proposal this node signed, or the leader's proposal of a block this node notarizes
    /// (persisted before the notarize, so the block survives a crash), with its block.
    Proposal(Proposal),
    /// A verified certificate this node saw or assembled.
    Certificate(Certificate),
}

impl Bounded for WalEntry {
    const MAX_ENCODED_SIZE: usize = Message::MAX_ENCODED_SIZE;
}

impl WalEntry {
    /// The view the entry is about; [`Effect::PruneWal`] is expressed in views.
    pub fn view(&self) -> View {
        match self {
            WalEntry::Vote(vote) => vote.subject.view(),
            WalEntry::Proposal(proposal) => proposal.view,
            WalEntry::Certificate(certificate) => certificate.subject.view(),
        }
    }
}

/// Something the host feeds the core.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Input {
    /// A message received from validator `from` (the network layer's authenticated peer; the
    /// core still verifies every signature and does not trust `from` for anything but
    /// replies).
    Message { from: ValidatorIndex, message: Message },
    /// A timer the core set has expired.
    Timeout(Timer),
    /// Every entry up to and including `ticket` is durable. Cumulative.
    Persisted(Ticket),
    /// The answer to [`Effect::VerifyBlock`].
    BlockVerified { view: View, block_id: BlockId, valid: bool },
    /// The answer to [`Effect::BuildBlock`]: a block extending the requested parent.
    BlockBuilt { view: View, block: Block },
    /// A block the host fetched after [`Effect::Fetch`]. The core checks its id.
    BlockFetched { block: Block },
    /// The host committed blocks up to `anchor` by sync (each verified against a finalization),
    /// after [`Effect::Sync`] or on its own; `finalization` is the certificate `anchor` was
    /// stored with (kept as the anchor's finalization when it finalizes exactly `anchor`).
    Synced { anchor: BlockRef, finalization: Option<Certificate> },
}

/// Something the core asks of the host. Perform effects in the order given.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Effect {
    /// Append `entry` to the WAL durably (fsync), then feed back `Input::Persisted(ticket)`.
    /// Tickets increase by one per Persist; entries must become durable in ticket order.
    Persist { entry: WalEntry, ticket: Ticket },
    /// Send `message`. The core emits a message carrying this node's signature only after
    /// the entry holding that signature was acknowledged durable, so a host may send at once.
    Send { to: Recipient, message: Message },
    /// Feed back `Input::Timeout(timer)` after `after_ms`. A later `SetTimer` of the same
    /// kind replaces an earlier one; the core ignores timeouts that no longer apply.
    SetTimer { timer: Timer, after_ms: u64 },
    /// Check `block` fully (transactions, execution on top of `parent`, state root, time
    /// not more than 2 s ahead of the local clock), then feed back `Input::BlockVerified`.
    VerifyBlock { view: View, block: Block, parent: BlockRef },
    /// This node leads `view`: build a block extending `parent` (height + 1, time after the
    /// parent's, header view and proposer set) and feed back `Input::BlockBuilt`.
    BuildBlock { view: View, parent: BlockRef },
    /// `block` is final: execute it and store it with `finalization` (which certifies it or a
    /// descendant). Emitted in height order, each height once.
    Commit { block: Block, finalization: Certificate },
    /// Fetch the block with this id from peers and feed it back as `Input::BlockFetched`.
    /// One attempt suffices; the core re-issues fetches for blocks it still lacks.
    Fetch { block_id: BlockId },
    /// The finalized chain is far ahead of the committed one: sync blocks from peers up to the
    /// block `finalization` certifies (at `height`), then feed back `Input::Synced`.
    Sync { finalization: Certificate, height: Height },
    /// WAL entries for views below `below` are no longer needed and may be deleted. Emitted
    /// only after the `Commit` effects that make them unnecessary.
    PruneWal { below: View },
    /// A validator signed conflicting messages.
    Evidence(Evidence),
    /// Keep `SignState` (the last message this node signed) durable, beside the key, before
    /// acknowledging any later `Persist` ticket: it is emitted right before the `Persist` of
    /// the entry that carries the signature, so the record is on disk before the message can
    /// leave. A host may write only the last of several in a row.
    PersistSignState(SignState),
}
