//! Configuration of one consensus core, validated once at start.

use tally_types::{BlockId, Certificate, ChainId, Height, ValidatorIndex, ValidatorSet, View};

use crate::api::BlockRef;

/// Default leader timeout (2Δ with Δ = 500 ms).
pub const LEADER_TIMEOUT_MS_DEFAULT: u64 = 1_000;
/// Default advance (notarization) timeout (3Δ with Δ = 500 ms).
pub const ADVANCE_TIMEOUT_MS_DEFAULT: u64 = 1_500;
/// Default first re-broadcast period of a nullify while stuck in a view.
pub const NULLIFY_RETRY_MS_DEFAULT: u64 = 1_000;
/// Default cap on every timeout after growth.
pub const TIMEOUT_MAX_MS_DEFAULT: u64 = 30_000;
/// Default growth of timeouts per consecutive nullified view, in percent (150 = ×1.5).
pub const TIMEOUT_GROWTH_PERCENT_DEFAULT: u32 = 150;
/// Default number of views ahead of the current view for which messages are kept.
pub const VIEW_WINDOW_DEFAULT: u64 = 32;
/// Default cap on messages (votes and proposals) held for views ahead of the current view.
pub const FUTURE_MESSAGES_MAX_DEFAULT: usize = 4_096;
/// Default number of missing ancestors the core fetches one by one before asking the host
/// to sync instead.
pub const FETCH_GAP_BLOCKS_MAX_DEFAULT: u64 = 64;

/// Largest accepted timeout of any kind: one hour. Beyond this a node is effectively halted.
pub const TIMEOUT_MS_LIMIT: u64 = 3_600_000;
/// Largest accepted growth factor per nullified view (×4).
pub const TIMEOUT_GROWTH_PERCENT_LIMIT: u32 = 400;
/// Largest accepted view window.
pub const VIEW_WINDOW_LIMIT: u64 = 1_024;
/// Largest accepted future-message cap.
pub const FUTURE_MESSAGES_LIMIT: usize = 1 << 20;
/// Largest accepted fetch gap.
pub const FETCH_GAP_BLOCKS_LIMIT: u64 = 4_096;
/// Highest epoch a view number can name (`View::epoch_base` keeps 24 bits for it).
pub const EPOCH_LIMIT: u64 = (1 << (64 - tally_types::VIEW_EPOCH_SHIFT)) - 1;

// The defaults must pass validation; these pin how they relate.
const _: () = assert!(LEADER_TIMEOUT_MS_DEFAULT > 0);
const _: () = assert!(ADVANCE_TIMEOUT_MS_DEFAULT > LEADER_TIMEOUT_MS_DEFAULT, "3Δ > 2Δ");
const _: () = assert!(TIMEOUT_MAX_MS_DEFAULT >= ADVANCE_TIMEOUT_MS_DEFAULT);
const _: () = assert!(TIMEOUT_MAX_MS_DEFAULT >= NULLIFY_RETRY_MS_DEFAULT);
const _: () = assert!(TIMEOUT_MAX_MS_DEFAULT <= TIMEOUT_MS_LIMIT);
const _: () = assert!(TIMEOUT_GROWTH_PERCENT_DEFAULT >= 100);
const _: () = assert!(TIMEOUT_GROWTH_PERCENT_DEFAULT <= TIMEOUT_GROWTH_PERCENT_LIMIT);
const _: () = assert!(VIEW_WINDOW_DEFAULT >= 1 && VIEW_WINDOW_DEFAULT <= VIEW_WINDOW_LIMIT);
// One full view of messages from every validator (a proposal, and a notarize, nullify and
// finalize per validator) must fit the future buffer, or a node one view behind could not
// assemble the next view's certificates from what it buffered.
const _: () = assert!(FUTURE_MESSAGES_MAX_DEFAULT > 3 * tally_types::limits::VALIDATORS_MAX);
const _: () = assert!(FUTURE_MESSAGES_MAX_DEFAULT <= FUTURE_MESSAGES_LIMIT);
const _: () = assert!(FETCH_GAP_BLOCKS_MAX_DEFAULT >= 1);
const _: () = assert!(FETCH_GAP_BLOCKS_MAX_DEFAULT <= FETCH_GAP_BLOCKS_LIMIT);

/// Deliberately broken behaviour, for the simulator's test that its invariant oracle catches
/// a faulty core. Compiled only with the `test-faults` feature; all flags off by default.
#[cfg(feature = "test-faults")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Break R2: notarize every valid proposal seen for a view, not only the first (so an
    /// equivocating leader gets two notarizes from this node).
    pub notarize_twice_per_view: bool,
    /// Break R3: notarize a proposal even when views between its parent and its view lack
    /// nullification certificates.
    pub skip_nullification_check: bool,
}

/// Configuration of one consensus core. Build it with [`Config::new`] (defaults for every
/// tuning value) and adjust fields; [`crate::Core::new`] and [`crate::Core::restore`] call
/// [`Config::validate`].
#[derive(Clone, Debug)]
pub struct Config {
    /// The chain; part of every signed message (the signature scheme carries it too).
    pub chain_id: ChainId,
    /// The epoch this core runs (docs/ARCHITECTURE.md "Governance and epochs"): one core per
    /// epoch, whose views are `View::epoch_base(epoch)` + 1 onwards. Messages of any other
    /// epoch are dropped unread. 0 for a chain whose validators never changed.
    pub epoch: u64,
    /// The epoch's validator set (genesis for epoch 0, then as governance changed it).
    pub validators: ValidatorSet,
    /// This node's index in `validators`.
    pub me: ValidatorIndex,
    /// The last block the host has committed and stored: at first start the genesis
    /// (`BlockRef::genesis`), after a restart the store's last committed block. The core never
    /// emits `Commit` for it or its ancestors.
    pub anchor: BlockRef,
    /// The anchor's own finalization, as the host stored it with the block, if it has one:
    /// the base of the justifications this node sends, and what it helps peers that missed the
    /// anchor with, until the next finalization. Kept only when it finalizes exactly `anchor`
    /// in this epoch and its signatures verify; anything else (a descendant's finalization,
    /// an earlier epoch's) is ignored. Without it, a node restarted after a sync (whose WAL
    /// holds no certificate for the anchor) could not give peers the base they lack.
    pub anchor_finalization: Option<Certificate>,
    /// R5: nullify the view if no valid proposal arrived this long after entering it (2Δ).
    pub leader_timeout_ms: u64,
    /// R5: nullify the view if no notarization arrived this long after entering it (3Δ).
    pub advance_timeout_ms: u64,
    /// First period of nullify re-broadcast while stuck; doubles up to `timeout_max_ms`.
    pub nullify_retry_ms: u64,
    /// Cap on every timeout after growth.
    pub timeout_max_ms: u64,
    /// Timeouts are multiplied by this (in percent) per consecutive nullified view.
    pub timeout_growth_percent: u32,
    /// Messages for views beyond `current + view_window` are dropped unread.
    pub view_window: u64,
    /// Cap on proposals and votes held for views ahead of the current view.
    pub future_messages_max: usize,
    /// Missing ancestors fetched one by one before asking the host to sync instead.
    pub fetch_gap_blocks_max: u64,
    /// Deliberately broken behaviour (simulator only).
    #[cfg(feature = "test-faults")]
    pub faults: Faults,
}

/// Why a configuration was refused. Each variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("me: validator {me} is not in the set of {n} validators")]
    MeNotAValidator { me: ValidatorIndex, n: usize },
    #[error("me: the signature scheme does not sign as validator {0}")]
    SchemeNotMe(ValidatorIndex),
    #[error("leader_timeout_ms: {0} must be in 1..={TIMEOUT_MS_LIMIT}")]
    LeaderTimeout(u64),
    #[error(
        "advance_timeout_ms: {advance} must be greater than leader_timeout_ms ({leader}) and at most {TIMEOUT_MS_LIMIT}"
    )]
    AdvanceTimeout { advance: u64, leader: u64 },
    #[error("nullify_retry_ms: {0} must be in 1..=timeout_max_ms")]
    NullifyRetry(u64),
    #[error(
        "timeout_max_ms: {max} must be at least advance_timeout_ms ({advance}) and at most {TIMEOUT_MS_LIMIT}"
    )]
    TimeoutMax { max: u64, advance: u64 },
    #[error("timeout_growth_percent: {0} must be in 100..={TIMEOUT_GROWTH_PERCENT_LIMIT}")]
    TimeoutGrowth(u32),
    #[error("view_window: {0} must be in 1..={VIEW_WINDOW_LIMIT}")]
    ViewWindow(u64),
    #[error(
        "future_messages_max: {value} must be in {min}..={FUTURE_MESSAGES_LIMIT} (one full view for {n} validators)"
    )]
    FutureMessages { value: usize, min: usize, n: usize },
    #[error("fetch_gap_blocks_max: {0} must be in 1..={FETCH_GAP_BLOCKS_LIMIT}")]
    FetchGap(u64),
    #[error("epoch: {epoch} must be at most {EPOCH_LIMIT} and not before the anchor's (view {anchor_view})")]
    Epoch { epoch: u64, anchor_view: View },
}

impl Config {
    /// A configuration with default tuning values.
    pub fn new(chain_id: ChainId, validators: ValidatorSet, me: ValidatorIndex, anchor: BlockRef) -> Self {
        Config {
            chain_id,
            epoch: 0,
            validators,
            me,
            anchor,
            anchor_finalization: None,
            leader_timeout_ms: LEADER_TIMEOUT_MS_DEFAULT,
            advance_timeout_ms: ADVANCE_TIMEOUT_MS_DEFAULT,
            nullify_retry_ms: NULLIFY_RETRY_MS_DEFAULT,
            timeout_max_ms: TIMEOUT_MAX_MS_DEFAULT,
            timeout_growth_percent: TIMEOUT_GROWTH_PERCENT_DEFAULT,
            view_window: VIEW_WINDOW_DEFAULT,
            future_messages_max: FUTURE_MESSAGES_MAX_DEFAULT,
            fetch_gap_blocks_max: FETCH_GAP_BLOCKS_MAX_DEFAULT,
            #[cfg(feature = "test-faults")]
            faults: Faults::default(),
        }
    }

    /// Checks every field and how they relate; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.validators.len();
        if usize::from(self.me.0) >= n {
            return Err(ConfigError::MeNotAValidator { me: self.me, n });
        }
        if self.leader_timeout_ms == 0 || self.leader_timeout_ms > TIMEOUT_MS_LIMIT {
            return Err(ConfigError::LeaderTimeout(self.leader_timeout_ms));
        }
        if self.advance_timeout_ms <= self.leader_timeout_ms || self.advance_timeout_ms > TIMEOUT_MS_LIMIT {
            return Err(ConfigError::AdvanceTimeout {
                advance: self.advance_timeout_ms,
                leader: self.leader_timeout_ms,
            });
        }
        if self.timeout_max_ms < self.advance_timeout_ms || self.timeout_max_ms > TIMEOUT_MS_LIMIT {
            return Err(ConfigError::TimeoutMax {
                max: self.timeout_max_ms,
                advance: self.advance_timeout_ms,
            });
        }
        if self.nullify_retry_ms == 0 || self.nullify_retry_ms > self.timeout_max_ms {
            return Err(ConfigError::NullifyRetry(self.nullify_retry_ms));
        }
        if !(100..=TIMEOUT_GROWTH_PERCENT_LIMIT).contains(&self.timeout_growth_percent) {
            return Err(ConfigError::TimeoutGrowth(self.timeout_growth_percent));
        }
        if self.view_window == 0 || self.view_window > VIEW_WINDOW_LIMIT {
            return Err(ConfigError::ViewWindow(self.view_window));
        }
        let min = 3 * n + 1;
        if self.future_messages_max < min || self.future_messages_max > FUTURE_MESSAGES_LIMIT {
            return Err(ConfigError::FutureMessages { value: self.future_messages_max, min, n });
        }
        if self.fetch_gap_blocks_max == 0 || self.fetch_gap_blocks_max > FETCH_GAP_BLOCKS_LIMIT {
            return Err(ConfigError::FetchGap(self.fetch_gap_blocks_max));
        }
        if self.epoch > EPOCH_LIMIT || self.anchor.view.epoch() > self.epoch {
            return Err(ConfigError::Epoch { epoch: self.epoch, anchor_view: self.anchor.view });
        }
        Ok(())
    }
}

impl BlockRef {
    /// The genesis anchor: height 0, view 0, the genesis hash as its id, the genesis time.
    pub fn genesis(genesis_id: BlockId, genesis_time_ms: u64) -> Self {
        BlockRef { id: genesis_id, height: Height(0), view: View(0), time_ms: genesis_time_ms }
    }
}
