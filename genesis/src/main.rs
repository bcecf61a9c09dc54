//! `tally-genesis`: create, validate and hash Tally genesis files.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use tally_genesis::application::{Application, Draft};
use tally_genesis::init::{self, TestnetSpec};
use tally_genesis::keys::KeySource;
use tally_genesis::{ConsensusParams, Genesis};
use tally_types::{Amount, ChainId, MemberId};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(name = "tally-genesis", version, about = "Create, validate and hash Tally genesis files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create genesis.json and the key files of a whole test network, every key on this
    /// machine (benchmarks, tests). A real consortium uses new, add and finalize instead.
    Init(Box<InitArgs>),
    /// Start a genesis draft that operators' applications are added to.
    New(Box<NewArgs>),
    /// Check applications (chain id, every proof of possession, no clash with the draft) and
    /// add them to a draft, in the order given (validator order is the leader rotation).
    Add {
        /// The draft file, rewritten in place.
        #[arg(long)]
        draft: PathBuf,
        /// Application files, from `tally-node apply` signed with `tally application sign`.
        #[arg(required = true)]
        applications: Vec<PathBuf>,
    },
    /// Make the genesis file from a draft (every application checked again) and print its hash
    /// for every operator to compare.
    Finalize {
        #[arg(long)]
        draft: PathBuf,
        /// The genesis file to write.
        #[arg(long)]
        out: PathBuf,
        /// Genesis time in milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        genesis_time_ms: Option<u64>,
        /// Replace an existing genesis file.
        #[arg(long)]
        force: bool,
    },
    /// Check a genesis file; list every problem, or print a summary.
    Validate {
        /// The genesis file.
        file: PathBuf,
    },
    /// Print the genesis hash (block 1's parent id) of a valid genesis file.
    Hash {
        /// The genesis file.
        file: PathBuf,
    },
}

#[derive(Args)]
struct InitArgs {
    /// Chain id: 3..=64 characters of [a-z0-9-].
    #[arg(long)]
    chain_id: String,
    /// Number of validators n, at least 4 (f = ⌊(n − 1)/3⌋ faults tolerated).
    #[arg(long)]
    validators: usize,
    /// Member ids, comma-separated (e.g. acme,globex,initech). Validators are assigned to them
    /// round-robin; each gets an issuer account and an asset CODE@member.
    #[arg(long, value_delimiter = ',', required = true)]
    members: Vec<String>,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Replace existing files in the output directory.
    #[arg(long)]
    force: bool,
    /// Derive every key from this hex seed (1..=64 bytes) instead of the OS RNG. For test
    /// networks only: anyone with the seed has every key.
    #[arg(long, value_name = "HEX")]
    seed: Option<String>,
    /// Genesis time in milliseconds since the Unix epoch (default: now).
    #[arg(long)]
    genesis_time_ms: Option<u64>,
    /// Validator K listens for peers on BASE+K and serves HTTP on BASE+1000+K.
    #[arg(long, default_value_t = init::DEFAULT_BASE_PORT)]
    base_port: u16,
    /// The IP address every validator listens on.
    #[arg(long, default_value = "127.0.0.1")]
    listen_ip: IpAddr,
    /// Opening balance of each member's issuer account in its own asset, in human units
    /// (e.g. 1000 or 12.5; the assets have 2 decimals). Default: no opening balances.
    #[arg(long, value_name = "AMOUNT")]
    issuer_float: Option<String>,
    #[command(flatten)]
    consensus: ConsensusArgs,
}

#[derive(Args)]
struct NewArgs {
    /// Chain id: 3..=64 characters of [a-z0-9-].
    #[arg(long)]
    chain_id: String,
    /// The draft file to create.
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing draft.
    #[arg(long)]
    force: bool,
    /// Opening balance of each member's issuer account in its own asset, in human units.
    /// Default: none, so that every credit in circulation has a grant on the ledger.
    #[arg(long, value_name = "AMOUNT")]
    issuer_float: Option<String>,
    /// A governance proposal passes with more than N/D of the members. Default: 2/3.
    #[arg(long, value_name = "N/D")]
    threshold: Option<String>,
    #[command(flatten)]
    consensus: ConsensusArgs,
}

#[derive(Args)]
struct ConsensusArgs {
    /// Consensus: nullify a view with no proposal after this many ms.
    #[arg(long)]
    timeout_propose_ms: Option<u64>,
    /// Consensus: nullify a view not notarized after this many ms.
    #[arg(long)]
    timeout_notarize_ms: Option<u64>,
    /// Consensus: upper bound of any backed-off timeout, in ms.
    #[arg(long)]
    timeout_max_ms: Option<u64>,
    /// Most transactions in one block.
    #[arg(long)]
    block_txs_max: Option<u32>,
    /// Largest encoded block, in bytes.
    #[arg(long)]
    block_bytes_max: Option<u32>,
}

impl ConsensusArgs {
    fn params(&self) -> ConsensusParams {
        let defaults = ConsensusParams::default();
        ConsensusParams {
            timeout_propose_ms: self.timeout_propose_ms.unwrap_or(defaults.timeout_propose_ms),
            timeout_notarize_ms: self.timeout_notarize_ms.unwrap_or(defaults.timeout_notarize_ms),
            timeout_max_ms: self.timeout_max_ms.unwrap_or(defaults.timeout_max_ms),
            block_txs_max: self.block_txs_max.unwrap_or(defaults.block_txs_max),
            block_bytes_max: self.block_bytes_max.unwrap_or(defaults.block_bytes_max),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => run_init(*args),
        Command::New(args) => run_new(*args),
        Command::Add { draft, applications } => run_add(&draft, &applications),
        Command::Finalize { draft, out, genesis_time_ms, force } => {
            run_finalize(&draft, &out, genesis_time_ms, force)
        }
        Command::Validate { file } => run_validate(&file),
        Command::Hash { file } => run_hash(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_init(args: InitArgs) -> Result<()> {
    let chain_id = ChainId::new(args.chain_id).context("--chain-id")?;
    let members = args
        .members
        .iter()
        .map(|id| MemberId::new(id.trim()))
        .collect::<Result<Vec<_>, _>>()
        .context("--members")?;
    let consensus = args.consensus.params();
    let issuer_float = args
        .issuer_float
        .as_deref()
        .map(|text| Amount::parse(text, init::ASSET_SCALE))
        .transpose()
        .context("--issuer-float")?;
    if issuer_float.is_some_and(Amount::is_zero) {
        bail!("--issuer-float: must be more than zero (leave it out for no opening balances)");
    }
    let genesis_time_ms = genesis_time_or_now(args.genesis_time_ms)?;
    let keys = match &args.seed {
        Some(text) => {
            let seed = Zeroizing::new(hex::decode(text.trim()).context("--seed: not hex")?);
            eprintln!(
                "warning: keys derived from --seed are for tests only: anyone who knows the seed has every key of this network"
            );
            if args.genesis_time_ms.is_none() {
                eprintln!(
                    "note: genesis_time_ms is the current time; pass --genesis-time-ms too for a byte-identical genesis.json"
                );
            }
            KeySource::seeded(&seed, &chain_id)?
        }
        None => KeySource::OsRandom,
    };
    let spec = TestnetSpec {
        chain_id,
        validators: args.validators,
        members,
        genesis_time_ms,
        consensus,
        listen_ip: args.listen_ip,
        base_port: args.base_port,
        issuer_float,
    };
    let testnet = init::build_testnet(&spec, &keys)?;
    let written = init::write_testnet(&testnet, &args.out, args.force)?;
    let genesis = &testnet.genesis;
    println!("wrote {}", written.genesis.display());
    for path in &written.key_files {
        println!("wrote {}", path.display());
    }
    println!("chain id:     {}", genesis.chain_id());
    println!("validators:   {}", genesis.validators().len());
    println!("genesis hash: {}", genesis.hash());
    Ok(())
}

fn genesis_time_or_now(given: Option<u64>) -> Result<u64> {
    match given {
        Some(time_ms) => Ok(time_ms),
        None => {
            let now =
                SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?;
            u64::try_from(now.as_millis()).context("the system clock is beyond the year 584 million")
        }
    }
}

fn run_new(args: NewArgs) -> Result<()> {
    let chain_id = ChainId::new(args.chain_id).context("--chain-id")?;
    if !args.force && std::fs::symlink_metadata(&args.out).is_ok() {
        bail!("{} already exists (pass --force to replace it)", args.out.display());
    }
    let mut draft = Draft::new(chain_id, args.consensus.params(), args.issuer_float)?;
    if let Some(text) = &args.threshold {
        let threshold = tally_types::governance::Threshold::parse(text)
            .map_err(|problem| anyhow::anyhow!("--threshold {problem}"))?;
        draft.governance_threshold = Some(threshold);
    }
    init::write_file_atomically(&args.out, draft.to_json_pretty().as_bytes(), init::GENESIS_FILE_MODE)?;
    println!("wrote {} (chain {}, no applications yet)", args.out.display(), draft.chain_id);
    Ok(())
}

fn run_add(draft_path: &Path, applications: &[PathBuf]) -> Result<()> {
    let mut draft = Draft::load(draft_path)?;
    // All or nothing: one refused application leaves the draft as it was.
    for path in applications {
        let application = Application::load(path)?;
        let shown = application.to_string();
        draft
            .add(application)
            .with_context(|| format!("application {} ({shown}) refused", path.display()))?;
        println!("added {} ({shown})", path.display());
    }
    init::write_file_atomically(draft_path, draft.to_json_pretty().as_bytes(), init::GENESIS_FILE_MODE)?;
    println!("{}: {} application(s)", draft_path.display(), draft.applications.len());
    Ok(())
}

fn run_finalize(draft_path: &Path, out: &Path, genesis_time_ms: Option<u64>, force: bool) -> Result<()> {
    let draft = Draft::load(draft_path)?;
    if !force && std::fs::symlink_metadata(out).is_ok() {
        bail!("{} already exists (pass --force to replace it)", out.display());
    }
    let genesis = draft.finalize(genesis_time_or_now(genesis_time_ms)?)?;
    init::write_file_atomically(out, genesis.to_json_pretty().as_bytes(), init::GENESIS_FILE_MODE)?;
    println!("wrote {}", out.display());
    println!("chain id:     {}", genesis.chain_id());
    println!("validators:   {}", genesis.validators().len());
    println!("genesis hash: {}", genesis.hash());
    println!("every operator checks this hash with `tally-genesis hash genesis.json` before starting");
    Ok(())
}

fn run_validate(file: &Path) -> Result<()> {
    let genesis = Genesis::load(file)?;
    let validator_set = genesis.validator_set();
    let join = |items: Vec<String>| items.join(", ");
    println!("{}: valid", file.display());
    println!("chain id:           {}", genesis.chain_id());
    println!("format version:     {}", genesis.format_version());
    println!("genesis time:       {} ms", genesis.genesis_time_ms());
    println!(
        "validators:         n = {}, f = {}, quorum = {}",
        validator_set.len(),
        validator_set.max_faulty(),
        validator_set.quorum()
    );
    println!(
        "members:            {} ({})",
        genesis.members().len(),
        join(genesis.members().iter().map(|member| member.id.to_string()).collect())
    );
    println!(
        "assets:             {} ({})",
        genesis.assets().len(),
        join(genesis.assets().iter().map(|asset| asset.asset.to_string()).collect())
    );
    println!("opening balances:   {}", genesis.balances().len());
    println!("genesis hash:       {}", genesis.hash());
    println!("validators hash:    {}", genesis.validators_hash());
    println!("initial state root: {}", genesis.initial_state_root());
    Ok(())
}

fn run_hash(file: &Path) -> Result<()> {
    let genesis = Genesis::load(file)?;
    println!("{}", genesis.hash());
    Ok(())
}
