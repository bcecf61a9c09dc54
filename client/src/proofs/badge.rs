//! The six steps of badge verification (docs/ARCHITECTURE.md "Badges"), and three more for an
//! Open Badges 3.0 credential with an embedded proof: the OB 3.0 schema, the proof by an
//! issuer key of the anchoring member, the validity window.

use super::*;
use tally_types::PublicKey;

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
/// The names of steps 7 to 10, run for an Open Badges 3.0 JSON credential that carries a
/// proof; step 10 only when its evidence names ledger facts.
pub const CREDENTIAL_STEPS: [&str; 4] =
    ["OB 3.0 schema", "credential proof", "validity window", "ledger evidence"];

/// The outcome of verifying one badge: the steps run, up to the first failure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BadgeVerification {
    pub badge_hash: Hash,
    pub root: Hash,
    /// How many steps this badge has: 6, 9 for an OB 3.0 credential with a proof, 10 when its
    /// evidence also names ledger facts.
    pub step_count: u8,
    pub steps: Vec<StepReport>,
}

impl BadgeVerification {
    /// True when every step of this badge ran and passed.
    pub fn is_valid(&self) -> bool {
        self.steps.len() == usize::from(self.step_count) && self.steps.iter().all(|step| step.passed)
    }

    /// The step that failed, if any.
    pub fn failed_step(&self) -> Option<&StepReport> {
        self.steps.iter().find(|step| !step.passed)
    }

    /// Records step `number`'s outcome; returns whether it passed.
    fn record(&mut self, number: u8, outcome: Result<String, StepFailure>) -> bool {
        let index = usize::from(number - 1);
        let name =
            BADGE_STEPS.get(index).copied().unwrap_or_else(|| CREDENTIAL_STEPS[index - BADGE_STEPS.len()]);
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
        self.steps.push(step);
        passed
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
///    holds an AnchorBadges (or AnchorAchievements) op for this root, batch size and canonicalization;
/// 4. that block is final: a finalization by ≥ n − f of the validators of its epoch (as
///    established from the genesis file, [`Trust::epochs`]);
/// 5. under the latest finalized header (its certificate checked too), the ledger's anchor
///    entry for the root names this transaction and its signer, the member lists that signer
///    as an issuer, and the issuer index agrees (state proofs);
/// 6. under the same header, no revocation of the badge hash by the anchoring member exists
///    (a non-membership proof). Revocations by other members are not looked at: they cannot
///    revoke another member's badge.
///
/// For an Open Badges 3.0 JSON credential that carries an embedded proof, three more:
///
/// 7. the credential is valid under the bundled OB 3.0 JSON schema;
/// 8. its `eddsa-rdfc-2022` proof verifies, the proof's key is the credential's issuer (its
///    `did:key`), and that key is an issuer of the anchoring member (the member entry proven
///    in step 5);
/// 9. the verification time ([`Trust::credential_time_unix_s`], else the clock) lies in its
///    validity window.
///
/// And for a credential whose evidence names ledger facts (genre `tally-ledger-fact`), one more:
///
/// 10. each fact checks against the chain ([`super::facts::verify_facts`]): state facts by a
///     state proof under a finalized header, grants by inclusion proofs of the transaction and
///     its receipt, all for the credential's subject and the rule the facts name.
///
/// A credential without a proof (or a VC-JWT) has the six steps: the ledger anchor is then
/// its only evidence of issuance.
// Not split: the steps in their order, each recorded before the next one runs.
pub fn verify_badge(
    source: &mut dyn ChainSource,
    trust: &Trust,
    assertion: &[u8],
    receipt: &crate::badge::BadgeReceipt,
) -> BadgeVerification {
    let credential = credential_with_proof(assertion);
    let step_count = match &credential {
        None => 6,
        Some(credential) if super::facts::names_facts(credential) => 10,
        Some(_) => 9,
    };
    let mut report = BadgeVerification {
        badge_hash: receipt.badge_hash,
        root: receipt.root,
        step_count,
        steps: Vec::new(),
    };
    // Steps 1 and 2: no ledger needed.
    if !report.record(1, step_assertion_hash(assertion, receipt)) || !report.record(2, step_path(receipt)) {
        return report;
    }

    // Step 3: the anchor transaction.
    let evidence = match source.badge(&receipt.badge_hash, &receipt.root) {
        Ok(evidence) => evidence,
        Err(error) => {
            report.record(3, Err(StepFailure::new(format!("cannot read the anchor evidence: {error}"))));
            return report;
        }
    };
    let (included, anchor_block) = match step_anchor_tx(source, receipt, &evidence, assertion) {
        Ok((included, block, detail)) => {
            report.record(3, Ok(detail));
            (included, block)
        }
        Err(failure) => {
            report.record(3, Err(failure));
            return report;
        }
    };

    // Step 4: the anchor block is final.
    let finality = verify_finality(source, trust, &anchor_block)
        .map_err(StepFailure::from)
        .map(|finalized| describe_finality(&finalized));
    if !report.record(4, finality) {
        return report;
    }

    // Steps 5 and 6: state proofs under the latest finalized header, no older than required.
    let latest = match state_header(source, trust, &evidence) {
        Ok(finalized) => finalized,
        Err(failure) => {
            report.record(5, Err(failure));
            return report;
        }
    };
    let (member, issuers) = match step_membership(&latest, receipt, &evidence, &included) {
        Ok((member, issuers, detail)) => {
            report.record(5, Ok(detail));
            (member, issuers)
        }
        Err(failure) => {
            report.record(5, Err(failure));
            return report;
        }
    };
    let revocation = step_revocation(&latest, receipt, &evidence, &member);
    if !report.record(6, revocation) {
        return report;
    }
    if let Some(credential) = credential
        && credential_steps(&mut report, trust, &credential, &member, &issuers)
        && report.step_count == 10
    {
        let facts = super::facts::claimed_facts(&credential, &trust.chain_id)
            .and_then(|claimed| claimed.ok_or_else(|| "the credential names no ledger facts".to_owned()))
            .and_then(|claimed| super::facts::verify_facts(source, trust, &claimed))
            .map_err(StepFailure::new);
        report.record(10, facts);
    }
    report
}

/// Steps 7 to 9: the credential itself (schema, proof by an issuer key of `member`, validity
/// window), stopping at the first failure; true when all three passed.
fn credential_steps(
    report: &mut BadgeVerification,
    trust: &Trust,
    credential: &serde_json::Value,
    member: &tally_types::MemberId,
    issuers: &[PublicKey],
) -> bool {
    let schema = crate::ob3::schema::check_credential(credential)
        .map(|()| "the credential is valid under the bundled Open Badges 3.0 JSON schema".to_owned())
        .map_err(|error| StepFailure::new(error.to_string()));
    if !report.record(7, schema) || !report.record(8, step_credential_proof(credential, member, issuers)) {
        return false;
    }
    let now = trust.credential_time_unix_s.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
    });
    let validity = crate::ob3::credential::check_validity(credential, now)
        .map_err(|error| StepFailure::new(error.to_string()));
    report.record(9, validity)
}

/// The assertion as JSON when it is an Open Badges 3.0 JSON credential with a `proof`: the
/// badges that get steps 7 to 9.
fn credential_with_proof(assertion: &[u8]) -> Option<serde_json::Value> {
    let (format, canon) = crate::badge::detect(assertion).ok()?;
    if format != tally_types::tx::BadgeFormat::OpenBadges3 || canon != tally_types::tx::BadgeCanon::JcsBlake3
    {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(assertion).ok()?;
    crate::ob3::proof::has_proof(&value).then_some(value)
}

/// Step 8: the proof verifies, its key is the credential's issuer, and an issuer key of the
/// anchoring member.
fn step_credential_proof(
    credential: &serde_json::Value,
    member: &tally_types::MemberId,
    issuers: &[PublicKey],
) -> Result<String, StepFailure> {
    let verified = crate::ob3::credential::verify_issuer_proof(credential)
        .map_err(|error| StepFailure::new(error.to_string()))?;
    if !issuers.contains(&verified.key) {
        return Err(StepFailure::compare(
            format!(
                "the credential is signed by {} (account {}), which is not an issuer key of member `{member}`, the member that anchored it",
                verified.controller,
                verified.key.to_address()
            ),
            format!("an issuer key of `{member}`"),
            verified.key.to_address(),
        ));
    }
    Ok(format!(
        "eddsa-rdfc-2022 proof by {} verifies; the key (account {}) is the credential's issuer and an issuer of member `{member}`",
        verified.verification_method,
        verified.key.to_address()
    ))
}

/// Step 1: the assertion's hash, with the receipt's canonicalization, is the receipt's.
fn step_assertion_hash(
    assertion: &[u8],
    receipt: &crate::badge::BadgeReceipt,
) -> Result<String, StepFailure> {
    let actual = crate::badge::badge_hash(assertion, receipt.canon)
        .map_err(|error| StepFailure::new(format!("the assertion cannot be hashed: {error}")))?;
    if actual == receipt.badge_hash {
        Ok(format!("{} of the assertion is {actual}", crate::badge::canon_name(receipt.canon)))
    } else {
        Err(StepFailure::compare(
            "the assertion does not hash to the receipt's badge hash (the assertion was changed, or the receipt is another badge's)",
            receipt.badge_hash,
            actual,
        ))
    }
}

/// Step 2: the receipt's Merkle path leads from the badge hash to the receipt's root.
fn step_path(receipt: &crate::badge::BadgeReceipt) -> Result<String, StepFailure> {
    let reached = receipt
        .path
        .compute_root(merkle_leaf(receipt.badge_hash.as_bytes()))
        .map_err(|error| StepFailure::new(format!("the receipt's path is malformed: {error}")))?;
    if reached == receipt.root {
        Ok(format!(
            "leaf {} of {} leads to root {reached} ({} siblings)",
            receipt.path.index,
            receipt.path.leaf_count,
            receipt.path.siblings.len()
        ))
    } else {
        Err(StepFailure::compare("the path does not lead to the receipt's root", receipt.root, reached))
    }
}

/// The finalized header the state proofs of steps 5 and 6 are against, refused when it is
/// below the height the verifier requires.
fn state_header(
    source: &mut dyn ChainSource,
    trust: &Trust,
    evidence: &BadgeEvidence,
) -> Result<Finalized, StepFailure> {
    if evidence.height < trust.min_state_height {
        return Err(StepFailure::compare(
            format!(
                "the state proofs are against height {}, below the required minimum {}: the \
                 source's state is too old to show the badge's current status",
                evidence.height, trust.min_state_height
            ),
            format!("height ≥ {}", trust.min_state_height),
            evidence.height,
        ));
    }
    let (_, finalized) = finalized_block(source, trust, evidence.height).map_err(|error| {
        StepFailure::new(format!(
            "the header at height {} the state proofs are against: {error}",
            evidence.height
        ))
    })?;
    Ok(finalized)
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
    assertion: &[u8],
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
    let anchor_op = successful_anchor_op(&included, receipt, &tx_id)?;
    let op = anchor_op.badge_anchor().expect("successful_anchor_op finds badge anchors only");
    receipt.verify_anchor(op)?;
    let counted = match anchor_op {
        Op::AnchorAchievements(named) => named_achievement(named, assertion)?,
        _ => String::new(),
    };
    let detail = format!(
        "transaction {tx_id} (index {} in block {}) anchors root {} with {}{counted}; it is in the tx root and its receipt (success) in the receipts root",
        included.index,
        included.height,
        receipt.root,
        if op.leaf_count == 1 { "1 badge".to_owned() } else { format!("{} badges", op.leaf_count) }
    );
    Ok((included, block, detail))
}

/// An anchor that names its badges' achievements (the ledger counts them per achievement, the
/// community figures) must name this badge's — an Open Badges 3.0 credential's achievement,
/// a 2.0 assertion's badge class: otherwise the figures would count it under another. The
/// ledger cannot check this (it sees hashes only); a verifier can.
fn named_achievement(
    named: &tally_types::tx::AnchorAchievements,
    assertion: &[u8],
) -> Result<String, StepFailure> {
    let listed: Vec<&str> = named.achievements.iter().map(|count| count.achievement.as_str()).collect();
    let id = crate::badge::achievement_id(assertion);
    match id.as_deref() {
        Some(id) if listed.contains(&id) => Ok(format!(", counted under achievement {id}")),
        Some(id) => Err(StepFailure::compare(
            "the anchor counts its badges under achievements that do not include this credential's",
            listed.join(", "),
            id,
        )),
        None => Err(StepFailure::compare(
            "the anchor counts its badges under achievements, but this badge names none (no credentialSubject.achievement.id, no badge class)",
            listed.join(", "),
            "no achievement id",
        )),
    }
}

/// The anchor transaction succeeded, and its AnchorBadges or AnchorAchievements op for the receipt's root.
fn successful_anchor_op<'a>(
    included: &'a IncludedTx,
    receipt: &crate::badge::BadgeReceipt,
    tx_id: &TxId,
) -> Result<&'a Op, StepFailure> {
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
    let op = included
        .tx
        .tx
        .ops
        .iter()
        .find(|op| op.badge_anchor().is_some_and(|anchor| anchor.batch_root == receipt.root));
    let Some(op) = op else {
        return Err(StepFailure::new(format!(
            "transaction {tx_id} holds no AnchorBadges or AnchorAchievements op for root {}",
            receipt.root
        )));
    };
    Ok(op)
}

fn step_membership(
    latest: &Finalized,
    receipt: &crate::badge::BadgeReceipt,
    evidence: &BadgeEvidence,
    included: &IncludedTx,
) -> Result<(tally_types::MemberId, Vec<PublicKey>, String), StepFailure> {
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
    let (name, issuers) = verify_member_lists_issuer(evidence, &state_root, &anchor.member, &signer)?;
    verify_issuer_index(evidence, &state_root, &anchor.member, &signer)?;
    let detail = format!(
        "signer {} is an issuer of member `{}` ({name}); the anchor entry, the member and the issuer index are proven against the state root {} of finalized block {} ({} of {} signatures)",
        signer.to_address(),
        anchor.member,
        state_root,
        latest.header.height,
        latest.signers,
        latest.quorum
    );
    Ok((anchor.member, issuers, detail))
}

/// The member entry (proven against `state_root`) exists, is not removed and lists `signer`
/// as an issuer; returns the member's name and issuer keys.
fn verify_member_lists_issuer(
    evidence: &BadgeEvidence,
    state_root: &Hash,
    member_id: &tally_types::MemberId,
    signer: &PublicKey,
) -> Result<(String, Vec<PublicKey>), StepFailure> {
    let member_key = StateKey::Member { member: member_id.clone() };
    let member_entry = evidence
        .member
        .as_ref()
        .ok_or_else(|| StepFailure::new(format!("no evidence for member `{}`", member_id)))?;
    match member_entry.verify(state_root, &member_key)? {
        Some(StateValue::Member(member)) => {
            // A removed member's issuers act for no one, and the ledger no longer vouches for
            // the badges they anchored: say so instead of "not an issuer" below.
            if let Some(height) = member.removed_at {
                return Err(StepFailure::new(format!(
                    "member `{}` was removed from the consortium at height {height}; the ledger no longer vouches for its issuers' badges",
                    member_id
                )));
            }
            if !member.issuers.iter().any(|issuer| issuer == signer) {
                return Err(StepFailure::new(format!(
                    "member `{}` does not list {} among its issuers",
                    member_id,
                    signer.to_address()
                )));
            }
            Ok((member.name.as_str().to_owned(), member.issuers.iter().copied().collect()))
        }
        _ => Err(StepFailure::new(format!("member `{member_id}` does not exist"))),
    }
}

/// The issuer index (proven against `state_root`) names `signer`'s member as the anchor's.
fn verify_issuer_index(
    evidence: &BadgeEvidence,
    state_root: &Hash,
    member_id: &tally_types::MemberId,
    signer: &PublicKey,
) -> Result<(), StepFailure> {
    let issuer_key = StateKey::Issuer { account: *signer };
    let issuer_entry = evidence.issuer.as_ref().ok_or_else(|| {
        StepFailure::new(format!("no evidence for the issuer index of {}", signer.to_address()))
    })?;
    match issuer_entry.verify(state_root, &issuer_key)? {
        Some(StateValue::Issuer(issuer)) if issuer.member == *member_id => {}
        Some(StateValue::Issuer(issuer)) => {
            return Err(StepFailure::compare(
                "the issuer index names another member",
                member_id,
                issuer.member,
            ));
        }
        _ => {
            return Err(StepFailure::new(format!("{} is not an issuer of any member", signer.to_address())));
        }
    }
    Ok(())
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
