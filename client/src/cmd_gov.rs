//! `tally gov`: propose consortium changes, vote on them, and read proposals and the
//! consortium's members, validators and epochs (issue #12).
//!
//! Proposals and votes are signed with the member's governance key (at genesis and on
//! admission: the member's issuer key). Applications are checked here before they are sent —
//! for this chain, with all three proofs of possession — so that a bad file is refused by name
//! instead of by a ledger error code.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use tally_genesis::application::Application;
use tally_types::governance::{Action, CastVote, ConsensusParams, Propose, SignedApplication, Threshold};
use tally_types::{ChainId, Height, MemberId, Op, OpId, PublicKey};

use crate::submit::{report_sent, send};
use crate::{Session, SubmitArgs, usage};

/// Blocks a proposal takes votes for when `--expires-in` is not given (about 6 hours at
/// 5 blocks a second).
pub const EXPIRES_IN_BLOCKS_DEFAULT: u64 = 100_000;

#[derive(Subcommand)]
pub(crate) enum GovCommand {
    /// Put an action to the members' vote; your member votes yes by proposing.
    #[command(subcommand)]
    Propose(ActionArg),
    /// Vote on an open proposal: `yes` or `no`. Each member votes once.
    Vote {
        /// The proposal id (hex).
        id: String,
        /// yes or no.
        #[arg(value_parser = ["yes", "no"])]
        choice: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// List proposals, oldest id first.
    List {
        /// Start after this proposal id.
        #[arg(long)]
        after: Option<String>,
        /// At most this many (1..=100).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one proposal: its action, votes and status.
    Show { id: String },
    /// Show the consortium: threshold, members, validators, current and scheduled epochs.
    Status,
}

/// What every proposal takes besides its action.
#[derive(Args)]
pub(crate) struct ProposeArgs {
    /// Votes count up to this many blocks from now.
    #[arg(long, default_value_t = EXPIRES_IN_BLOCKS_DEFAULT)]
    expires_in: u64,
    /// The proposal id (32 hex characters); default: random.
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    submit: SubmitArgs,
}

#[derive(Subcommand)]
pub(crate) enum ActionArg {
    /// Admit a provider from its signed application (`tally-node apply` + `tally application sign`).
    AddMember {
        application: PathBuf,
        #[command(flatten)]
        propose: ProposeArgs,
    },
    /// Remove a member and its validators.
    RemoveMember {
        member: String,
        #[command(flatten)]
        propose: ProposeArgs,
    },
    /// Add a validator of an existing member from an application its issuer signed.
    AddValidator {
        application: PathBuf,
        #[command(flatten)]
        propose: ProposeArgs,
    },
    /// Remove one validator, by its consensus key.
    RemoveValidator {
        consensus_key: String,
        #[command(flatten)]
        propose: ProposeArgs,
    },
    /// Replace a validator's keys with those of a new application of the same member.
    RotateKey {
        /// The validator's current consensus key.
        consensus_key: String,
        /// The application made with the new keys (`tally-node init` in a new home).
        application: PathBuf,
        #[command(flatten)]
        propose: ProposeArgs,
    },
    /// New consensus parameters; those not given keep their scheduled values.
    SetParams {
        #[arg(long)]
        timeout_propose_ms: Option<u64>,
        #[arg(long)]
        timeout_notarize_ms: Option<u64>,
        #[arg(long)]
        timeout_max_ms: Option<u64>,
        #[arg(long)]
        block_txs_max: Option<u32>,
        #[arg(long)]
        block_bytes_max: Option<u32>,
        #[command(flatten)]
        propose: ProposeArgs,
    },
    /// A new passing threshold, as N/D: a proposal passes with more than N/D of the members.
    SetThreshold {
        threshold: String,
        #[command(flatten)]
        propose: ProposeArgs,
    },
}

// Not split: one arm per `tally gov` subcommand, each a request and its printout.
pub(crate) fn run(session: &Session, command: GovCommand) -> anyhow::Result<()> {
    match command {
        GovCommand::Propose(action) => propose(session, action),
        GovCommand::Vote { id, choice, submit } => {
            let proposal_id = parse_proposal_id(&id)?;
            let op = Op::CastVote(CastVote { proposal_id, approve: choice == "yes" });
            let sent = send(session, &submit, vec![op])?;
            report_sent(
                session,
                &sent,
                "the vote",
                json!({ "proposal_id": proposal_id, "vote": choice }),
                || println!("voted {choice} on proposal {proposal_id}"),
            )
        }
        GovCommand::List { after, limit } => {
            let mut path = String::from("/v1/governance/proposals");
            let mut query = Vec::new();
            if let Some(after) = after {
                query.push(format!("after={}", parse_proposal_id(&after)?));
            }
            if let Some(limit) = limit {
                query.push(format!("limit={limit}"));
            }
            if !query.is_empty() {
                path = format!("{path}?{}", query.join("&"));
            }
            let body = session.client()?.get_json(&path)?;
            session.print(body.clone(), || {
                for proposal in body["proposals"].as_array().into_iter().flatten() {
                    println!(
                        "{}  {:<8}  {:<22}  by {:<12} yes {} no {}  expires at {}",
                        proposal["proposal_id"].as_str().unwrap_or("?"),
                        proposal["status"].as_str().unwrap_or("?"),
                        proposal["action_name"].as_str().unwrap_or("?"),
                        proposal["proposer"].as_str().unwrap_or("?"),
                        proposal["yes"],
                        proposal["no"],
                        proposal["expires_at_height"],
                    );
                }
                if let Some(next) = body["next"].as_str() {
                    println!("more: tally gov list --after {next}");
                }
            });
            Ok(())
        }
        GovCommand::Show { id } => {
            let proposal_id = parse_proposal_id(&id)?;
            let body = session.client()?.get_json(&format!("/v1/governance/proposals/{proposal_id}"))?;
            session.print(body.clone(), || {
                println!("proposal {proposal_id}: {}", body["status"].as_str().unwrap_or("?"));
                println!("action:   {}", body["action"]);
                println!("proposer: {} at height {}", body["proposer"], body["height"]);
                println!("expires:  after height {}", body["expires_at_height"]);
                for vote in body["votes"].as_array().into_iter().flatten() {
                    let choice = if vote["approve"].as_bool() == Some(true) { "yes" } else { "no" };
                    println!(
                        "  {:<12} {choice} at height {}",
                        vote["member"].as_str().unwrap_or("?"),
                        vote["height"]
                    );
                }
                println!("outcome:  {}", body["outcome"]);
            });
            Ok(())
        }
        GovCommand::Status => {
            let body = session.client()?.get_json("/v1/governance")?;
            session.print(body.clone(), || print_status(&body));
            Ok(())
        }
    }
}

fn print_status(body: &serde_json::Value) {
    let governance = &body["governance"]["value_decoded"];
    println!(
        "height {}: {} active members; a proposal passes with more than {}/{} of them",
        body["height"],
        governance["active_members"],
        governance["threshold"]["numerator"],
        governance["threshold"]["denominator"]
    );
    for member in body["members"].as_array().into_iter().flatten() {
        let status = match member["removed_at"].as_u64() {
            Some(height) => format!("removed at {height}"),
            None => "active".into(),
        };
        println!(
            "  member {:<12} {:<24} {status}",
            member["id"].as_str().unwrap_or("?"),
            member["name"].as_str().unwrap_or("?")
        );
    }
    let epochs = &body["epochs"]["value_decoded"];
    let epoch_line = |epoch: &serde_json::Value| {
        format!(
            "epoch {} from height {}: {} validators",
            epoch["number"],
            epoch["start_height"],
            epoch["validators"].as_array().map_or(0, Vec::len)
        )
    };
    println!("{}", epoch_line(&epochs["current"]));
    for epoch in epochs["pending"].as_array().into_iter().flatten() {
        println!("scheduled: {}", epoch_line(epoch));
    }
    for validator in body["validators"].as_array().into_iter().flatten() {
        println!(
            "  validator {:<16} of {:<12} {}{}",
            validator["name"].as_str().unwrap_or("?"),
            validator["member"].as_str().unwrap_or("?"),
            validator["p2p_listen"].as_str().unwrap_or("?"),
            if validator["in_current_epoch"].as_bool() == Some(true) {
                ""
            } else {
                "  (joins at the next epoch)"
            }
        );
    }
}

fn propose(session: &Session, action: ActionArg) -> anyhow::Result<()> {
    let (action, args) = match action {
        ActionArg::AddMember { application, propose } => {
            (Action::AddMember { application: load_application(session, &application)? }, propose)
        }
        ActionArg::RemoveMember { member, propose } => {
            let member = MemberId::new(member.as_str()).map_err(|error| usage(format!("MEMBER: {error}")))?;
            (Action::RemoveMember { member }, propose)
        }
        ActionArg::AddValidator { application, propose } => {
            (Action::AddValidator { application: load_application(session, &application)? }, propose)
        }
        ActionArg::RemoveValidator { consensus_key, propose } => {
            (Action::RemoveValidator { consensus_key: parse_key(&consensus_key)? }, propose)
        }
        ActionArg::RotateKey { consensus_key, application, propose } => {
            let consensus_key = parse_key(&consensus_key)?;
            let application = load_application(session, &application)?;
            (Action::RotateValidatorKey { consensus_key, application }, propose)
        }
        ActionArg::SetParams {
            timeout_propose_ms,
            timeout_notarize_ms,
            timeout_max_ms,
            block_txs_max,
            block_bytes_max,
            propose,
        } => {
            let current = scheduled_params(session)?;
            let params = ConsensusParams {
                timeout_propose_ms: timeout_propose_ms.unwrap_or(current.timeout_propose_ms),
                timeout_notarize_ms: timeout_notarize_ms.unwrap_or(current.timeout_notarize_ms),
                timeout_max_ms: timeout_max_ms.unwrap_or(current.timeout_max_ms),
                block_txs_max: block_txs_max.unwrap_or(current.block_txs_max),
                block_bytes_max: block_bytes_max.unwrap_or(current.block_bytes_max),
            };
            if let Some((field, problem)) = params.problems().into_iter().next() {
                return Err(usage(format!("--{}: {problem}", field.replace('_', "-"))));
            }
            (Action::SetConsensusParams { params }, propose)
        }
        ActionArg::SetThreshold { threshold, propose } => {
            (Action::SetThreshold { threshold: parse_threshold(&threshold)? }, propose)
        }
    };
    let proposal_id = match &args.id {
        Some(text) => parse_proposal_id(text)?,
        None => tally_client::txbuild::random_op_id()?,
    };
    let ttl_max = tally_types::limits::PROPOSAL_TTL_BLOCKS_MAX;
    if !(2..=ttl_max).contains(&args.expires_in) {
        return Err(usage(format!(
            "--expires-in {}: must be 2..={ttl_max} blocks (the proposal's block is the next one)",
            args.expires_in
        )));
    }
    let height = session.client()?.status().context("reading the node's status")?.committed_height;
    let expires_at_height = Height(height.0.saturating_add(args.expires_in));
    let name = action.name();
    let op = Op::Propose(Box::new(Propose { proposal_id, action, expires_at_height }));
    let sent = send(session, &args.submit, vec![op])?;
    let extra = json!({ "proposal_id": proposal_id, "action": name, "expires_at_height": expires_at_height });
    report_sent(session, &sent, "the proposal", extra, || {
        println!("proposed {name} as {proposal_id}, open for votes until height {expires_at_height}")
    })
}

/// Reads an application file and checks it for the node's chain with all three proofs, naming
/// what is wrong.
fn load_application(session: &Session, path: &Path) -> anyhow::Result<SignedApplication> {
    let application = Application::load(path)?;
    let chain_id: ChainId = session.client()?.status().context("reading the node's status")?.chain_id;
    application
        .verify(&chain_id)
        .with_context(|| format!("{} ({application}) is refused", path.display()))?;
    Ok(application.signed())
}

/// The parameters of the latest scheduled epoch, which a new change starts from.
fn scheduled_params(session: &Session) -> anyhow::Result<ConsensusParams> {
    let body = session.client()?.get_json("/v1/governance")?;
    let epochs = &body["epochs"]["value_decoded"];
    let latest =
        epochs["pending"].as_array().and_then(|pending| pending.last()).unwrap_or(&epochs["current"]);
    serde_json::from_value(latest["params"].clone())
        .context("the node's /v1/governance has no readable consensus parameters")
}

fn parse_proposal_id(text: &str) -> anyhow::Result<OpId> {
    text.parse().map_err(|error| usage(format!("proposal id `{text}`: {error}")))
}

fn parse_key(text: &str) -> anyhow::Result<PublicKey> {
    text.parse().map_err(|error| usage(format!("consensus key `{text}`: {error}")))
}

fn parse_threshold(text: &str) -> anyhow::Result<Threshold> {
    Threshold::parse(text).map_err(|problem| usage(format!("threshold {problem}")))
}
