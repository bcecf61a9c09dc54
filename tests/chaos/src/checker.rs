//! The checker: judges a recorded history against the nodes' final state, in the manner of
//! Jepsen (every acknowledged write accounted for, nothing invented, state agreed).
//!
//! Properties, checked in this order (the verdict names the first one violated):
//! 1. `height`: every node holds every block up to the final height.
//! 2. `agreement`: at each height every node has the same block id and state root.
//! 3. `ok_committed_once`: each `ok` transaction is in exactly one block, on every node, at
//!    the height its client was told.
//! 4. `unknown_at_most_once`: each `unknown` one is in at most one block.
//! 5. `refused_never_committed`: a definitely refused one is in no block.
//! 6. `nothing_invented`: every committed transaction was submitted by the harness.
//! 7. `supply`: per asset, minted = genesis + successful grants, burned = successful burns,
//!    supply = minted − burned = the sum of all known balances, each non-negative, on every node.
//! 8. `no_evidence`: no node holds equivocation evidence (every validator here is honest).
//! 9. `monotonic_reads`: per client and node, the height and the account's seq never go back.
//! 10. `recovery`: after every heal a block was committed within the bound.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::history::{Event, FaultRecord, OpKind, Outcome, ReadRecord, TxRecord};

/// One committed block as a node serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSummary {
    pub height: u64,
    pub block_id: String,
    pub state_root: String,
    pub txs: Vec<String>,
}

/// An asset's totals as a node serves them (minor units).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyInfo {
    pub supply: String,
    pub minted: String,
    pub burned: String,
}

/// What one node holds at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFinal {
    pub node: usize,
    /// Blocks 1..=n, in order, as far as the node has them.
    pub blocks: Vec<BlockSummary>,
    /// Equivocation records: (accused validator index, kind).
    pub evidence: Vec<(u16, String)>,
    pub assets: BTreeMap<String, SupplyInfo>,
    /// account → asset → available + locked (minor units, as served).
    pub balances: BTreeMap<String, BTreeMap<String, String>>,
}

/// The nodes' final state, plus what the genesis file put in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// The height every node was waited for.
    pub target_height: u64,
    pub nodes: Vec<NodeFinal>,
    /// Opening balances per asset (counted as minted at genesis).
    pub genesis_minted: BTreeMap<String, u128>,
    /// The receipt outcome (success?) of every committed transaction, read from a node.
    pub committed_success: BTreeMap<String, bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub property: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub ok: usize,
    pub refused: usize,
    pub unknown: usize,
    pub unknown_committed: usize,
    pub reads: usize,
    pub faults: usize,
    pub committed_txs: usize,
    pub final_height: u64,
    /// The longest time from a heal to the next commit, and its bound.
    pub max_resume_ms: Option<u64>,
    pub max_caught_up_ms: Option<u64>,
    pub resume_bound_ms: u64,
}

/// The checker's judgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub valid: bool,
    pub first_violation: Option<Violation>,
    /// Every violation found (at most 50).
    pub violations: Vec<Violation>,
    pub stats: Stats,
}

struct Findings(Vec<Violation>);

impl Findings {
    fn add(&mut self, property: &str, detail: String) {
        if self.0.len() < 50 {
            self.0.push(Violation { property: property.to_owned(), detail });
        }
    }
}

/// Judges `events` against `state`; `resume_bound_ms` bounds the time to the first commit
/// after each heal.
pub fn check(events: &[Event], state: &FinalState, resume_bound_ms: u64) -> Verdict {
    let txs: Vec<&TxRecord> =
        events.iter().filter_map(|e| if let Event::Tx(t) = e { Some(t) } else { None }).collect();
    let reads: Vec<&ReadRecord> =
        events.iter().filter_map(|e| if let Event::Read(r) = e { Some(r) } else { None }).collect();
    let faults: Vec<&FaultRecord> =
        events.iter().filter_map(|e| if let Event::Fault(f) = e { Some(f) } else { None }).collect();
    let mut findings = Findings(Vec::new());
    check_heights(state, &mut findings);
    check_agreement(state, &mut findings);
    let places = tx_places(state);
    let unknown_committed = check_transactions(&txs, state, &places, &mut findings);
    check_supply(&txs, state, &places, &mut findings);
    check_evidence(state, &mut findings);
    check_reads(&reads, &mut findings);
    check_recovery(&faults, resume_bound_ms, &mut findings);
    let stats = Stats {
        ok: txs.iter().filter(|t| t.outcome == Outcome::Ok).count(),
        refused: txs.iter().filter(|t| t.outcome == Outcome::Refused).count(),
        unknown: txs.iter().filter(|t| t.outcome == Outcome::Unknown).count(),
        unknown_committed,
        reads: reads.len(),
        faults: faults.len(),
        committed_txs: places.first().map_or(0, HashMap::len),
        final_height: state.target_height,
        max_resume_ms: faults.iter().filter_map(|f| f.resume_ms).max(),
        max_caught_up_ms: faults.iter().filter_map(|f| f.caught_up_ms).max(),
        resume_bound_ms,
    };
    let violations = findings.0;
    Verdict { valid: violations.is_empty(), first_violation: violations.first().cloned(), violations, stats }
}

fn check_heights(state: &FinalState, findings: &mut Findings) {
    for node in &state.nodes {
        let have = node.blocks.len() as u64;
        if have < state.target_height {
            findings.add(
                "height",
                format!("node {} reached height {have}, not {}", node.node, state.target_height),
            );
        }
        for (index, block) in node.blocks.iter().enumerate() {
            if block.height != index as u64 + 1 {
                findings.add(
                    "height",
                    format!("node {}: block {} served for height {}", node.node, block.height, index + 1),
                );
                break;
            }
        }
    }
}

fn check_agreement(state: &FinalState, findings: &mut Findings) {
    let Some(first) = state.nodes.first() else { return };
    for other in &state.nodes[1..] {
        for (a, b) in first.blocks.iter().zip(&other.blocks) {
            if a.block_id != b.block_id || a.state_root != b.state_root {
                findings.add(
                    "agreement",
                    format!(
                        "height {}: node {} has block {} (state root {}), node {} has block {} (state root {})",
                        a.height, first.node, a.block_id, a.state_root, other.node, b.block_id, b.state_root
                    ),
                );
                break;
            }
        }
    }
}

/// Per node: tx id → the heights it appears at.
fn tx_places(state: &FinalState) -> Vec<HashMap<String, Vec<u64>>> {
    state
        .nodes
        .iter()
        .map(|node| {
            let mut places: HashMap<String, Vec<u64>> = HashMap::new();
            for block in &node.blocks {
                for tx in &block.txs {
                    places.entry(tx.clone()).or_default().push(block.height);
                }
            }
            places
        })
        .collect()
}

/// Properties 3–6; returns how many `unknown` transactions committed.
fn check_transactions(
    txs: &[&TxRecord],
    state: &FinalState,
    places: &[HashMap<String, Vec<u64>>],
    findings: &mut Findings,
) -> usize {
    let mut unknown_committed = BTreeSet::new();
    for tx in txs {
        for (node, places) in state.nodes.iter().zip(places) {
            let found: &[u64] = places.get(&tx.tx_id).map_or(&[], Vec::as_slice);
            match tx.outcome {
                Outcome::Ok => {
                    if found.len() != 1 {
                        findings.add(
                            "ok_committed_once",
                            format!(
                                "ok tx {} (client {}) is in {} blocks on node {}: {found:?}",
                                tx.tx_id,
                                tx.client,
                                found.len(),
                                node.node
                            ),
                        );
                    } else if tx.height.is_some_and(|height| height != found[0]) {
                        findings.add(
                            "ok_committed_once",
                            format!(
                                "ok tx {} was acknowledged at height {:?} but is at {} on node {}",
                                tx.tx_id, tx.height, found[0], node.node
                            ),
                        );
                    }
                }
                Outcome::Unknown => {
                    if found.len() > 1 {
                        findings.add(
                            "unknown_at_most_once",
                            format!(
                                "unknown tx {} is in {} blocks on node {}: {found:?}",
                                tx.tx_id,
                                found.len(),
                                node.node
                            ),
                        );
                    } else if found.len() == 1 {
                        unknown_committed.insert(tx.tx_id.clone());
                    }
                }
                Outcome::Refused => {
                    if !found.is_empty() {
                        findings.add(
                            "refused_never_committed",
                            format!(
                                "refused tx {} ({:?}) is at height {found:?} on node {}",
                                tx.tx_id, tx.error, node.node
                            ),
                        );
                    }
                }
            }
        }
    }
    check_invented(txs, state, places, findings);
    unknown_committed.len()
}

/// Property 6: every committed transaction was submitted.
fn check_invented(
    txs: &[&TxRecord],
    state: &FinalState,
    places: &[HashMap<String, Vec<u64>>],
    findings: &mut Findings,
) {
    let submitted: BTreeSet<&str> = txs.iter().map(|tx| tx.tx_id.as_str()).collect();
    for (node, places) in state.nodes.iter().zip(places) {
        let mut invented: Vec<&String> =
            places.keys().filter(|id| !submitted.contains(id.as_str())).collect();
        invented.sort();
        if let Some(id) = invented.first() {
            findings.add(
                "nothing_invented",
                format!("node {} committed tx {id} at {:?}, never submitted", node.node, places[*id]),
            );
        }
    }
}

fn parse_minor(text: &str) -> Result<u128, String> {
    text.parse::<u128>().map_err(|_| format!("`{text}` is not a non-negative amount"))
}

/// Expected minted and burned per asset from the committed, successful grants and burns.
fn expected_totals(
    txs: &[&TxRecord],
    state: &FinalState,
    places: &[HashMap<String, Vec<u64>>],
) -> BTreeMap<String, (u128, u128)> {
    let mut totals: BTreeMap<String, (u128, u128)> =
        state.genesis_minted.iter().map(|(asset, amount)| (asset.clone(), (*amount, 0))).collect();
    let Some(committed) = places.first() else { return totals };
    for tx in txs {
        let success =
            committed.contains_key(&tx.tx_id) && state.committed_success.get(&tx.tx_id) == Some(&true);
        if !success {
            continue;
        }
        let entry = totals.entry(tx.asset.clone()).or_default();
        match tx.kind {
            OpKind::Grant => entry.0 += tx.amount,
            OpKind::Burn => entry.1 += tx.amount,
            _ => {}
        }
    }
    totals
}

fn check_supply(
    txs: &[&TxRecord],
    state: &FinalState,
    places: &[HashMap<String, Vec<u64>>],
    findings: &mut Findings,
) {
    let expected = expected_totals(txs, state, places);
    for node in &state.nodes {
        let mut held: BTreeMap<&str, u128> = BTreeMap::new();
        for (account, balances) in &node.balances {
            for (asset, amount) in balances {
                match parse_minor(amount) {
                    Ok(amount) => *held.entry(asset.as_str()).or_default() += amount,
                    Err(error) => findings.add(
                        "supply",
                        format!("node {}: balance of {account} in {asset}: {error}", node.node),
                    ),
                }
            }
        }
        for (asset, (minted, burned)) in &expected {
            let Some(info) = node.assets.get(asset) else {
                findings.add("supply", format!("node {} does not serve asset {asset}", node.node));
                continue;
            };
            let parsed = (parse_minor(&info.supply), parse_minor(&info.minted), parse_minor(&info.burned));
            let (Ok(supply), Ok(node_minted), Ok(node_burned)) = parsed else {
                findings
                    .add("supply", format!("node {}: asset {asset} totals unreadable: {info:?}", node.node));
                continue;
            };
            let balances = held.get(asset.as_str()).copied().unwrap_or(0);
            if node_minted != *minted
                || node_burned != *burned
                || supply != minted.saturating_sub(*burned)
                || balances != supply
            {
                findings.add(
                    "supply",
                    format!(
                        "node {} asset {asset}: minted {node_minted} (expected {minted}), burned {node_burned} (expected {burned}), supply {supply}, sum of balances {balances}",
                        node.node
                    ),
                );
            }
        }
    }
}

fn check_evidence(state: &FinalState, findings: &mut Findings) {
    for node in &state.nodes {
        if let Some((signer, kind)) = node.evidence.first() {
            findings.add(
                "no_evidence",
                format!("node {} holds {kind} evidence against honest validator {signer}", node.node),
            );
        }
    }
}

fn check_reads(reads: &[&ReadRecord], findings: &mut Findings) {
    let mut last: BTreeMap<(usize, usize, &str), (u64, u64)> = BTreeMap::new();
    for read in reads {
        let key = (read.client, read.node, read.account.as_str());
        if let Some((height, seq)) = last.get(&key)
            && (read.height < *height || read.seq < *seq)
        {
            findings.add(
                "monotonic_reads",
                format!(
                    "client {} read {} at node {}: height {} seq {} after height {height} seq {seq}",
                    read.client, read.account, read.node, read.height, read.seq
                ),
            );
        }
        let entry = last.entry(key).or_insert((read.height, read.seq));
        *entry = (entry.0.max(read.height), entry.1.max(read.seq));
    }
}

fn check_recovery(faults: &[&FaultRecord], bound_ms: u64, findings: &mut Findings) {
    for fault in faults {
        match fault.resume_ms {
            Some(ms) if ms <= bound_ms => {}
            Some(ms) => findings.add(
                "recovery",
                format!(
                    "after {} ({}) the first commit took {ms} ms, over {bound_ms} ms",
                    fault.name, fault.detail
                ),
            ),
            None => findings.add(
                "recovery",
                format!("after {} ({}) no commit within the wait", fault.name, fault.detail),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each property checked on a small valid history, then on the same history broken in the
    //! one way that property forbids: the checker must name it.

    use super::*;
    use crate::history::{FaultRecord, OpKind, Outcome, ReadRecord, TxRecord};

    const ASSET: &str = "ACME@acme";

    fn tx(id: &str, kind: OpKind, outcome: Outcome, height: Option<u64>, amount: u128) -> Event {
        Event::Tx(TxRecord {
            client: 0,
            node: 0,
            kind,
            tx_id: id.to_owned(),
            signer: "signer".into(),
            seq: 1,
            valid_until: 10,
            asset: ASSET.into(),
            amount,
            outcome,
            height,
            success: height.map(|_| true),
            error: None,
            start_ms: 0,
            end_ms: 1,
        })
    }

    fn read(node: usize, height: u64, seq: u64) -> Event {
        Event::Read(ReadRecord { client: 0, node, account: "user".into(), height, seq, at_ms: height })
    }

    fn fault(resume_ms: Option<u64>) -> Event {
        Event::Fault(FaultRecord {
            name: "kill_one".into(),
            detail: "SIGKILL to nodes [1]".into(),
            start_ms: 0,
            heal_ms: 1,
            resume_ms,
            caught_up_ms: resume_ms,
        })
    }

    /// Genesis 1000 to the issuer; grant 50 to the user (height 1); burn 10 (height 2); an
    /// unknown transfer that committed (height 2); a refused one; reads going up; one fault
    /// healed in 2 s.
    fn valid() -> (Vec<Event>, FinalState) {
        let events = vec![
            tx("g1", OpKind::Grant, Outcome::Ok, Some(1), 50),
            read(0, 1, 1),
            tx("b1", OpKind::Burn, Outcome::Ok, Some(2), 10),
            tx("t1", OpKind::Transfer, Outcome::Unknown, None, 5),
            tx("r1", OpKind::Transfer, Outcome::Refused, None, 5),
            read(0, 2, 2),
            read(1, 1, 1),
            fault(Some(2_000)),
        ];
        let blocks = vec![
            BlockSummary {
                height: 1,
                block_id: "b-1".into(),
                state_root: "s-1".into(),
                txs: vec!["g1".into()],
            },
            BlockSummary {
                height: 2,
                block_id: "b-2".into(),
                state_root: "s-2".into(),
                txs: vec!["b1".into(), "t1".into()],
            },
            BlockSummary { height: 3, block_id: "b-3".into(), state_root: "s-3".into(), txs: vec![] },
        ];
        let node = |k| NodeFinal {
            node: k,
            blocks: blocks.clone(),
            evidence: vec![],
            assets: [(
                ASSET.to_owned(),
                SupplyInfo { supply: "1040".into(), minted: "1050".into(), burned: "10".into() },
            )]
            .into(),
            balances: [
                ("issuer".to_owned(), [(ASSET.to_owned(), "1000".to_owned())].into()),
                ("user".to_owned(), [(ASSET.to_owned(), "40".to_owned())].into()),
            ]
            .into(),
        };
        let state = FinalState {
            target_height: 3,
            nodes: vec![node(0), node(1)],
            genesis_minted: [(ASSET.to_owned(), 1000)].into(),
            committed_success: [("g1".to_owned(), true), ("b1".to_owned(), true), ("t1".to_owned(), true)]
                .into(),
        };
        (events, state)
    }

    fn first(events: &[Event], state: &FinalState) -> Option<String> {
        check(events, state, 10_000).first_violation.map(|v| v.property)
    }

    #[test]
    fn a_valid_history_passes() {
        let (events, state) = valid();
        let verdict = check(&events, &state, 10_000);
        assert!(verdict.valid, "{verdict:#?}");
        assert_eq!(
            (verdict.stats.ok, verdict.stats.refused, verdict.stats.unknown, verdict.stats.unknown_committed),
            (2, 1, 1, 1)
        );
        assert_eq!(verdict.stats.max_resume_ms, Some(2_000));
    }

    #[test]
    fn a_node_behind_is_caught() {
        let (events, mut state) = valid();
        state.nodes[1].blocks.pop();
        assert_eq!(first(&events, &state).as_deref(), Some("height"));
    }

    #[test]
    fn diverging_state_roots_are_caught() {
        let (events, mut state) = valid();
        state.nodes[1].blocks[2].state_root = "other".into();
        assert_eq!(first(&events, &state).as_deref(), Some("agreement"));
    }

    #[test]
    fn a_lost_ok_transaction_is_caught() {
        let (events, mut state) = valid();
        for node in &mut state.nodes {
            node.blocks[0].txs.clear();
        }
        assert_eq!(first(&events, &state).as_deref(), Some("ok_committed_once"));
    }

    #[test]
    fn a_duplicated_ok_transaction_is_caught() {
        let (events, mut state) = valid();
        for node in &mut state.nodes {
            node.blocks[2].txs.push("g1".into());
        }
        assert_eq!(first(&events, &state).as_deref(), Some("ok_committed_once"));
    }

    #[test]
    fn an_ok_transaction_at_another_height_is_caught() {
        let (mut events, state) = valid();
        if let Event::Tx(record) = &mut events[0] {
            record.height = Some(3);
        }
        assert_eq!(first(&events, &state).as_deref(), Some("ok_committed_once"));
    }

    #[test]
    fn an_unknown_transaction_twice_is_caught() {
        let (events, mut state) = valid();
        for node in &mut state.nodes {
            node.blocks[2].txs.push("t1".into());
        }
        assert_eq!(first(&events, &state).as_deref(), Some("unknown_at_most_once"));
    }

    #[test]
    fn a_refused_transaction_that_commits_is_caught() {
        let (events, mut state) = valid();
        for node in &mut state.nodes {
            node.blocks[2].txs.push("r1".into());
        }
        assert_eq!(first(&events, &state).as_deref(), Some("refused_never_committed"));
    }

    #[test]
    fn an_invented_transaction_is_caught() {
        let (events, mut state) = valid();
        for node in &mut state.nodes {
            node.blocks[2].txs.push("never-sent".into());
        }
        assert_eq!(first(&events, &state).as_deref(), Some("nothing_invented"));
    }

    #[test]
    fn supply_off_by_one_is_caught() {
        let (events, mut state) = valid();
        state.nodes[0].balances.get_mut("user").expect("user").insert(ASSET.into(), "41".into());
        assert_eq!(first(&events, &state).as_deref(), Some("supply"));
        let (events, mut state) = valid();
        // A burn the node never counted.
        state.nodes[1].assets.get_mut(ASSET).expect("asset").burned = "0".into();
        assert_eq!(first(&events, &state).as_deref(), Some("supply"));
        let (events, mut state) = valid();
        state.nodes[0].balances.get_mut("user").expect("user").insert(ASSET.into(), "-40".into());
        assert_eq!(first(&events, &state).as_deref(), Some("supply"));
    }

    #[test]
    fn a_failed_grant_does_not_count_as_minted() {
        let (events, mut state) = valid();
        state.committed_success.insert("g1".into(), false);
        assert_eq!(first(&events, &state).as_deref(), Some("supply"));
    }

    #[test]
    fn evidence_against_an_honest_validator_is_caught() {
        let (events, mut state) = valid();
        state.nodes[1].evidence.push((2, "conflicting_votes".into()));
        assert_eq!(first(&events, &state).as_deref(), Some("no_evidence"));
    }

    #[test]
    fn a_read_going_back_is_caught() {
        let (mut events, state) = valid();
        events.push(read(0, 1, 2));
        assert_eq!(first(&events, &state).as_deref(), Some("monotonic_reads"));
        let (mut events, state) = valid();
        events.push(read(0, 3, 1));
        assert_eq!(first(&events, &state).as_deref(), Some("monotonic_reads"));
    }

    #[test]
    fn slow_or_missing_recovery_is_caught() {
        let (mut events, state) = valid();
        events.push(fault(Some(10_001)));
        assert_eq!(first(&events, &state).as_deref(), Some("recovery"));
        let (mut events, state) = valid();
        events.push(fault(None));
        assert_eq!(first(&events, &state).as_deref(), Some("recovery"));
    }
}
