//! Badge and receipt proofs (docs/ARCHITECTURE.md "Badges"): what `tally badge verify` and `tally verify tx`
//! need from a node, each answer read from one consistent store snapshot.
//!
//! - `GET /v1/badges/{hash}?root=R`: the anchor entry of batch root `R` with its state proof,
//!   the anchoring member's entry and the issuer-index entry of the anchoring account (step 5
//!   of verification), the revocation entry `BadgeRevocation { member, hash }` under the
//!   anchoring member, present or absent (step 6), and the anchor transaction with its tx-root
//!   and receipts-root inclusion proofs (step 3). Every state proof is against the state root
//!   of the committed header at `height`, which the client fetches with its certificate.
//!
//!   The root is required: the ledger stores batch roots, never the badge hashes under them,
//!   so a hash alone cannot be looked up. The holder has the root in its receipt.
//! - `GET /v1/txs/{id}/receipt`: the receipt of a committed transaction with its
//!   receipts-root inclusion proof (`GET /v1/txs/{id}` proves the transaction against the tx
//!   root; this proves what happened to it).
//!
//! Nothing here is trusted by the client: every entry comes with a proof the client checks
//! against a header whose finalization certificate it checks against the genesis validators.

use std::str::FromStr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tally_ledger::state::BadgeAnchorState;
use tally_ledger::{StateKey, StateValue, prove_entry};
use tally_store::Store;
use tally_types::{Hash, Height, TxId};

use super::{ApiResult, ApiState, Problem, ok_json, read_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BadgeQuery {
    root: Option<String>,
}

fn internal(error: impl std::fmt::Display) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
}

/// One state entry with its proof, as JSON: `{key, key_hex, value, value_decoded, proof}`.
pub(super) fn proven_entry(
    snapshot: &tally_store::Snapshot<'_>,
    key: &StateKey,
) -> Result<(serde_json::Value, Option<StateValue>), Problem> {
    let proof = prove_entry(snapshot, snapshot, key).map_err(internal)?;
    let decoded = match &proof.value {
        Some(bytes) => Some(StateValue::from_bytes(bytes).map_err(internal)?),
        None => None,
    };
    let body = json!({
        "key": key,
        "key_hex": hex::encode(key.to_bytes()),
        "value": proof.value.as_ref().map(hex::encode),
        "value_decoded": decoded,
        "proof": proof.proof,
    });
    Ok((body, decoded))
}

/// The committed transaction `id` with its tx-root and receipts-root inclusion proofs, or
/// `None` when no committed block holds it.
pub(super) fn tx_with_receipt_proof(store: &Store, id: TxId) -> Result<Option<serde_json::Value>, Problem> {
    let Some(found) = super::stored_tx(store, id)? else { return Ok(None) };
    let mut context = found.place_json();
    context["receipts_root"] = json!(found.block.header.receipts_root);
    context["tx_proof"] = json!(found.tx_proof());
    context["receipt"] = json!(found.receipt());
    context["receipt_proof"] = json!(found.receipt_proof());
    Ok(Some(super::tx_json(found.tx(), context)))
}

/// `GET /v1/txs/{id}/receipt`.
pub(super) async fn get_tx_receipt(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let id = TxId::from_str(&id)
        .map_err(|error| Problem::bad_request("tx-id", format!("`{id}` is not a tx id: {error}")))?;
    match read_store(&state, move |store| tx_with_receipt_proof(store, id)).await? {
        Some(found) => ok_json(found),
        None => Err(Problem::not_found(format!("transaction {id} is not in a committed block"))),
    }
}

/// `GET /v1/badges/{hash}?root=R`.
pub(super) async fn get_badge(
    State(state): State<ApiState>,
    Path(hash): Path<String>,
    query: Result<Query<BadgeQuery>, QueryRejection>,
) -> ApiResult {
    let badge_hash = Hash::from_str(&hash).map_err(|error| {
        Problem::bad_request("badge-hash", format!("`{hash}` is not a badge hash: {error}"))
    })?;
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let root_text = query.root.ok_or_else(|| {
        Problem::bad_request(
            "query",
            "query `root` is required: the ledger stores batch roots, not badge hashes; the root is in the badge's receipt",
        )
    })?;
    let batch_root = Hash::from_str(&root_text).map_err(|error| {
        Problem::bad_request("query", format!("query `root`: `{root_text}` is not a hash: {error}"))
    })?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let state_root = tally_ledger::tree::root(&snapshot).map_err(internal)?;
        let height: Height = snapshot.height();
        let anchor_key = StateKey::BadgeAnchor { batch_root };
        let (anchor, anchor_value) = proven_entry(&snapshot, &anchor_key)?;
        let mut body = json!({
            "badge_hash": badge_hash,
            "root": batch_root,
            "height": height,
            "state_root": state_root,
            "anchor": anchor,
            "member": null,
            "issuer": null,
            "revocation": null,
            "anchor_tx": null,
        });
        let anchor_state: BadgeAnchorState = match anchor_value {
            None => return Ok(body),
            Some(StateValue::BadgeAnchor(anchor)) => anchor,
            Some(other) => {
                return Err(internal(format!("entry {anchor_key:?} holds a {:?} value", other.kind())));
            }
        };
        let member_key = StateKey::Member { member: anchor_state.member.clone() };
        body["member"] = proven_entry(&snapshot, &member_key)?.0;
        let issuer_key = StateKey::Issuer { account: anchor_state.issuer };
        body["issuer"] = proven_entry(&snapshot, &issuer_key)?.0;
        let revocation_key = StateKey::BadgeRevocation { member: anchor_state.member.clone(), badge_hash };
        body["revocation"] = proven_entry(&snapshot, &revocation_key)?.0;
        // The anchor's transaction is committed at or below the snapshot's height; the store
        // never forgets a committed block, so a miss is corruption.
        drop(snapshot);
        let anchor_tx = tx_with_receipt_proof(store, anchor_state.tx_id)?.ok_or_else(|| {
            internal(format!(
                "the anchor of {batch_root} names transaction {} but no committed block holds it",
                anchor_state.tx_id
            ))
        })?;
        body["anchor_tx"] = anchor_tx;
        Ok(body)
    })
    .await?;
    ok_json(body)
}
