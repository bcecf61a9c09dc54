//! Governance reads (issue #12): the consortium's settings, members, validators and epochs,
//! and proposals with their votes and outcomes. Every entry comes with its state proof against
//! the state root of the committed header at `height`, so a client can check them as it checks
//! a balance (`tally verify state`; `tally gov show` prints the node's answer without checking).
//!
//! - `GET /v1/governance`: threshold and member count, the current and scheduled epochs, every
//!   validator of those epochs (each with its proof), and every member, active or removed
//!   (without proofs; each is provable with `GET /v1/state/proof`).
//! - `GET /v1/governance/proposals?after=ID&limit=N`: proposals by id, paged.
//! - `GET /v1/governance/proposals/{id}`: one proposal and its votes as of `height`.
//! - `GET /v1/epochs?after=N`: for each epoch after the first, the last block of the epoch
//!   before, its finalization and the proof of the next epoch's set under its state root
//!   (recorded by the store when that block committed).

use std::str::FromStr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tally_ledger::state::{KeyRange, ProposalOutcome, ProposalState};
use tally_ledger::{StateKey, StateRead, StateValue};
use tally_types::{OpId, limits};

use super::badges::proven_entry;
use super::{ApiResult, ApiState, Problem, ok_json, read_store};

/// The largest page of `GET /v1/governance/proposals`.
pub const PROPOSALS_PAGE_MAX: usize = 100;
/// Its page size when the client names none.
pub const PROPOSALS_PAGE_DEFAULT: usize = 20;

fn internal(error: impl ToString) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
}

fn parse_proposal_id(text: &str, what: &str) -> Result<OpId, Problem> {
    OpId::from_str(text).map_err(|error| {
        Problem::bad_request("proposal-id", format!("{what}: `{text}` is not a proposal id: {error}"))
    })
}

/// The most epochs in one answer of `GET /v1/epochs` (each up to a few tens of KiB).
pub const EPOCHS_PAGE_MAX: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EpochsQuery {
    after: Option<String>,
}

/// `GET /v1/epochs?after=N`: the chain of trust through the epochs (docs/ARCHITECTURE.md
/// "Governance and epochs"). For each epoch after `after` (0 when absent) whose start this
/// node recorded, in order, at most [`EPOCHS_PAGE_MAX`]: the header of the last block of the
/// epoch before, that block's finalization (by the epoch before's validators), and the
/// `Epochs` entry after that block with its proof under the header's state root, from which
/// a client that trusts the epoch before learns this one. `next` names the `after` of the next
/// page when there is one.
pub(super) async fn get_epochs(
    State(state): State<ApiState>,
    query: Result<Query<EpochsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let after = match query.after.as_deref() {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            Problem::bad_request("query", format!("query `after`: `{text}` is not an epoch number"))
        })?,
    };
    let body = read_store(&state, move |store| {
        let height = store.height().map_err(internal)?;
        let mut proofs = store.epoch_proofs(after, EPOCHS_PAGE_MAX + 1).map_err(internal)?;
        let more = proofs.len() > EPOCHS_PAGE_MAX;
        proofs.truncate(EPOCHS_PAGE_MAX);
        let mut epochs = Vec::with_capacity(proofs.len());
        for (number, record) in &proofs {
            let block = store.block(record.height).map_err(internal)?.ok_or_else(|| {
                internal(format!("no block at height {} where epoch {number}'s proof is", record.height))
            })?;
            let certificate = store
                .certificate(record.height)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("no certificate at height {}", record.height)))?;
            epochs.push(json!({
                "number": number,
                "start_height": record.height.next(),
                "header": block.header,
                "certificate": certificate,
                "entry": { "value": hex::encode(&record.value), "proof": record.proof },
            }));
        }
        let next = if more { proofs.last().map(|(number, _)| *number) } else { None };
        Ok(json!({ "height": height, "epochs": epochs, "next": next }))
    })
    .await?;
    ok_json(body)
}

/// `GET /v1/governance`.
pub(super) async fn get_governance(State(state): State<ApiState>) -> ApiResult {
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let (governance, _) = proven_entry(&snapshot, &StateKey::Governance)?;
        let (epochs_entry, epochs) = proven_entry(&snapshot, &StateKey::Epochs)?;
        let mut members = Vec::new();
        let range = KeyRange::members();
        let mut cursor = None;
        // Every member ever admitted: at most MEMBERS_MAX are active, and removals keep records,
        // so bound the walk by what a chain could plausibly hold and say so if it is cut.
        let scan_max = 4 * limits::MEMBERS_MAX;
        let mut truncated = false;
        for index in 0..=scan_max {
            let Some((key, value)) = snapshot.next_entry(&range, cursor.as_ref()).map_err(internal)? else {
                break;
            };
            if index == scan_max {
                truncated = true;
                break;
            }
            let (StateKey::Member { member }, StateValue::Member(state)) = (&key, &value) else {
                return Err(internal(format!("member range holds {key:?}")));
            };
            members.push(json!({
                "id": member,
                "name": state.name,
                "issuers": state.issuers.iter().map(|key| key.to_address()).collect::<Vec<_>>(),
                "governance_key": state.governance_key.to_address(),
                "removed_at": state.removed_at,
            }));
            cursor = Some(key);
        }
        let mut validators = Vec::new();
        if let Some(StateValue::Epochs(epochs)) = &epochs {
            for consensus_key in epochs.scheduled_keys() {
                let (entry, value) = proven_entry(&snapshot, &StateKey::Validator { consensus_key })?;
                let Some(StateValue::Validator(validator)) = value else {
                    return Err(internal(format!("validator {consensus_key} of an epoch has no entry")));
                };
                validators.push(json!({
                    "consensus_key": consensus_key,
                    "member": validator.member,
                    "name": validator.name,
                    "network_key": validator.network_key.to_hex(),
                    "p2p_listen": validator.p2p_listen,
                    "http_listen": validator.http_listen,
                    "in_current_epoch": epochs.current.validators.contains(&consensus_key),
                    "entry": entry,
                }));
            }
        }
        Ok(json!({
            "height": snapshot.height(),
            "governance": governance,
            "epochs": epochs_entry,
            "members": members,
            "members_truncated": truncated,
            "validators": validators,
        }))
    })
    .await?;
    ok_json(body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProposalsQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/governance/proposals?after=ID&limit=N`.
pub(super) async fn list_proposals(
    State(state): State<ApiState>,
    query: Result<Query<ProposalsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let limit = match query.limit.as_deref() {
        None => PROPOSALS_PAGE_DEFAULT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=PROPOSALS_PAGE_MAX).contains(&limit) => limit,
            _ => {
                return Err(Problem::bad_request(
                    "query",
                    format!("query `limit`: `{text}` is not a whole number in 1..={PROPOSALS_PAGE_MAX}"),
                ));
            }
        },
    };
    let after = query.after.as_deref().map(|text| parse_proposal_id(text, "query `after`")).transpose()?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let range = KeyRange::proposals();
        let mut cursor = after.map(|proposal_id| StateKey::Proposal { proposal_id });
        let mut proposals = Vec::new();
        let mut more = false;
        while let Some((key, value)) = snapshot.next_entry(&range, cursor.as_ref()).map_err(internal)? {
            if proposals.len() == limit {
                more = true;
                break;
            }
            let (StateKey::Proposal { proposal_id }, StateValue::Proposal(proposal)) = (&key, &value) else {
                return Err(internal(format!("proposal range holds {key:?}")));
            };
            proposals.push(proposal_json(*proposal_id, proposal, snapshot.height()));
            cursor = Some(key);
        }
        let next = match (&cursor, more) {
            (Some(StateKey::Proposal { proposal_id }), true) => Some(*proposal_id),
            _ => None,
        };
        Ok(json!({ "height": snapshot.height(), "proposals": proposals, "next": next }))
    })
    .await?;
    ok_json(body)
}

/// `GET /v1/governance/proposals/{id}`.
pub(super) async fn get_proposal(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let proposal_id = parse_proposal_id(&id, "path")?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let (entry, value) = proven_entry(&snapshot, &StateKey::Proposal { proposal_id })?;
        let Some(StateValue::Proposal(proposal)) = value else {
            return Err(Problem::not_found(format!("no proposal {proposal_id}")));
        };
        let mut body = proposal_json(proposal_id, &proposal, snapshot.height());
        body["height"] = json!(snapshot.height());
        body["entry"] = entry;
        Ok(body)
    })
    .await?;
    ok_json(body)
}

/// A proposal for people: its action, votes and status; an `open` proposal that no further
/// block can take a vote on shows as `expired` (the ledger needs no entry for that). `yes` and
/// `no` count the recorded votes: the ledger drops a removed member's vote at the next vote.
fn proposal_json(
    proposal_id: OpId,
    proposal: &ProposalState,
    height: tally_types::Height,
) -> serde_json::Value {
    let status = match &proposal.outcome {
        // At the expiry height itself the next block can no longer take a vote.
        ProposalOutcome::Open if height >= proposal.expires_at_height => "expired",
        ProposalOutcome::Open => "open",
        ProposalOutcome::Passed { .. } => "passed",
        ProposalOutcome::Rejected { .. } => "rejected",
        ProposalOutcome::Failed { .. } => "failed",
    };
    let yes = proposal.votes.iter().filter(|vote| vote.approve).count();
    json!({
        "proposal_id": proposal_id,
        "status": status,
        "action_name": proposal.action.name(),
        "action": proposal.action,
        "proposer": proposal.proposer,
        "height": proposal.height,
        "expires_at_height": proposal.expires_at_height,
        "votes": proposal.votes,
        "yes": yes,
        "no": proposal.votes.len() - yes,
        "outcome": proposal.outcome,
        "tx_id": proposal.tx_id,
    })
}
