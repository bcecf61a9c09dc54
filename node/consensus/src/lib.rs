//! Simplex BFT consensus for Tally as a sans-IO state machine: [`Core::on_input`] takes an
//! [`Input`] and returns the [`Effect`]s a host must perform (`API.md` is the host contract).
//!
//! # Protocol
//!
//! Simplex (B. Y. Chan and R. Pass, "Simplex Consensus: A Simple and Fast Consensus
//! Protocol", TCC 2023), in the form of commonware's `consensus::simplex`. There are n ≥ 4
//! validators per epoch (see R8), of which f = ⌊(n − 1)/3⌋ may be faulty; a quorum is Q = n − f
//! (any two quorums share n − 2f ≥ f + 1 validators, so an honest one). Views start at 1 (the anchor, genesis
//! or the last committed block, is view 0 or its own view). The rules, as implemented:
//!
//! - **R1 Leader.** The leader of view v is `validators[v mod n]`. On entering v it asks the
//!   host to build a block ([`Effect::BuildBlock`]) extending the highest notarized block it
//!   knows, at view p, provided it holds nullifications for every view in (p, v); the
//!   finalized block counts as notarized. It signs the proposal (namespace `Proposal`) and its
//!   own Notarize for it, and sends both, the proposal preceded by its *justification*: the
//!   parent's notarization (the finalization when the parent is the finalized block) and the
//!   nullification of every view in (p, v), so that a receiver that missed any of them can
//!   still check R3 (see "Lost certificates" below). Receivers count the leader's notarize
//!   only from that vote, never from the proposal itself.
//! - **R2** A node notarizes at most one block per view.
//! - **R3** A node notarizes the proposal of its current view only if: the proposal is signed
//!   by the view's leader; the header names the view, the leader as proposer, the chain and the
//!   validator set; the parent is the finalized block or the block of a notarization at
//!   `parent_view`; every view strictly between `parent_view` and v has a nullification
//!   certificate (so the proposal extends the highest notarized block that was not itself
//!   nullified); height = parent height + 1 and time > parent time; and the host verified the
//!   block ([`Effect::VerifyBlock`] → [`Input::BlockVerified`]). A proposal that cannot be
//!   notarized (malformed, invalid, bad parent) makes the node nullify the view at once.
//!   The proposal, with its block, is made durable before the notarize leaves the node (see
//!   the availability invariant below).
//! - **R4** A node never notarizes in a view it has nullified.
//! - **R5 Timeouts.** With no valid proposal 2Δ after entering v (leader timeout), or no
//!   notarization 3Δ after (advance timeout), a node broadcasts Nullify(v), unless it already
//!   signed Finalize(v): an honest node never signs both in one view. While stuck it
//!   re-broadcasts its nullify and its latest certificate, the period doubling up to
//!   `timeout_max_ms`. Timeouts grow by `timeout_growth_percent` per consecutive view entered
//!   through a nullification, reset on a notarization or finalization, and are capped.
//! - **R6 Certificates.** Q notarizes for one block form a Notarization: the node forwards it,
//!   moves to v + 1 and signs Finalize(v) unless it nullified v. Q nullifies form a
//!   Nullification: forward, move to v + 1. Q finalizes form a Finalization: the block and
//!   every uncommitted ancestor are committed in height order ([`Effect::Commit`]), each with
//!   the finalization covering it (a block is final when a finalization exists for it or for a
//!   descendant).
//!   A node restarted between persisting a notarization and signing Finalize for it signs that
//!   Finalize at start.
//! - **R7** Any valid certificate for a view u ≥ v moves the node to u + 1 and is forwarded
//!   once. Finalizations are forwarded whenever new, so that nodes behind can commit.
//!   Certificates for earlier views are verified and kept (never forwarded): they may complete
//!   a justification.
//! - **R8 Epochs.** A core runs one epoch (`Config::epoch`): its views are
//!   `View::epoch_base(epoch)` + 1 onwards, so every vote, proposal and certificate names its
//!   epoch through its view, and messages of another epoch are dropped unread (a signature of
//!   one epoch is never counted in another, even for a validator in both sets). The host
//!   starts the next epoch's core on the epoch's last block once it is committed. Because no
//!   block of the next epoch may extend that last block inside this epoch, a leader whose
//!   parent ends the epoch *re-proposes* the parent (the host answers `BuildBlock` with the
//!   parent itself): a proposal for view v of the block notarized at `parent_view`, whose
//!   header keeps its own view. Receivers notarize it under R3 with the block itself in the
//!   parent's place (its notarization at `parent_view`, nullifications for the views between)
//!   and the host's check that the block ends its epoch; its finalization in view v finalizes
//!   the block. Without this, a last block notarized in a view that neither finalizes nor
//!   nullifies could never be finalized (as commonware's `marshal` re-proposes at epoch ends).
//!
//! # Lost certificates
//!
//! A node that jumped ahead (R7) or lost messages may lack certificates for views it skipped,
//! and there is no request message. Without them it can neither notarize a proposal that
//! skips those views (R3) nor, as leader, propose (R1); if its vote is needed for a quorum,
//! every later leader would extend the same parent and the chain would halt. So certificates
//! travel with the events that reveal a need for them, all to every peer:
//!
//! 1. the leader's proposal goes with its justification (R1), and every later leader sends
//!    its own while the chain does not advance;
//! 2. a node that nullifies its view without having seen a proposal (the leader may be
//!    unable to propose) sends its justification of the view: its finalization or highest
//!    notarization below the view and the nullifications it holds above that;
//! 3. a node stuck in a view sends it again with each nullify re-broadcast (R5).
//!
//! A justification of the last view's certificate only is not sent by (2) and (3): it moved
//! every peer there and was forwarded then. Each send holds at most `max(view_window, 3)`
//! certificates; a longer justification goes in pages, with the base certificate, resuming
//! where the last page stopped and wrapping around, so successive sends cover all of it (a
//! justification grows by at most one view per view, and a page covers at least two).
//!
//! Why this restores liveness after losses, once messages between honest nodes arrive in
//! time: the first honest node to leave a view u did so holding a certificate for u (a
//! certificate for a later view needs honest votes cast there), so the certificates honest
//! nodes hold together cover every view above the highest finalization. While no honest
//! leader can propose, honest nodes nullify every view without a proposal and, by (2), each
//! sends all it holds within a bounded number of views, so every honest node comes to hold
//! that union, which justifies a proposal on the highest notarized block in it (a block its
//! honest notarizers keep, in memory and in their WAL, and serve to fetches). The next
//! honest leader then proposes, its justification (1) reaches every honest node with the
//! proposal, and all of them can notarize. A received certificate costs Q signature checks
//! once; copies of a known one are dropped before any check.
//!
//! With no faults, a block is final after three network hops: proposal → notarizes (each node
//! then holds a notarization) → finalizes.
//!
//! Every signature (votes, proposals, each signature in a certificate) is checked through a
//! [`Scheme`]; production uses [`Ed25519Scheme`] (ZIP-215 with weak keys refused, a namespace
//! per kind, the chain id; a certificate's signatures as one batch). Two different proposals of one leader in a view, or two notarizes (or
//! finalizes) of one signer for different blocks, or a nullify and a finalize of one signer in
//! one view, yield [`Effect::Evidence`] with both signed messages; the signer's first vote of
//! each kind is the only one counted.
//!
//! # Invariants
//!
//! - **Sans-IO and deterministic**: no clock, randomness, I/O or threads; ordered maps only,
//!   so equal input sequences give equal effect sequences.
//! - **Persist before send**: a message carrying this node's signature is emitted as
//!   [`Effect::Send`] only after [`Input::Persisted`] acknowledged the [`Effect::Persist`] of
//!   its WAL entry, and this node's vote counts toward a certificate only from then on.
//! - **Notarized blocks stay available, also across crashes**: a node persists the leader's
//!   proposal (with its block) before its notarize for it, at a lower ticket, so the notarize
//!   leaves only after the block is durable; [`Core::restore`] puts such blocks back after
//!   checking the leader's signature. A notarization's Q = n − f notarizes thus imply f + 1
//!   honest nodes that can build on the block, verify its children and serve it to fetches,
//!   whatever its leader withholds. The entries are pruned with the WAL once finalized.
//! - **No conflicting signatures, also across restarts**: a vote is recorded as signed when
//!   it is signed (before it is durable), and [`Core::restore`] rebuilds that record from the
//!   WAL, so R2, R4 and R5 hold across crashes; a vote lost before it was durable was never
//!   sent.
//! - **Bounded memory**: messages beyond `view_window` views ahead are dropped before any
//!   signature check; messages held for future views are capped by `future_messages_max`;
//!   per view, at most one vote of each kind per validator and one proposal; fetches are
//!   capped by `fetch_gap_blocks_max`; per-peer state is keyed by validator index; everything
//!   at or below the finalized view is pruned. Proposals of views left are dropped with their
//!   blocks unless a notarization or finalization certifies the block, or this node notarized
//!   it and no later view is known notarized. At most one `Sync` is outstanding.
//! - **Commits** are emitted in strictly increasing height order, each height once, only for
//!   blocks on the chain of a verified finalization, and never at or below the anchor.

mod api;
mod config;
mod core;
mod scheme;
pub mod sign_state;

pub use api::{BlockRef, Effect, Evidence, Input, Message, Recipient, Ticket, Timer, TimerKind, WalEntry};
#[cfg(feature = "test-faults")]
pub use config::Faults;
pub use config::{
    ADVANCE_TIMEOUT_MS_DEFAULT, Config, ConfigError, EPOCH_LIMIT, FETCH_GAP_BLOCKS_MAX_DEFAULT,
    FUTURE_MESSAGES_MAX_DEFAULT, LEADER_TIMEOUT_MS_DEFAULT, NULLIFY_RETRY_MS_DEFAULT,
    TIMEOUT_GROWTH_PERCENT_DEFAULT, TIMEOUT_MAX_MS_DEFAULT, VIEW_WINDOW_DEFAULT,
};
pub use core::{Core, RestoreError, Stats};
pub use scheme::{Ed25519Scheme, Scheme, SchemeError};
pub use sign_state::{SignKind, SignRefused, SignState, Signed};
