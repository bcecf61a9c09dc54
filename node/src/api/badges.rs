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
//! - `GET /v1/badges/figures[?member=M]`: the community figures, per member and achievement
//!   the badges anchored and the batches that named it (`BadgeFigures` entries, written by
//!   `AnchorAchievements`), at the snapshot's height, each with its state key so that
//!   `GET /v1/state/proof?key=` proves it. At most [`FIGURES_MAX`] entries, then `truncated`.
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
use std::ops::Bound;
use tally_ledger::state::BadgeAnchorState;
use tally_ledger::{StateKey, StateValue, prove_entry};
use tally_store::Store;

use tally_types::{AchievementId, Hash, Height, MemberId, TxId};

use super::{ApiResult, ApiState, Problem, ok_json, read_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BadgeQuery {
    root: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FiguresQuery {
    member: Option<String>,
}

/// Figures entries one answer lists: every member's achievements on a large consortium (256
/// members with dozens of achievements each) fits; beyond it the answer says `truncated`.
pub const FIGURES_MAX: usize = 10_000;

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

/// `GET /v1/badges/figures[?member=M]`: one byte-range walk over the `BadgeFigures` entries
/// (of one member when named), sorted by member and achievement id.
pub(super) async fn get_figures(
    State(state): State<ApiState>,
    query: Result<Query<FiguresQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let member = query
        .member
        .as_deref()
        .map(|text| super::markets::parse_member(text, "query `member`"))
        .transpose()?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        // The kind is the key's first byte and the member follows it, borsh-encoded: the
        // prefix of every entry wanted. Take both from real encodings.
        let sample = StateKey::BadgeFigures {
            member: member.clone().unwrap_or_else(|| MemberId::new("aa").expect("a valid member id")),
            achievement: AchievementId::new("urn:x").expect("a valid achievement id"),
        };
        let mut prefix = vec![sample.to_bytes()[0]];
        if let Some(member) = &member {
            prefix.extend_from_slice(&tally_types::encode(member));
        }
        let mut last = prefix.clone();
        last.resize(tally_types::limits::STATE_KEY_BYTES_MAX + 1, 0xff);
        let mut figures = Vec::new();
        let mut cursor: Option<Vec<u8>> = None;
        let mut truncated = false;
        loop {
            let start = match &cursor {
                Some(key) => Bound::Excluded(key.as_slice()),
                None => Bound::Included(prefix.as_slice()),
            };
            let Some((key_bytes, value_bytes)) = snapshot.state_next(start, &last).map_err(internal)? else {
                break;
            };
            if figures.len() == FIGURES_MAX {
                truncated = true;
                break;
            }
            let key = StateKey::from_bytes(&key_bytes).map_err(internal)?;
            let value = StateValue::from_bytes(&value_bytes).map_err(internal)?;
            let (StateKey::BadgeFigures { member, achievement }, StateValue::BadgeFigures(entry)) = (&key, &value)
            else {
                return Err(internal(format!("the badge figures range holds {key:?}")));
            };
            figures.push((
                member.clone(),
                achievement.clone(),
                json!({
                    "member": member,
                    "achievement": achievement,
                    "anchored": entry.anchored,
                    "batches": entry.batches,
                    "first_height": entry.first_height,
                    "last_height": entry.last_height,
                    "key_hex": hex::encode(&key_bytes),
                }),
            ));
            cursor = Some(key_bytes);
        }
        // Byte order puts shorter ids first; readers want them by member, then id.
        figures.sort_by(|(a, x, _), (b, y, _)| a.cmp(b).then_with(|| x.cmp(y)));
        let figures: Vec<_> = figures.into_iter().map(|(_, _, entry)| entry).collect();
        Ok(json!({ "height": snapshot.height(), "member": member, "figures": figures, "truncated": truncated }))
    })
    .await?;
    ok_json(body)
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
