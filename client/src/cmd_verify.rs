//! `tally verify tx ID` and `tally verify state KEY`: check one inclusion or state proof
//! against a finalized header, whose certificate is checked against the validators of its
//! epoch as established from the genesis file (by replaying the chain with `--archive`, or
//! against a node by walking its chain of epochs, `GET /v1/epochs`; see `tally_client::proofs`).
//!
//! KEY is the hex of the encoded state key, the form `GET /v1/state/proof?key=` takes (and
//! `key_hex` in the node's answers).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tally_client::proofs::{
    ArchiveSource, ChainSource, Finalized, Interest, NodeSource, Trust, finalized_block, verify_tx_inclusion,
};
use tally_genesis::Genesis;
use tally_ledger::StateKey;
use tally_types::{TxId, TxOutcome};

use crate::{Session, usage};

#[derive(Subcommand)]
pub enum VerifyCommand {
    /// A transaction's inclusion in a finalized block, and its receipt.
    Tx(VerifyTxArgs),
    /// A state entry (or its absence) under the latest finalized header.
    State(VerifyStateArgs),
}

#[derive(Args)]
pub struct Trusted {
    /// The genesis file: the only thing trusted.
    #[arg(long)]
    pub(crate) genesis: PathBuf,
    /// Verify offline from an archive written by `tally-node export` instead of a node.
    #[arg(long)]
    pub(crate) archive: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyTxArgs {
    /// The transaction id (64 hex).
    id: String,
    #[command(flatten)]
    trusted: Trusted,
}

#[derive(Args)]
pub struct VerifyStateArgs {
    /// The state key: hex of its encoding, as /v1/state/proof takes it.
    key: String,
    #[command(flatten)]
    trusted: Trusted,
}

pub fn run(context: &Session, command: VerifyCommand) -> anyhow::Result<()> {
    match command {
        VerifyCommand::Tx(args) => verify_tx(context, args),
        VerifyCommand::State(args) => verify_state(context, args),
    }
}

pub(crate) fn open_source(
    context: &Session,
    trusted: &Trusted,
    interest: &Interest,
) -> anyhow::Result<(Trust, Box<dyn ChainSource>)> {
    let genesis = Genesis::load(&trusted.genesis)
        .with_context(|| format!("reading the genesis file {}", trusted.genesis.display()))?;
    let mut trust = Trust::from_genesis(&genesis);
    let source: Box<dyn ChainSource> = match &trusted.archive {
        Some(path) => {
            let source = ArchiveSource::load(path, &genesis, interest)
                .with_context(|| format!("replaying the archive {}", path.display()))?;
            // The replay established every epoch's validators from the genesis file.
            trust.epochs = source.epochs().to_vec();
            Box::new(source)
        }
        None => {
            let client = context.client()?;
            let status =
                client.status().with_context(|| format!("asking {} for its status", context.node))?;
            if status.chain_id != trust.chain_id {
                bail!(
                    "node {} serves chain `{}`, but the genesis file is for chain `{}`",
                    context.node,
                    status.chain_id,
                    trust.chain_id
                );
            }
            let source = NodeSource::new(client);
            // Each later validator set, proven from the one before, starting at genesis.
            let steps = source.epochs().context("reading the node's chain of epochs (GET /v1/epochs)")?;
            trust.follow_epochs(&steps).context("following the epochs from the genesis file")?;
            Box::new(source)
        }
    };
    Ok((trust, source))
}

pub(crate) fn finality_json(finalized: &Finalized) -> serde_json::Value {
    json!({
        "height": finalized.header.height,
        "block_id": finalized.block_id,
        "certified_height": finalized.certified_height,
        "epoch": finalized.epoch,
        "signatures": finalized.signers,
        "quorum": finalized.quorum,
        "state_root": finalized.header.state_root,
    })
}

fn verify_tx(context: &Session, args: VerifyTxArgs) -> anyhow::Result<()> {
    let id: TxId =
        args.id.parse().map_err(|error| usage(format!("`{}` is not a tx id: {error}", args.id)))?;
    let interest = Interest { txs: vec![id], anchor_roots: Vec::new() };
    let (trust, mut source) = open_source(context, &args.trusted, &interest)?;
    let evidence =
        source.tx(&id)?.with_context(|| format!("transaction {id} is not in a committed block"))?;
    let (block, finalized) = finalized_block(source.as_mut(), &trust, evidence.height)
        .with_context(|| format!("the block at height {} is not shown final", evidence.height))?;
    let included = verify_tx_inclusion(&block.header, &id, &evidence)
        .with_context(|| format!("transaction {id} is not proven in block {}", evidence.height))?;
    let outcome = match &included.receipt.outcome {
        TxOutcome::Success => "success".to_owned(),
        TxOutcome::Failed { op_index, code } => {
            let code = serde_json::to_value(code)?;
            format!("failed at op {op_index}: {}", code.as_str().unwrap_or("unknown"))
        }
    };
    context.print(
        json!({
            "valid": true,
            "tx_id": id,
            "height": included.height,
            "index": included.index,
            "signer": included.tx.tx.signer.to_address(),
            "receipt": included.receipt,
            "finality": finality_json(&finalized),
        }),
        || {
            println!("transaction {id}");
            println!("  ok  in the tx root of block {} at index {}", included.height, included.index);
            println!("  ok  receipt in the receipts root: {outcome}");
            println!(
                "  ok  block {} finalized by {} of {} required signatures of epoch {}'s validators",
                finalized.block_id, finalized.signers, finalized.quorum, finalized.epoch
            );
            println!("  signer {}", included.tx.tx.signer.to_address());
        },
    );
    Ok(())
}

fn verify_state(context: &Session, args: VerifyStateArgs) -> anyhow::Result<()> {
    let bytes = hex::decode(args.key.trim()).map_err(|error| usage(format!("KEY is not hex: {error}")))?;
    let key =
        StateKey::from_bytes(&bytes).map_err(|error| usage(format!("KEY is not a state key: {error}")))?;
    let (trust, mut source) = open_source(context, &args.trusted, &Interest::default())?;
    let evidence = source.state(&key)?;
    let (_, finalized) = finalized_block(source.as_mut(), &trust, evidence.height)
        .with_context(|| format!("the header at height {} is not shown final", evidence.height))?;
    let value = evidence.entry.verify(&finalized.header.state_root, &key).with_context(|| {
        format!("the state proof does not verify against block {}", finalized.header.height)
    })?;
    context.print(
        json!({
            "valid": true,
            "key": key,
            "present": value.is_some(),
            "value": value,
            "finality": finality_json(&finalized),
        }),
        || {
            println!("state key {key:?}");
            match &value {
                Some(value) => println!("  ok  present: {value:?}"),
                None => println!("  ok  absent (non-membership proven)"),
            }
            println!(
                "  ok  against the state root {} of block {}, finalized by {} of {} required signatures",
                finalized.header.state_root, finalized.header.height, finalized.signers, finalized.quorum
            );
        },
    );
    Ok(())
}
