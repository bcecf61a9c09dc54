//! Price plan reads (issue #16, docs/ARCHITECTURE.md "Price plans"): every provider's prices in
//! one form, for comparing them and for agreeing to one.
//!
//! - `GET /v1/plans?member=M&item=I`: every plan version, newest version of each plan first,
//!   optionally only one member's or only those that price an item; each with its status
//!   (`active` or `retired`).
//! - `GET /v1/plans/{member}/{plan_id}`: one plan's versions, oldest first, each with its state
//!   proof against the committed header at `height`, so a client checks the prices it agrees to.
//! - `GET /v1/plans/{member}/{plan_id}/{version}/usage/{holder}`: what a holder settled under a
//!   version per item (its tier position), with its proof; a client needs it to compute the
//!   amount the ledger will accept for a settlement.

use std::str::FromStr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tally_ledger::state::{KeyRange, OrderedU64, PlanState};
use tally_ledger::{StateKey, StateRead, StateValue};
use tally_types::{ItemName, MemberId, PlanId};

use super::badges::proven_entry;
use super::markets::{parse_account, parse_member};
use super::{ApiResult, ApiState, Problem, ok_json, read_store};

/// The most plan versions one listing reads: plans are few (a member publishes a handful),
/// and the walk stays bounded whatever the state holds.
pub const PLANS_SCAN_MAX: usize = 10_000;

fn internal(error: impl ToString) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", "Storage error", error.to_string())
}

fn parse_plan_id(text: &str) -> Result<PlanId, Problem> {
    PlanId::from_str(text)
        .map_err(|error| Problem::bad_request("plan-id", format!("path: `{text}` is not a plan id: {error}")))
}

fn parse_version(text: &str) -> Result<u32, Problem> {
    // Digits only: `u32::from_str` would also take `+1`.
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    text.parse::<u32>().ok().filter(|version| digits && *version >= 1).ok_or_else(|| {
        Problem::bad_request(
            "plan-version",
            format!("path: `{text}` is not a plan version (a whole number from 1)"),
        )
    })
}

/// A plan version for people: the plan as published (prices in minor units per unit, exact to
/// a billionth, as decimal strings), its status and heights.
fn plan_json(member: &MemberId, state: &PlanState) -> serde_json::Value {
    json!({
        "member": member,
        "plan_id": state.plan.plan_id,
        "version": state.plan.version,
        "status": if state.retired_at.is_some() { "retired" } else { "active" },
        "published_at": state.published_at,
        "retired_at": state.retired_at,
        "plan": state.plan,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PlansQuery {
    member: Option<String>,
    item: Option<String>,
}

/// `GET /v1/plans?member=M&item=I`.
pub(super) async fn list_plans(
    State(state): State<ApiState>,
    query: Result<Query<PlansQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|rejection| Problem::bad_request("query", rejection.body_text()))?;
    let member = query.member.as_deref().map(|text| parse_member(text, "query `member`")).transpose()?;
    let item = query
        .item
        .as_deref()
        .map(|text| {
            ItemName::from_str(text)
                .map_err(|error| Problem::bad_request("item-name", format!("query `item`: {error}")))
        })
        .transpose()?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let range = KeyRange::plans();
        let mut cursor: Option<StateKey> = None;
        let mut plans = Vec::new();
        let mut scanned = 0usize;
        while scanned < PLANS_SCAN_MAX {
            scanned += 1;
            let Some((key, value)) = snapshot.next_entry(&range, cursor.as_ref()).map_err(internal)? else {
                break;
            };
            let (StateKey::Plan { member: owner, .. }, StateValue::Plan(plan)) = (&key, &value) else {
                return Err(internal(format!("the plan range holds {key:?}")));
            };
            let wanted = member.as_ref().is_none_or(|member| member == owner)
                && item.as_ref().is_none_or(|item| plan.plan.item(item).is_some());
            if wanted {
                plans.push((owner.clone(), (**plan).clone()));
            }
            cursor = Some(key);
        }
        // Cut short by the scan bound: say so.
        let truncated = scanned == PLANS_SCAN_MAX
            && snapshot.next_entry(&range, cursor.as_ref()).map_err(internal)?.is_some();
        // Newest version of each plan first, plans by member and id.
        plans.sort_by(|(a, x), (b, y)| {
            a.cmp(b)
                .then_with(|| x.plan.plan_id.cmp(&y.plan.plan_id))
                .then_with(|| y.plan.version.cmp(&x.plan.version))
        });
        let plans: Vec<_> = plans.iter().map(|(member, plan)| plan_json(member, plan)).collect();
        Ok(json!({ "height": snapshot.height(), "plans": plans, "truncated": truncated }))
    })
    .await?;
    ok_json(body)
}

/// `GET /v1/plans/{member}/{plan_id}`: every version, oldest first, each with its proof.
pub(super) async fn get_plan(
    State(state): State<ApiState>,
    Path((member, plan_id)): Path<(String, String)>,
) -> ApiResult {
    let member = parse_member(&member, "path")?;
    let plan_id = parse_plan_id(&plan_id)?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let range = KeyRange::plan_versions(&member, &plan_id);
        let mut cursor: Option<StateKey> = None;
        let mut versions = Vec::new();
        while let Some((key, _)) = snapshot.next_entry(&range, cursor.as_ref()).map_err(internal)? {
            if versions.len() >= PLANS_SCAN_MAX {
                break;
            }
            let (entry, value) = proven_entry(&snapshot, &key)?;
            let Some(StateValue::Plan(plan)) = value else {
                return Err(internal(format!("the plan version range holds {key:?}")));
            };
            let mut body = plan_json(&member, &plan);
            body["entry"] = entry;
            versions.push(body);
            cursor = Some(key);
        }
        if versions.is_empty() {
            return Err(Problem::not_found(format!("member `{member}` has published no plan `{plan_id}`")));
        }
        Ok(json!({ "height": snapshot.height(), "member": member, "plan_id": plan_id, "versions": versions }))
    })
    .await?;
    ok_json(body)
}

/// `GET /v1/plans/{member}/{plan_id}/{version}/usage/{holder}`: the holder's settled usage
/// under the version, per item, with its proof (an absent entry, proven absent, is no usage).
pub(super) async fn get_plan_usage(
    State(state): State<ApiState>,
    Path((member, plan_id, version, holder)): Path<(String, String, String, String)>,
) -> ApiResult {
    let member = parse_member(&member, "path")?;
    let plan_id = parse_plan_id(&plan_id)?;
    let version = parse_version(&version)?;
    let holder = parse_account(&holder, "path")?;
    let body = read_store(&state, move |store| {
        let snapshot = store.snapshot()?;
        let plan_key = StateKey::Plan {
            member: member.clone(),
            plan_id: plan_id.clone(),
            version: OrderedU64(u64::from(version)),
        };
        if snapshot.get(&plan_key).map_err(internal)?.is_none() {
            return Err(Problem::not_found(format!("member `{member}` has no plan {plan_id}@{version}")));
        }
        let key = StateKey::PlanUsage {
            holder,
            member: member.clone(),
            plan_id: plan_id.clone(),
            version: OrderedU64(u64::from(version)),
        };
        let (entry, value) = proven_entry(&snapshot, &key)?;
        let items = match value {
            Some(StateValue::PlanUsage(usage)) => json!(usage.items),
            None => json!([]),
            Some(other) => return Err(internal(format!("the usage key holds {other:?}"))),
        };
        Ok(json!({
            "height": snapshot.height(),
            "member": member,
            "plan_id": plan_id,
            "version": version,
            "holder": holder.to_address(),
            "items": items,
            "entry": entry,
        }))
    })
    .await?;
    ok_json(body)
}
