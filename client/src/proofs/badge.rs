//! The six steps of badge verification (docs/ARCHITECTURE.md "Badges").

use super::*;

/// One step of `tally badge verify`, passed or failed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StepReport {
    /// 1 to 6, in the order the steps run.
    pub number: u8,
    pub name: &'static str,
    pub passed: bool,
    /// What was shown (passed) or what is wrong (failed).
    pub detail: String,
    /// On a failure that compares two values: what the evidence should have said.
    pub expected: Option<String>,
    /// On a failure that compares two values: what it says.
    pub actual: Option<String>,
}

/// The names of the six steps, by number − 1.
pub const BADGE_STEPS: [&str; 6] =
    ["badge hash", "Merkle path", "anchor transaction", "finality", "issuer membership", "non-revocation"];

/// The outcome of verifying one badge: the steps run, up to the first failure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BadgeVerification {
    pub badge_hash: Hash,
    pub root: Hash,
    pub steps: Vec<StepReport>,
}

impl BadgeVerification {
    /// True when all six steps passed.
    pub fn is_valid(&self) -> bool {
        self.steps.len() == BADGE_STEPS.len() && self.steps.iter().all(|step| step.passed)
    }

    /// The step that failed, if any.
    pub fn failed_step(&self) -> Option<&StepReport> {
        self.steps.iter().find(|step| !step.passed)
    }
}

/// A failed step's content.
struct StepFailure {
    detail: String,
    expected: Option<String>,
    actual: Option<String>,
}

impl StepFailure {
    fn new(detail: impl Into<String>) -> Self {
        StepFailure { detail: detail.into(), expected: None, actual: None }
    }

    fn compare(detail: impl Into<String>, expected: impl ToString, actual: impl ToString) -> Self {
        StepFailure {
            detail: detail.into(),
            expected: Some(expected.to_string()),
            actual: Some(actual.to_string()),
        }
    }
}

impl From<ProofError> for StepFailure {
    fn from(error: ProofError) -> Self {
        let (expected, actual) = match error.expected_actual() {
            Some((expected, actual)) => (Some(expected), Some(actual)),
            None => (None, None),
        };
        StepFailure { detail: error.to_string(), expected, actual }
    }
}

impl From<crate::badge::BadgeError> for StepFailure {
    fn from(error: crate::badge::BadgeError) -> Self {
        use crate::badge::BadgeError;
        match &error {
            BadgeError::BadgeHashMismatch { expected, actual }
            | BadgeError::PathMismatch { expected, actual } => {
                StepFailure::compare(error.to_string(), expected, actual)
            }
            BadgeError::AnchorMismatch { expected, actual, .. } => {
                StepFailure::compare(error.to_string(), expected, actual)
            }
            _ => StepFailure::new(error.to_string()),
        }
    }
}

/// Runs the six steps of badge verification against `source`, stopping at the first failure:
///
/// 1. the assertion's hash (with the receipt's canonicalization) equals the receipt's;
/// 2. the receipt's Merkle path leads from that hash to the receipt's root;
/// 3. the anchor transaction (the receipt's `tx_id`, else the one the ledger's anchor entry
///    names) is in its block's tx root, its receipt in the receipts root says success, and it
///    holds an AnchorBadges op for this root, batch size and canonicalization;
/// 4. that block is final: a finalization by ≥ n − f of the validators of its epoch (as
///    established from the genesis file, [`Trust::epochs`]);
/// 5. under the latest finalized header (its certificate checked too), the ledger's anchor
///    entry for the root names this transaction and its signer, the member lists that signer
///    as an issuer, and the issuer index agrees (state proofs);
/// 6. under the same header, no revocation of the badge hash by the anchoring member exists
///    (a non-membership proof). Revocations by other members are not looked at: they cannot
///    revoke another member's badge.
pub fn verify_badge(
    source: &mut dyn ChainSource,
    trust: &Trust,
    assertion: &[u8],
    receipt: &crate::badge::BadgeReceipt,
) -> BadgeVerification {
    let mut report =
        BadgeVerification { badge_hash: receipt.badge_hash, root: receipt.root, steps: Vec::new() };
    let mut run = |number: u8, outcome: Result<String, StepFailure>| -> bool {
        let name = BADGE_STEPS[usize::from(number - 1)];
        let step = match outcome {
            Ok(detail) => StepReport { number, name, passed: true, detail, expected: None, actual: None },
            Err(failure) => StepReport {
                number,
                name,
                passed: false,
                detail: failure.detail,
                expected: failure.expected,
                actual: failure.actual,
            },
        };
        let passed = step.passed;
        report.steps.push(step);
        passed
    };

    // Steps 1 and 2: no ledger needed.
    let hashed = crate::badge::badge_hash(assertion, receipt.canon)
        .map_err(|error| StepFailure::new(format!("the assertion cannot be hashed: {error}")))
        .and_then(|actual| {
            if actual == receipt.badge_hash {
                Ok(format!("{} of the assertion is {actual}", crate::badge::canon_name(receipt.canon)))
            } else {
                Err(StepFailure::compare(
                    "the assertion does not hash to the receipt's badge hash (the assertion was changed, or the receipt is another badge's)",
                    receipt.badge_hash,
                    actual,
                ))
            }
        });
    if !run(1, hashed) {
        return report;
    }
    let path = receipt
        .path
        .compute_root(merkle_leaf(receipt.badge_hash.as_bytes()))
        .map_err(|error| StepFailure::new(format!("the receipt's path is malformed: {error}")))
        .and_then(|reached| {
            if reached == receipt.root {
                Ok(format!(
                    "leaf {} of {} leads to root {reached} ({} siblings)",
                    receipt.path.index,
                    receipt.path.leaf_count,
                    receipt.path.siblings.len()
                ))
            } else {
                Err(StepFailure::compare(
                    "the path does not lead to the receipt's root",
                    receipt.root,
                    reached,
                ))
            }
        });
    if !run(2, path) {
        return report;
    }

    // Step 3: the anchor transaction.
    let evidence = match source.badge(&receipt.badge_hash, &receipt.root) {
        Ok(evidence) => evidence,
        Err(error) => {
            run(3, Err(StepFailure::new(format!("cannot read the anchor evidence: {error}"))));
            return report;
        }
    };
    let anchor_tx = step_anchor_tx(source, receipt, &evidence);
    let (included, anchor_block) = match anchor_tx {
        Ok((included, block, detail)) => {
            run(3, Ok(detail));
            (included, block)
        }
        Err(failure) => {
            run(3, Err(failure));
            return report;
        }
    };

    // Step 4: the anchor block is final.
    let finality = verify_finality(source, trust, &anchor_block)
        .map_err(StepFailure::from)
        .map(|finalized| describe_finality(&finalized));
    if !run(4, finality) {
        return report;
    }

    // Steps 5 and 6: state proofs under the latest finalized header, no older than required.
    let latest = if evidence.height < trust.min_state_height {
        Err(StepFailure::compare(
            format!(
                "the state proofs are against height {}, below the required minimum {}: the \
                 source's state is too old to show the badge's current status",
                evidence.height, trust.min_state_height
            ),
            format!("height ≥ {}", trust.min_state_height),
            evidence.height,
        ))
    } else {
        finalized_block(source, trust, evidence.height).map_err(|error| {
            StepFailure::new(format!(
                "the header at height {} the state proofs are against: {error}",
                evidence.height
            ))
        })
    };
    let latest = match latest {
        Ok((_, finalized)) => finalized,
        Err(failure) => {
            run(5, Err(failure));
            return report;
        }
    };
    let membership = step_membership(&latest, receipt, &evidence, &included);
    let member = match membership {
        Ok((member, detail)) => {
            run(5, Ok(detail));
            member
        }
        Err(failure) => {
            run(5, Err(failure));
            return report;
        }
    };
    let revocation = step_revocation(&latest, receipt, &evidence, &member);
    run(6, revocation);
    report
}

fn describe_finality(finalized: &Finalized) -> String {
    let via = if finalized.certified_height == finalized.header.height {
        String::new()
    } else {
        format!(
            " (through the certificate of descendant {}, parent links checked)",
            finalized.certified_height
        )
    };
    format!(
        "block {} at height {} is finalized by {} of {} required signatures of epoch {}'s validators{via}",
        finalized.block_id, finalized.header.height, finalized.signers, finalized.quorum, finalized.epoch
    )
}

fn step_anchor_tx(
    source: &mut dyn ChainSource,
    receipt: &crate::badge::BadgeReceipt,
    evidence: &BadgeEvidence,
) -> Result<(IncludedTx, Block, String), StepFailure> {
    // The anchor entry is checked against a finalized header in step 5; here it only says
    // where to look when the receipt does not.
    let entry_tx = match &evidence.anchor.value {
        Some(text) => match hex::decode(text).ok().and_then(|bytes| StateValue::from_bytes(&bytes).ok()) {
            Some(StateValue::BadgeAnchor(anchor)) => Some(anchor.tx_id),
            _ => None,
        },
        None => None,
    };
    let tx_id = match (receipt.tx_id, entry_tx) {
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => {
            return Err(StepFailure::new(format!(
                "never anchored: the ledger has no anchor for root {}, and the receipt names no transaction",
                receipt.root
            )));
        }
    };
    let tx_evidence = match &evidence.anchor_tx {
        Some(found) if found.tx_id == tx_id => found.clone(),
        _ => source.tx(&tx_id)?.ok_or_else(|| {
            let anchored =
                if entry_tx.is_some() { "" } else { "; the ledger has no anchor for this root either" };
            StepFailure::new(format!("transaction {tx_id} is not in any committed block{anchored}"))
        })?,
    };
    let block = source
        .block(tx_evidence.height)?
        .ok_or_else(|| StepFailure::new(format!("no block at height {}", tx_evidence.height)))?;
    let included = verify_tx_inclusion(&block.header, &tx_id, &tx_evidence)?;
    if let Some(height) = receipt.height
        && height != included.height
    {
        return Err(StepFailure::compare(
            "the receipt's height differs from the block holding the transaction",
            included.height,
            height,
        ));
    }
    match &included.receipt.outcome {
        tally_types::TxOutcome::Success => {}
        tally_types::TxOutcome::Failed { op_index, code } => {
            let code = serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(StepFailure::compare(
                format!(
                    "the anchor transaction {tx_id} failed at op {op_index} ({code}); it anchored nothing"
                ),
                "success",
                format!("failed: {code}"),
            ));
        }
    }
    let op = included.tx.tx.ops.iter().find_map(|op| match op {
        Op::AnchorBadges(anchor) if anchor.batch_root == receipt.root => Some(anchor),
        _ => None,
    });
    let Some(op) = op else {
        return Err(StepFailure::new(format!(
            "transaction {tx_id} holds no AnchorBadges op for root {}",
            receipt.root
        )));
    };
    receipt.verify_anchor(op)?;
    let detail = format!(
        "transaction {tx_id} (index {} in block {}) anchors root {} with {}; it is in the tx root and its receipt (success) in the receipts root",
        included.index,
        included.height,
        receipt.root,
        if op.leaf_count == 1 { "1 badge".to_owned() } else { format!("{} badges", op.leaf_count) }
    );
    Ok((included, block, detail))
}

fn step_membership(
    latest: &Finalized,
    receipt: &crate::badge::BadgeReceipt,
    evidence: &BadgeEvidence,
    included: &IncludedTx,
) -> Result<(tally_types::MemberId, String), StepFailure> {
    let state_root = latest.header.state_root;
    let anchor_key = StateKey::BadgeAnchor { batch_root: receipt.root };
    let anchor = match evidence.anchor.verify(&state_root, &anchor_key)? {
        Some(StateValue::BadgeAnchor(anchor)) => anchor,
        Some(other) => {
            return Err(StepFailure::new(format!("the anchor entry holds a {:?} value", other.kind())));
        }
        None => {
            return Err(StepFailure::new(format!(
                "the ledger has no anchor entry for root {} at height {} (proof of absence checked)",
                receipt.root, latest.header.height
            )));
        }
    };
    let signer = included.tx.tx.signer;
    if anchor.tx_id != included.tx.id() {
        return Err(StepFailure::compare(
            "the anchor entry names another transaction",
            anchor.tx_id,
            included.tx.id(),
        ));
    }
    if anchor.issuer != signer {
        return Err(StepFailure::compare(
            "the anchor entry names another issuer than the signer",
            anchor.issuer,
            signer,
        ));
    }
    let member_key = StateKey::Member { member: anchor.member.clone() };
    let member_entry = evidence
        .member
        .as_ref()
        .ok_or_else(|| StepFailure::new(format!("no evidence for member `{}`", anchor.member)))?;
    let name = match member_entry.verify(&state_root, &member_key)? {
        Some(StateValue::Member(member)) => {
            // A removed member's issuers act for no one, and the ledger no longer vouches for
            // the badges they anchored: say so instead of "not an issuer" below.
            if let Some(height) = member.removed_at {
                return Err(StepFailure::new(format!(
                    "member `{}` was removed from the consortium at height {height}; the ledger no longer vouches for its issuers' badges",
                    anchor.member
                )));
            }
            if !member.issuers.iter().any(|issuer| *issuer == signer) {
                return Err(StepFailure::new(format!(
                    "member `{}` does not list {} among its issuers",
                    anchor.member,
                    signer.to_address()
                )));
            }
            member.name.as_str().to_owned()
        }
        _ => return Err(StepFailure::new(format!("member `{}` does not exist", anchor.member))),
    };
    let issuer_key = StateKey::Issuer { account: signer };
    let issuer_entry = evidence.issuer.as_ref().ok_or_else(|| {
        StepFailure::new(format!("no evidence for the issuer index of {}", signer.to_address()))
    })?;
    match issuer_entry.verify(&state_root, &issuer_key)? {
        Some(StateValue::Issuer(issuer)) if issuer.member == anchor.member => {}
        Some(StateValue::Issuer(issuer)) => {
            return Err(StepFailure::compare(
                "the issuer index names another member",
                &anchor.member,
                issuer.member,
            ));
        }
        _ => {
            return Err(StepFailure::new(format!("{} is not an issuer of any member", signer.to_address())));
        }
    }
    let detail = format!(
        "signer {} is an issuer of member `{}` ({name}); the anchor entry, the member and the issuer index are proven against the state root {} of finalized block {} ({} of {} signatures)",
        signer.to_address(),
        anchor.member,
        state_root,
        latest.header.height,
        latest.signers,
        latest.quorum
    );
    Ok((anchor.member, detail))
}

fn step_revocation(
    latest: &Finalized,
    receipt: &crate::badge::BadgeReceipt,
    evidence: &BadgeEvidence,
    member: &tally_types::MemberId,
) -> Result<String, StepFailure> {
    let key = StateKey::BadgeRevocation { member: member.clone(), badge_hash: receipt.badge_hash };
    let entry = evidence
        .revocation
        .as_ref()
        .ok_or_else(|| StepFailure::new(format!("no revocation evidence under member `{member}`")))?;
    match entry.verify(&latest.header.state_root, &key)? {
        None => Ok(format!(
            "member `{member}` has not revoked {}: non-membership proven against the state root of finalized block {}",
            receipt.badge_hash, latest.header.height
        )),
        Some(StateValue::BadgeRevocation(revocation)) => Err(StepFailure::compare(
            format!(
                "revoked by member `{member}` at height {} (transaction {}): \"{}\"",
                revocation.height,
                revocation.tx_id,
                revocation.reason.as_str()
            ),
            "not revoked",
            format!("revoked at height {}", revocation.height),
        )),
        Some(other) => {
            Err(StepFailure::new(format!("the revocation entry holds a {:?} value", other.kind())))
        }
    }
}
