//! Consortium governance on the ledger: what a member proposes, how members vote, and the
//! parts of a proposal that must prove themselves (applications with proofs of possession,
//! consensus parameters, thresholds).
//!
//! The ledger (`tally_ledger::execute::governance`) holds the rules: who may propose and vote,
//! when a proposal passes, and what each action does. This module holds the shapes and the
//! checks that need no state: a proof of possession verifies or not, a parameter set is in range
//! or not, a threshold is sane or not.
//!
//! An [`ApplicationBody`] is the same document operators exchange when they form a chain
//! (`tally-node apply`, `tally-genesis add`) and when a new provider asks to join a running
//! one: its consensus, network and issuer keys each sign it (namespace
//! [`Namespace::Application`] and the chain id), so a key can only enter the consortium with the
//! consent of whoever holds it.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::BoundedString;
use crate::ids::{AssetCode, ChainId, Height, MemberId, OpId};
use crate::keys::{Namespace, PublicKey, Signature, signing_message};
use crate::limits;

/// What an operator signs to have a validator (and, for a new member, its issuer account and
/// asset) admitted. Field order is part of the signed encoding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    /// The chain the application is for; a proof made for another chain never verifies here.
    pub chain_id: ChainId,
    pub member: MemberId,
    pub member_name: BoundedString<{ limits::MEMBER_NAME_BYTES_MAX }>,
    /// The member's issuer account; it is also the member's governance key when the member is
    /// new.
    pub issuer: PublicKey,
    /// The member's credit asset (created when the member is admitted).
    pub asset_code: AssetCode,
    pub asset_scale: u8,
    pub validator_name: BoundedString<{ limits::VALIDATOR_NAME_BYTES_MAX }>,
    pub consensus_key: PublicKey,
    /// Written in hex in JSON (the network layer's key, not an account).
    #[serde(with = "hex_key")]
    pub network_key: PublicKey,
    /// The address peers dial, a multiaddr such as `/ip4/203.0.113.7/tcp/27000`.
    pub p2p_listen: BoundedString<{ limits::ADDRESS_BYTES_MAX }>,
    /// Where the node serves its HTTP API, `IP:PORT`.
    pub http_listen: BoundedString<{ limits::ADDRESS_BYTES_MAX }>,
}

/// The signatures of an [`ApplicationBody`] by each key it names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationProofs {
    pub consensus: Signature,
    pub network: Signature,
    /// Added by the member's issuer (`tally application sign`), after the operator's two.
    pub issuer: Option<Signature>,
}

/// Which proof of possession failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error(
        "the {key} key's proof of possession does not verify: the application was changed after signing, signed for another chain, or not signed by that key"
    )]
    BadProof { key: &'static str },
    #[error(
        "the issuer has not signed it (run `tally application sign --key NAME FILE` with the member's issuer key)"
    )]
    IssuerUnsigned,
}

impl ApplicationBody {
    /// The message every key of the application signs: `tally/application` namespace, the chain
    /// id, the borsh encoding of the body.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let payload = borsh::to_vec(self).expect("borsh encoding into memory cannot fail");
        signing_message(Namespace::Application, &self.chain_id, &payload)
    }

    /// Checks the consensus and network keys' proofs (the operator's part).
    pub fn verify_validator_proofs(&self, proofs: &ApplicationProofs) -> Result<(), ProofError> {
        let message = self.signing_bytes();
        self.consensus_key
            .verify_raw(&message, &proofs.consensus)
            .map_err(|_| ProofError::BadProof { key: "consensus" })?;
        self.network_key
            .verify_raw(&message, &proofs.network)
            .map_err(|_| ProofError::BadProof { key: "network" })
    }

    /// Checks all three proofs: the operator's two and the issuer's.
    pub fn verify_proofs(&self, proofs: &ApplicationProofs) -> Result<(), ProofError> {
        self.verify_validator_proofs(proofs)?;
        let issuer = proofs.issuer.as_ref().ok_or(ProofError::IssuerUnsigned)?;
        self.issuer
            .verify_raw(&self.signing_bytes(), issuer)
            .map_err(|_| ProofError::BadProof { key: "issuer" })
    }
}

/// An application with its proofs, as a governance action carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedApplication {
    pub body: ApplicationBody,
    pub proofs: ApplicationProofs,
}

/// Consensus timing and block size parameters. Set in genesis; changed by a passed
/// [`Action::SetConsensusParams`], effective from the epoch that change starts.
///
/// The timeouts follow the protocol with Δ the assumed message delay: a validator nullifies a
/// view if no proposal arrived by `timeout_propose_ms` (2Δ) or no notarization by
/// `timeout_notarize_ms` (3Δ). After consecutive nullified views a node may back off, but
/// never beyond `timeout_max_ms`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, BorshSerialize, BorshDeserialize,
)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    /// Nullify the view if no valid proposal arrived within this time of entering it.
    pub timeout_propose_ms: u64,
    /// Nullify the view if it was not notarized within this time of entering it.
    pub timeout_notarize_ms: u64,
    /// Upper bound of any backed-off timeout.
    pub timeout_max_ms: u64,
    /// Transactions in one block, at most [`limits::BLOCK_TXS_MAX`].
    pub block_txs_max: u32,
    /// Encoded block size, at most [`limits::BLOCK_BYTES_MAX`].
    pub block_bytes_max: u32,
}

impl Default for ConsensusParams {
    /// Δ = 500 ms, which suits validators on one continent; blocks half the protocol maximum.
    fn default() -> Self {
        ConsensusParams {
            timeout_propose_ms: 1_000,
            timeout_notarize_ms: 1_500,
            timeout_max_ms: 30_000,
            block_txs_max: 5_000,
            block_bytes_max: 4 * 1024 * 1024,
        }
    }
}

impl ConsensusParams {
    /// Every problem with these parameters, as (field name, message): each value in its range,
    /// and the timeouts in the order the protocol needs (propose < notarize ≤ max).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        param_problems(&PartialParams {
            timeout_propose_ms: Some(self.timeout_propose_ms),
            timeout_notarize_ms: Some(self.timeout_notarize_ms),
            timeout_max_ms: Some(self.timeout_max_ms),
            block_txs_max: Some(self.block_txs_max),
            block_bytes_max: Some(self.block_bytes_max),
        })
    }
}

/// Consensus parameters as far as they parsed, so that the ones that did are still checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct PartialParams {
    pub timeout_propose_ms: Option<u64>,
    pub timeout_notarize_ms: Option<u64>,
    pub timeout_max_ms: Option<u64>,
    pub block_txs_max: Option<u32>,
    pub block_bytes_max: Option<u32>,
}

impl PartialParams {
    /// The parameters, if all parsed.
    pub fn complete(&self) -> Option<ConsensusParams> {
        Some(ConsensusParams {
            timeout_propose_ms: self.timeout_propose_ms?,
            timeout_notarize_ms: self.timeout_notarize_ms?,
            timeout_max_ms: self.timeout_max_ms?,
            block_txs_max: self.block_txs_max?,
            block_bytes_max: self.block_bytes_max?,
        })
    }
}

/// The checks behind [`ConsensusParams::problems`]: ranges of the values present, and
/// relations between the pairs present.
pub fn param_problems(params: &PartialParams) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let timeout_range = limits::TIMEOUT_MS_MIN..=limits::TIMEOUT_MS_MAX;
    let timeouts = [
        ("timeout_propose_ms", params.timeout_propose_ms),
        ("timeout_notarize_ms", params.timeout_notarize_ms),
        ("timeout_max_ms", params.timeout_max_ms),
    ];
    for (field, value) in timeouts {
        if let Some(value) = value
            && !timeout_range.contains(&value)
        {
            let (min, max) = (limits::TIMEOUT_MS_MIN, limits::TIMEOUT_MS_MAX);
            problems.push((field, format!("{value} ms is out of range {min}..={max} ms")));
        }
    }
    // A view cannot be notarized before its proposal arrives, so the notarization deadline
    // must leave time after the proposal deadline.
    if let (Some(propose), Some(notarize)) = (params.timeout_propose_ms, params.timeout_notarize_ms)
        && notarize <= propose
    {
        problems.push((
            "timeout_notarize_ms",
            format!("{notarize} ms must be greater than timeout_propose_ms ({propose} ms)"),
        ));
    }
    if let (Some(notarize), Some(max)) = (params.timeout_notarize_ms, params.timeout_max_ms)
        && max < notarize
    {
        problems.push((
            "timeout_max_ms",
            format!("{max} ms must be at least timeout_notarize_ms ({notarize} ms)"),
        ));
    }
    let txs_max = limits::BLOCK_TXS_MAX;
    if let Some(txs) = params.block_txs_max
        && (txs == 0 || txs as usize > txs_max)
    {
        problems.push(("block_txs_max", format!("{txs} is out of range 1..={txs_max}")));
    }
    let bytes_max = limits::BLOCK_BYTES_MAX as u64;
    if let Some(bytes) = params.block_bytes_max.map(u64::from)
        && !(limits::BLOCK_BYTES_MAX_FLOOR..=bytes_max).contains(&bytes)
    {
        problems.push((
            "block_bytes_max",
            format!(
                "{bytes} is out of range {}..={bytes_max} (a block must hold a header and the largest transaction)",
                limits::BLOCK_BYTES_MAX_FLOOR
            ),
        ));
    }
    problems
}

/// The share of active members whose yes votes pass a proposal: it passes when
/// `yes × denominator > numerator × members`, that is with *more than* numerator/denominator.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, BorshSerialize, BorshDeserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub numerator: u16,
    pub denominator: u16,
}

impl Default for Threshold {
    /// More than two thirds of the members.
    fn default() -> Self {
        Threshold { numerator: 2, denominator: 3 }
    }
}

impl Threshold {
    /// Why this threshold cannot govern, if it cannot: it must be at least one half (two
    /// disjoint halves could otherwise pass contradicting proposals) and below one (else no
    /// proposal could ever pass).
    pub fn problem(&self) -> Option<String> {
        let Threshold { numerator, denominator } = *self;
        if denominator == 0 {
            return Some("the denominator is zero".into());
        }
        if u32::from(numerator) * 2 < u32::from(denominator) {
            return Some(format!("{numerator}/{denominator} is below one half"));
        }
        if numerator >= denominator {
            return Some(format!("{numerator}/{denominator} is one or more: no proposal could pass"));
        }
        None
    }

    /// Parses `N/D` (e.g. `2/3`) and checks it ([`Self::problem`]).
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let parsed = text.split_once('/').and_then(|(numerator, denominator)| {
            Some(Threshold {
                numerator: numerator.trim().parse().ok()?,
                denominator: denominator.trim().parse().ok()?,
            })
        });
        let threshold = parsed.ok_or_else(|| format!("`{text}` is not N/D, e.g. 2/3"))?;
        match threshold.problem() {
            Some(problem) => Err(format!("`{text}`: {problem}")),
            None => Ok(threshold),
        }
    }

    /// True when `yes` votes out of `members` pass.
    pub fn passes(&self, yes: u32, members: u32) -> bool {
        u64::from(yes) * u64::from(self.denominator) > u64::from(self.numerator) * u64::from(members)
    }
}

/// What a proposal does when it passes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Admits a provider: its member id and name, its issuer account (also its governance
    /// key), its asset, and its validator, from its signed application.
    AddMember { application: SignedApplication },
    /// Removes a member and its validators. Its issuer accounts can no longer mint, anchor or
    /// place holds; the credits it issued stay valid and transferable.
    RemoveMember { member: MemberId },
    /// Adds a validator of an existing member, from an application its issuer signed.
    AddValidator { application: SignedApplication },
    /// Removes one validator.
    RemoveValidator { consensus_key: PublicKey },
    /// Replaces a validator's consensus key, network key or both (and its addresses) with those
    /// of an application of the same member; the validator keeps its place in the leader
    /// rotation. A new consensus key takes over at the epoch (H + 2); when the consensus key is
    /// kept, the new network key and addresses replace the old ones at once.
    RotateValidatorKey { consensus_key: PublicKey, application: SignedApplication },
    /// New consensus parameters.
    SetConsensusParams { params: ConsensusParams },
    /// A new passing threshold, for proposals voted from then on.
    SetThreshold { threshold: Threshold },
}

impl Action {
    /// The action's name, for logs, lists and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Action::AddMember { .. } => "add_member",
            Action::RemoveMember { .. } => "remove_member",
            Action::AddValidator { .. } => "add_validator",
            Action::RemoveValidator { .. } => "remove_validator",
            Action::RotateValidatorKey { .. } => "rotate_validator_key",
            Action::SetConsensusParams { .. } => "set_consensus_params",
            Action::SetThreshold { .. } => "set_threshold",
        }
    }

    /// True when the action changes who validates or how (it takes effect at an epoch).
    pub fn changes_consensus(&self) -> bool {
        !matches!(self, Action::SetThreshold { .. })
    }
}

/// Propose: a member puts an action to the vote. The proposer's member votes yes.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Propose {
    /// Unique forever, chosen by the proposer.
    pub proposal_id: OpId,
    pub action: Action,
    /// The last height at which a vote counts; at most [`limits::PROPOSAL_TTL_BLOCKS_MAX`]
    /// after the proposal's height.
    pub expires_at_height: Height,
}

/// CastVote: a member's one vote on an open proposal.
#[derive(Clone, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CastVote {
    pub proposal_id: OpId,
    pub approve: bool,
}

/// Network keys are written in hex in JSON, as the node's key files show them.
mod hex_key {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::keys::PublicKey;

    pub fn serialize<S: Serializer>(key: &PublicKey, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&key.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PublicKey, D::Error> {
        let text = String::deserialize(deserializer)?;
        PublicKey::from_hex_recorded(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_passes_with_more_than_its_share() {
        let two_thirds = Threshold::default();
        assert!(!two_thirds.passes(2, 3), "exactly two thirds is not more than two thirds");
        assert!(two_thirds.passes(3, 4));
        assert!(!two_thirds.passes(4, 6));
        assert!(two_thirds.passes(5, 6));
        assert!(two_thirds.passes(1, 1));
        assert!(!two_thirds.passes(0, 1));
        let half = Threshold { numerator: 1, denominator: 2 };
        assert!(!half.passes(2, 4));
        assert!(half.passes(3, 4));
    }

    #[test]
    fn threshold_problems_are_named() {
        assert_eq!(Threshold::default().problem(), None);
        assert_eq!(Threshold { numerator: 1, denominator: 2 }.problem(), None);
        assert!(Threshold { numerator: 1, denominator: 0 }.problem().expect("refused").contains("zero"));
        assert!(
            Threshold { numerator: 1, denominator: 3 }.problem().expect("refused").contains("below one half")
        );
        assert!(
            Threshold { numerator: 3, denominator: 3 }.problem().expect("refused").contains("one or more")
        );
    }

    #[test]
    fn params_problems_name_the_field() {
        assert!(ConsensusParams::default().problems().is_empty());
        let params = ConsensusParams { timeout_notarize_ms: 900, ..ConsensusParams::default() };
        let problems = params.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "timeout_notarize_ms");
        let params = ConsensusParams { block_txs_max: 0, ..ConsensusParams::default() };
        assert_eq!(params.problems()[0].0, "block_txs_max");
    }
}
