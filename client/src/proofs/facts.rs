//! Badges whose claims the ledger proves (docs/ARCHITECTURE.md "Ledger facts"): the rules an
//! achievement may carry, the facts a credential's evidence names, gathering them for a holder
//! when issuing, and checking them against the chain when verifying (step 10, "ledger
//! evidence").
//!
//! A rule is one of five kinds. Four are state facts, each one entry of the ledger's
//! authenticated state proven under a finalized header's state root:
//! - `api-calls`: the units of the holder's settled usage with the provider (`Usage`);
//! - `spend`: what the holder paid the provider in one asset by settlements (`Spent`);
//! - `applications`: the distinct applications named by the provider's settlements (`Usage`);
//! - `revenue`: what the holder received in one asset, from market fills and grants (`Revenue`).
//!
//! The fifth, `contributions`, is counted reward grants of one reason made by the provider to
//! the holder, each proven by the grant transaction's and its receipt's inclusion in a
//! finalized block. The ledger proves the grant was made and succeeded; that the contribution
//! happened rests on the provider's attestation (it signed the grant).
//!
//! Every counter only grows, so a fact "value V at height H" is checked by proving the entry at
//! the verifier's latest finalized height H' ≥ H and requiring its counter to be at least V,
//! and V at least the rule's threshold. (Nodes keep one version of the state tree, so the
//! entry at H itself cannot be proven later; a larger value later only strengthens the claim.)
//!
//! In a credential, each fact is an OB 3.0 `Evidence` object with `genre`
//! [`FACT_GENRE`]; its `narrative` holds the rule and the fact as JSON, and its `id` is a URN
//! naming the height and the state key or transaction, so the signed credential names both.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tally_ledger::state::StateValue;
use tally_types::tx::{GrantKind, Op, RewardReason};
use tally_types::{AssetId, Height, MemberId, PublicKey, TxId};

use super::*;

/// The `genre` of an evidence entry that names a ledger fact.
pub const FACT_GENRE: &str = "tally-ledger-fact";
/// The achievement member that carries a ledger rule in an achievements file. It is removed
/// before the achievement is embedded in a credential (its terms are not in the OB 3.0
/// context); the rule travels in each evidence entry instead.
pub const RULE_MEMBER: &str = "tallyRule";
/// The most facts a credential may name (a counted contributions rule takes one per grant).
pub const FACTS_MAX: usize = 64;

/// A ledger rule: what a holder must have done for an achievement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LedgerRule {
    /// At least `threshold` units of settled usage with `provider`.
    ApiCalls { provider: MemberId, threshold: u64 },
    /// At least `threshold` minor units of `asset` paid to `provider` by settlements.
    Spend { provider: MemberId, asset: AssetId, threshold: u64 },
    /// At least `threshold` distinct applications with usage settled by `provider`.
    Applications { provider: MemberId, threshold: u64 },
    /// At least `threshold` minor units of `asset` received from market sales and grants.
    Revenue { asset: AssetId, threshold: u64 },
    /// At least `count` reward grants of `reason` from `provider` (an attestation it signed).
    Contributions { provider: MemberId, reason: String, count: u32 },
}

impl LedgerRule {
    /// The rule's kind, as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            LedgerRule::ApiCalls { .. } => "api-calls",
            LedgerRule::Spend { .. } => "spend",
            LedgerRule::Applications { .. } => "applications",
            LedgerRule::Revenue { .. } => "revenue",
            LedgerRule::Contributions { .. } => "contributions",
        }
    }

    /// Checks what serde cannot: a positive threshold or count, a known reason.
    pub fn check(&self) -> Result<(), String> {
        match self {
            LedgerRule::ApiCalls { threshold, .. }
            | LedgerRule::Spend { threshold, .. }
            | LedgerRule::Applications { threshold, .. }
            | LedgerRule::Revenue { threshold, .. } => {
                if *threshold == 0 {
                    return Err(format!("a {} rule needs a threshold of at least 1", self.kind()));
                }
            }
            LedgerRule::Contributions { reason, count, .. } => {
                if *count == 0 {
                    return Err("a contributions rule needs a count of at least 1".into());
                }
                self.reward_reason().map_err(|error| format!("contributions rule: {error}"))?;
                let _ = reason;
            }
        }
        Ok(())
    }

    /// The reward reason of a contributions rule.
    fn reward_reason(&self) -> Result<RewardReason, String> {
        match self {
            LedgerRule::Contributions { reason, .. } => {
                crate::txbuild::parse_reward_reason(reason).map_err(|error| error.to_string())
            }
            _ => Err(format!("a {} rule names no reward reason", self.kind())),
        }
    }

    /// The state entry a state rule reads for `holder`; `None` for contributions.
    pub fn state_key(&self, holder: PublicKey) -> Option<StateKey> {
        match self {
            LedgerRule::ApiCalls { provider, .. } | LedgerRule::Applications { provider, .. } => {
                Some(StateKey::Usage { holder, provider: provider.clone() })
            }
            LedgerRule::Spend { provider, asset, .. } => {
                Some(StateKey::Spent { holder, provider: provider.clone(), asset: asset.clone() })
            }
            LedgerRule::Revenue { asset, .. } => {
                Some(StateKey::Revenue { account: holder, asset: asset.clone() })
            }
            LedgerRule::Contributions { .. } => None,
        }
    }

    /// The counter this rule reads from a proven entry (absent: zero).
    pub fn counter(&self, value: Option<&StateValue>) -> Result<u128, String> {
        let wrong = |value: &StateValue| {
            format!("the entry is a {:?}, not what a {} rule reads", value.kind(), self.kind())
        };
        Ok(match (self, value) {
            (_, None) => 0,
            (LedgerRule::ApiCalls { .. }, Some(StateValue::Usage(usage))) => usage.units,
            (LedgerRule::Applications { .. }, Some(StateValue::Usage(usage))) => {
                u128::from(usage.applications)
            }
            (LedgerRule::Spend { .. }, Some(StateValue::Spent(spent))) => spent.amount.0,
            (LedgerRule::Revenue { .. }, Some(StateValue::Revenue(revenue))) => revenue.total().0,
            (_, Some(other)) => return Err(wrong(other)),
        })
    }

    /// The threshold: units, minor units, applications or grants.
    pub fn threshold(&self) -> u128 {
        match self {
            LedgerRule::ApiCalls { threshold, .. }
            | LedgerRule::Spend { threshold, .. }
            | LedgerRule::Applications { threshold, .. }
            | LedgerRule::Revenue { threshold, .. } => u128::from(*threshold),
            LedgerRule::Contributions { count, .. } => u128::from(*count),
        }
    }

    /// One line for people: what the rule asks.
    pub fn describe(&self) -> String {
        match self {
            LedgerRule::ApiCalls { provider, threshold } => {
                format!("at least {threshold} units of usage settled by `{provider}`")
            }
            LedgerRule::Spend { provider, asset, threshold } => {
                format!("at least {threshold} minor units of {asset} paid to `{provider}` by settlements")
            }
            LedgerRule::Applications { provider, threshold } => {
                format!("at least {threshold} applications with usage settled by `{provider}`")
            }
            LedgerRule::Revenue { asset, threshold } => {
                format!("at least {threshold} minor units of {asset} received from market sales and grants")
            }
            LedgerRule::Contributions { provider, reason, count } => {
                format!(
                    "at least {count} `{reason}` reward grants from `{provider}` (the provider's attestation)"
                )
            }
        }
    }

    /// True for a rule whose facts rest on the provider's attestation (a reward grant it
    /// signed), not on metered usage or trades the ledger itself records.
    pub fn is_attestation(&self) -> bool {
        matches!(self, LedgerRule::Contributions { .. })
    }
}

/// Reads the rule an achievement carries (`tallyRule`), if any.
pub fn rule_of(achievement: &Value) -> Result<Option<LedgerRule>, String> {
    let Some(rule) = achievement.get(RULE_MEMBER) else { return Ok(None) };
    let rule: LedgerRule = serde_json::from_value(rule.clone())
        .map_err(|error| format!("`{RULE_MEMBER}` is not a ledger rule: {error}"))?;
    rule.check()?;
    Ok(Some(rule))
}

/// The achievement without its rule, as it is embedded in a credential and schema-checked.
pub fn without_rule(achievement: &Value) -> Value {
    let mut achievement = achievement.clone();
    if let Value::Object(members) = &mut achievement {
        members.remove(RULE_MEMBER);
    }
    achievement
}

/// One ledger fact a credential names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fact {
    /// A state entry's counter: `value` at `height`, under key `key` (hex of the encoded key).
    State { height: Height, key: String, value: String },
    /// A reward grant: op `op_index` of transaction `tx_id`, committed at `height`.
    Grant { height: Height, tx_id: TxId, op_index: u8 },
}

impl Fact {
    /// The evidence `id`: a URN naming the fact's height and entry or transaction.
    fn urn(&self, chain_id: &ChainId) -> String {
        match self {
            Fact::State { height, key, .. } => format!("urn:tally:{chain_id}:state:{height}:{key}"),
            Fact::Grant { height, tx_id, op_index } => {
                format!("urn:tally:{chain_id}:tx:{height}:{tx_id}:{op_index}")
            }
        }
    }

    /// The OB 3.0 `Evidence` object for this fact of `rule`.
    pub fn to_evidence(&self, chain_id: &ChainId, rule: &LedgerRule, holder: &PublicKey) -> Value {
        let description = match self {
            Fact::State { height, value, .. } => format!(
                "{} of account {} at height {height}: {value} (rule: {})",
                rule.kind(),
                holder.to_address(),
                rule.describe()
            ),
            Fact::Grant { height, tx_id, op_index } => format!(
                "reward grant to account {} in transaction {tx_id} (op {op_index}) at height {height} (rule: {})",
                holder.to_address(),
                rule.describe()
            ),
        };
        let narrative = json!({ "rule": rule, "fact": self }).to_string();
        json!({
            "id": self.urn(chain_id),
            "type": ["Evidence"],
            "name": format!("Ledger fact: {}", rule.kind()),
            "description": description,
            "genre": FACT_GENRE,
            "narrative": narrative,
        })
    }
}

/// True when some evidence entry of the credential has genre [`FACT_GENRE`].
pub fn names_facts(credential: &Value) -> bool {
    match credential.get("evidence") {
        Some(Value::Array(entries)) => {
            entries.iter().any(|entry| entry.get("genre").and_then(Value::as_str) == Some(FACT_GENRE))
        }
        Some(entry) => entry.get("genre").and_then(Value::as_str) == Some(FACT_GENRE),
        None => false,
    }
}

/// The rule and facts a credential's evidence names, read back from its evidence entries of
/// genre [`FACT_GENRE`]; `None` when it names none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedFacts {
    pub rule: LedgerRule,
    pub facts: Vec<Fact>,
    /// The credential's subject account (`credentialSubject.id`, a `did:key`).
    pub holder: PublicKey,
}

impl ClaimedFacts {
    /// The transactions the grant facts name (for an archive source to keep).
    pub fn grant_txs(&self) -> Vec<TxId> {
        self.facts
            .iter()
            .filter_map(|fact| match fact {
                Fact::Grant { tx_id, .. } => Some(*tx_id),
                Fact::State { .. } => None,
            })
            .collect()
    }
}

/// Reads the ledger facts a credential names. Every fact entry must carry the same rule, its
/// `id` must be the URN of its fact on `chain_id`, and the subject must be an account.
pub fn claimed_facts(credential: &Value, chain_id: &ChainId) -> Result<Option<ClaimedFacts>, String> {
    let entries: Vec<&Value> = match credential.get("evidence") {
        Some(Value::Array(entries)) => entries.iter().collect(),
        Some(entry @ Value::Object(_)) => vec![entry],
        _ => Vec::new(),
    };
    let entries: Vec<&Value> = entries
        .into_iter()
        .filter(|entry| entry.get("genre").and_then(Value::as_str) == Some(FACT_GENRE))
        .collect();
    if entries.is_empty() {
        return Ok(None);
    }
    if entries.len() > FACTS_MAX {
        return Err(format!(
            "the credential names {} ledger facts; at most {FACTS_MAX} are checked",
            entries.len()
        ));
    }
    let mut rule: Option<LedgerRule> = None;
    let mut facts = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let narrative = entry
            .get("narrative")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("ledger fact {index} has no narrative"))?;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Narrative {
            rule: LedgerRule,
            fact: Fact,
        }
        let parsed: Narrative = serde_json::from_str(narrative).map_err(|error| {
            format!("ledger fact {index}: its narrative is not a rule and a fact: {error}")
        })?;
        parsed.rule.check().map_err(|error| format!("ledger fact {index}: {error}"))?;
        match &rule {
            None => rule = Some(parsed.rule),
            Some(first) if *first != parsed.rule => {
                return Err(format!("ledger fact {index} names another rule than fact 0"));
            }
            Some(_) => {}
        }
        let urn = parsed.fact.urn(chain_id);
        if entry.get("id").and_then(Value::as_str) != Some(urn.as_str()) {
            return Err(format!("ledger fact {index}: its id is not {urn}, the fact its narrative names"));
        }
        facts.push(parsed.fact);
    }
    let subject = credential
        .pointer("/credentialSubject/id")
        .and_then(Value::as_str)
        .ok_or("the credential names ledger facts but its subject has no id (an account's did:key)")?;
    let holder = crate::ob3::didkey::parse_did_key(subject)
        .map_err(|error| format!("the subject {subject} is not an account's did:key: {error}"))?;
    Ok(Some(ClaimedFacts { rule: rule.expect("at least one entry was read"), facts, holder }))
}

/// Checks every claimed fact against `source` (step 10): a state fact's key is the rule's key
/// for the holder, and under a finalized header at or above the fact's height (and
/// [`Trust::min_state_height`]) the entry's counter is at least the fact's value, which is at
/// least the rule's threshold; a grant fact's transaction and receipt are included in a
/// finalized block at its height, the receipt says success, and its op is a reward grant of the
/// rule's reason from the rule's provider to the holder; distinct grants reach the count.
pub fn verify_facts(
    source: &mut dyn ChainSource,
    trust: &Trust,
    claimed: &ClaimedFacts,
) -> Result<String, String> {
    let rule = &claimed.rule;
    match rule.state_key(claimed.holder) {
        Some(key) => {
            let [Fact::State { height, key: key_hex, value }] = claimed.facts.as_slice() else {
                return Err(format!("a {} rule is proven by exactly one state fact", rule.kind()));
            };
            if *key_hex != hex::encode(key.to_bytes()) {
                return Err(format!(
                    "the fact names state key {key_hex}, not the rule's entry for the holder, {key:?} ({})",
                    hex::encode(key.to_bytes())
                ));
            }
            let claimed_value: u128 =
                value.parse().map_err(|_| format!("the fact's value `{value}` is not a whole number"))?;
            if claimed_value < rule.threshold() {
                return Err(format!(
                    "the fact's value {claimed_value} is below the rule's threshold {} ({})",
                    rule.threshold(),
                    rule.describe()
                ));
            }
            let (proven, at) = prove_counter(source, trust, rule, &key, *height)?;
            if proven < claimed_value {
                return Err(format!(
                    "the ledger shows {proven} at height {at} for {key:?}, less than the {claimed_value} the credential claims"
                ));
            }
            Ok(format!(
                "{}: {proven} at finalized height {at} (claimed {claimed_value} at height {height}; rule: {})",
                rule.kind(),
                rule.describe()
            ))
        }
        None => verify_grants(source, trust, claimed),
    }
}

/// Proves the counter `rule` reads from `key` under a finalized header no lower than
/// `at_least`; returns it and the height.
fn prove_counter(
    source: &mut dyn ChainSource,
    trust: &Trust,
    rule: &LedgerRule,
    key: &StateKey,
    at_least: Height,
) -> Result<(u128, Height), String> {
    let evidence = source.state(key).map_err(|error| format!("cannot read the state entry: {error}"))?;
    let floor = at_least.max(trust.min_state_height);
    if evidence.height < floor {
        return Err(format!(
            "the source answered from height {}, below the fact's height {floor}",
            evidence.height
        ));
    }
    let (_, finalized) =
        finalized_block(source, trust, evidence.height).map_err(|error| error.to_string())?;
    let value =
        evidence.entry.verify(&finalized.header.state_root, key).map_err(|error| error.to_string())?;
    Ok((rule.counter(value.as_ref())?, evidence.height))
}

/// The contributions half of [`verify_facts`].
fn verify_grants(
    source: &mut dyn ChainSource,
    trust: &Trust,
    claimed: &ClaimedFacts,
) -> Result<String, String> {
    let rule = &claimed.rule;
    let LedgerRule::Contributions { provider, .. } = rule else { unreachable!("state rules have a key") };
    let reason = rule.reward_reason()?;
    let mut seen = std::collections::BTreeSet::new();
    for (index, fact) in claimed.facts.iter().enumerate() {
        let Fact::Grant { height, tx_id, op_index } = fact else {
            return Err(format!("fact {index}: a contributions rule is proven by grants, not state"));
        };
        if !seen.insert((*tx_id, *op_index)) {
            return Err(format!("fact {index} names grant {tx_id} op {op_index} again"));
        }
        let evidence = source
            .tx(tx_id)
            .map_err(|error| format!("fact {index}: cannot read transaction {tx_id}: {error}"))?
            .ok_or_else(|| format!("fact {index}: transaction {tx_id} is not on the chain"))?;
        let (block, _) =
            finalized_block(source, trust, *height).map_err(|error| format!("fact {index}: {error}"))?;
        let included = verify_tx_inclusion(&block.header, tx_id, &evidence)
            .map_err(|error| format!("fact {index}: {error}"))?;
        if included.receipt.outcome != tally_types::receipt::TxOutcome::Success {
            return Err(format!("fact {index}: transaction {tx_id} failed ({:?})", included.receipt.outcome));
        }
        let Some(Op::Grant(grant)) = included.tx.tx.ops.get(usize::from(*op_index)) else {
            return Err(format!("fact {index}: op {op_index} of transaction {tx_id} is not a grant"));
        };
        if grant.to != claimed.holder {
            return Err(format!(
                "fact {index}: the grant in {tx_id} is to {}, not to the credential's subject {}",
                grant.to.to_address(),
                claimed.holder.to_address()
            ));
        }
        if grant.kind != GrantKind::Reward || grant.reason.as_ref() != Some(&reason) {
            return Err(format!(
                "fact {index}: the grant in {tx_id} is a {:?} for {:?}, not a reward for {reason:?}",
                grant.kind, grant.reason
            ));
        }
        if &grant.asset.issuer != provider {
            return Err(format!(
                "fact {index}: the grant in {tx_id} is of `{}`, an asset of `{}`, not of `{provider}`",
                grant.asset, grant.asset.issuer
            ));
        }
    }
    if (seen.len() as u128) < rule.threshold() {
        return Err(format!(
            "{} proven grants, fewer than the rule's {} ({})",
            seen.len(),
            rule.threshold(),
            rule.describe()
        ));
    }
    Ok(format!(
        "{} reward grants proven by inclusion in finalized blocks (rule: {})",
        seen.len(),
        rule.describe()
    ))
}

/// Gathers the facts that show `holder` meets `rule`, for issuing. State rules read the entry
/// with its proof (checked, like a verifier would) and name it at its height; contributions
/// look at `candidate_txs` (the holder's transactions, from the node's account history) for
/// successful reward grants of the rule's reason from the provider to the holder, newest first,
/// and name the first `count`. `Err` says why the holder does not meet the rule.
pub fn gather_facts(
    source: &mut dyn ChainSource,
    trust: &Trust,
    rule: &LedgerRule,
    holder: PublicKey,
    candidate_txs: &[TxId],
) -> Result<Vec<Fact>, String> {
    if let Some(key) = rule.state_key(holder) {
        let (value, height) = prove_counter(source, trust, rule, &key, Height(0))?;
        if value < rule.threshold() {
            return Err(format!(
                "{} has {value}, below the threshold {} ({})",
                holder.to_address(),
                rule.threshold(),
                rule.describe()
            ));
        }
        return Ok(vec![Fact::State { height, key: hex::encode(key.to_bytes()), value: value.to_string() }]);
    }
    let LedgerRule::Contributions { provider, count, .. } = rule else {
        unreachable!("state rules have a key")
    };
    let reason = rule.reward_reason()?;
    let mut facts = Vec::new();
    for tx_id in candidate_txs {
        if facts.len() >= *count as usize {
            break;
        }
        let Some(evidence) = source.tx(tx_id).map_err(|error| error.to_string())? else { continue };
        let (block, _) =
            finalized_block(source, trust, evidence.height).map_err(|error| error.to_string())?;
        let included =
            verify_tx_inclusion(&block.header, tx_id, &evidence).map_err(|error| error.to_string())?;
        if included.receipt.outcome != tally_types::receipt::TxOutcome::Success {
            continue;
        }
        for (op_index, op) in included.tx.tx.ops.iter().enumerate() {
            if let Op::Grant(grant) = op
                && grant.to == holder
                && grant.kind == GrantKind::Reward
                && grant.reason.as_ref() == Some(&reason)
                && &grant.asset.issuer == provider
                && facts.len() < *count as usize
            {
                facts.push(Fact::Grant { height: included.height, tx_id: *tx_id, op_index: op_index as u8 });
            }
        }
    }
    if facts.len() < *count as usize {
        return Err(format!(
            "{} has {} such grants, fewer than {count} ({})",
            holder.to_address(),
            facts.len(),
            rule.describe()
        ));
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> Result<Option<LedgerRule>, String> {
        rule_of(&json!({ "id": "urn:example:a", RULE_MEMBER: json }))
    }

    #[test]
    fn rules_read_from_achievements_and_bad_ones_name_their_problem() {
        assert_eq!(
            rule(json!({"kind": "api-calls", "provider": "acme", "threshold": 1000})),
            Ok(Some(LedgerRule::ApiCalls {
                provider: MemberId::new("acme").expect("valid"),
                threshold: 1000
            }))
        );
        assert_eq!(rule_of(&json!({"id": "urn:example:b"})), Ok(None));
        let cases = [
            (json!({"kind": "api-calls", "provider": "acme", "threshold": 0}), "threshold of at least 1"),
            (json!({"kind": "calls", "provider": "acme", "threshold": 5}), "unknown variant `calls`"),
            (json!({"kind": "spend", "provider": "acme", "threshold": 5}), "missing field `asset`"),
            (
                json!({"kind": "revenue", "asset": "ACME@acme", "threshold": 5, "extra": 1}),
                "unknown field `extra`",
            ),
            (
                json!({"kind": "contributions", "provider": "acme", "reason": "blogging", "count": 1}),
                "blogging",
            ),
            (
                json!({"kind": "contributions", "provider": "acme", "reason": "forum-support", "count": 0}),
                "count of at least 1",
            ),
            (json!({"kind": "api-calls", "provider": "Acme!", "threshold": 5}), "member id"),
        ];
        for (json, expected) in cases {
            let error = rule(json.clone()).expect_err(&json.to_string());
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn the_rule_is_removed_from_the_embedded_achievement() {
        let achievement = json!({ "id": "urn:example:a", "name": "A", RULE_MEMBER: {"kind": "x"} });
        assert_eq!(without_rule(&achievement), json!({ "id": "urn:example:a", "name": "A" }));
    }

    #[test]
    fn claimed_facts_read_back_what_to_evidence_wrote_and_refuse_a_changed_id() {
        let chain = ChainId::new("tally-test").expect("valid");
        let holder = tally_types::SecretKey::from_seed(&[5; 32]).public_key();
        let rule = LedgerRule::Applications { provider: MemberId::new("acme").expect("valid"), threshold: 2 };
        let fact = Fact::State { height: Height(9), key: "00ff".into(), value: "3".into() };
        let mut credential = json!({
            "credentialSubject": { "id": crate::ob3::didkey::did_key(&holder) },
            "evidence": [ { "type": ["Evidence"], "narrative": "by hand" }, fact.to_evidence(&chain, &rule, &holder) ],
        });
        assert!(names_facts(&credential));
        let claimed = claimed_facts(&credential, &chain).expect("reads").expect("names facts");
        assert_eq!(claimed, ClaimedFacts { rule: rule.clone(), facts: vec![fact], holder });
        // Another chain's URN, or an id that does not match the narrative's fact.
        let other = ChainId::new("tally-other").expect("valid");
        assert!(claimed_facts(&credential, &other).expect_err("other chain").contains("its id is not"));
        credential["evidence"][1]["id"] = "urn:tally:tally-test:state:9:00fe".into();
        assert!(claimed_facts(&credential, &chain).expect_err("changed id").contains("its id is not"));
        // A subject that is not an account.
        credential["evidence"][1]["id"] = "urn:tally:tally-test:state:9:00ff".into();
        credential["credentialSubject"]["id"] = "mailto:a@example.com".into();
        assert!(
            claimed_facts(&credential, &chain).expect_err("no account").contains("not an account's did:key")
        );
    }
}
