//! `tally-node`: the Tally validator binary. `tally-node run --config node.toml` starts the
//! engine (consensus, execution, storage), the peer-to-peer network and the HTTP API.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tally_node::config::{LogFormat, NodeConfig};

#[derive(Parser)]
#[command(name = "tally-node", version, about = "The Tally validator node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Makes a validator's home directory on this machine: fresh consensus and network keys
    /// (mode 0600, never written anywhere else) and a node.toml. Prints the public keys.
    Init {
        /// The home directory to create (mode 0700).
        #[arg(long)]
        home: PathBuf,
        /// The address this node listens on for peers (node.toml's network.listen), e.g.
        /// /ip4/0.0.0.0/tcp/27000. Default: the p2p address in genesis.
        #[arg(long)]
        p2p_listen: Option<String>,
        /// The HTTP API's listen address (node.toml's http.listen). Default: genesis's.
        #[arg(long)]
        http_listen: Option<std::net::SocketAddr>,
        /// A full node: a network key only, no consensus key; it follows the chain and does not
        /// vote (needs --p2p-listen and --http-listen).
        #[arg(long)]
        full_node: bool,
    },
    /// Writes this validator's application to join a consortium at genesis, signed by the
    /// home's consensus and network keys. The member's issuer signs it next with
    /// `tally application sign`; then it goes to whoever runs `tally-genesis add`.
    Apply(Box<ApplyCli>),
    /// Runs the validator described by a node configuration file.
    Run {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Overrides `log.format` of the configuration.
        #[arg(long, value_enum)]
        log_format: Option<CliLogFormat>,
        /// The consensus key's sign state (`<key>.sign-state` beside the key file) is lost,
        /// and this data directory shows the key has signed before: recreate the sign state
        /// from the WAL and the store's tip, then follow without signing until past them. Only
        /// if the key signed nothing this data directory does not know of (no other copy of
        /// the key ran, no newer data directory was lost); else the validator may sign twice.
        #[arg(long)]
        recreate_lost_sign_state: bool,
    },
    /// Writes every finalized block with its certificate to a portable archive (for `tally
    /// audit`). A running node is exported over its HTTP API (--node); a stopped one from its
    /// data directory (--data).
    Export {
        /// The node's data directory (or its node.redb file); the node must be stopped.
        #[arg(long, conflicts_with = "node", required_unless_present = "node")]
        data: Option<PathBuf>,
        /// A running node's HTTP API, e.g. http://127.0.0.1:28000.
        #[arg(long)]
        node: Option<String>,
        /// The archive to write (written to FILE.tmp, then renamed).
        #[arg(long)]
        out: PathBuf,
    },
    /// Scrubs a stopped node's data directory: every block, certificate and receipt list
    /// against its checksum and the chain's ids and roots, the links between blocks, the tx
    /// index, and the state root at the tip. Lists every bad record; exits 1 if any.
    Check {
        /// The data directory (node.toml's node.data_dir).
        #[arg(long)]
        data: PathBuf,
    },
    /// Fills the empty data directory of a node configuration from a chain archive (`tally-node
    /// export`, `tally-bench archive`), checking and executing every block; then `run` starts
    /// the node on that chain.
    Import {
        /// The node's TOML configuration (its data directory and genesis file).
        #[arg(long)]
        config: PathBuf,
        /// The archive to read.
        #[arg(long)]
        archive: PathBuf,
    },
}

#[derive(clap::Args)]
struct ApplyCli {
    /// The home made by `tally-node init`.
    #[arg(long)]
    home: PathBuf,
    /// The chain id the consortium agreed on.
    #[arg(long)]
    chain_id: String,
    /// The member's id (3..=32 of [a-z0-9-]).
    #[arg(long)]
    member: String,
    /// The member's display name.
    #[arg(long)]
    member_name: String,
    /// The member's issuer address (`tally keys show NAME`).
    #[arg(long)]
    issuer: String,
    /// The member's credit asset code (asset CODE@member).
    #[arg(long)]
    asset: String,
    /// Decimal places of the asset's minor unit.
    #[arg(long, default_value_t = 2)]
    asset_scale: u8,
    /// This validator's name, e.g. acme-0.
    #[arg(long)]
    validator_name: String,
    /// Where peers dial this validator: /ip4/A.B.C.D/tcp/PORT or /dns4/HOST/tcp/PORT.
    #[arg(long)]
    p2p_address: String,
    /// Where this validator's HTTP API listens: IP:PORT.
    #[arg(long)]
    http_address: String,
    /// The application file to write.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliLogFormat {
    Human,
    Json,
}

impl From<CliLogFormat> for LogFormat {
    fn from(format: CliLogFormat) -> LogFormat {
        match format {
            CliLogFormat::Human => LogFormat::Human,
            CliLogFormat::Json => LogFormat::Json,
        }
    }
}

fn init_logging(format: LogFormat, level: &str) -> anyhow::Result<()> {
    // RUST_LOG, when set, wins over the configured level (for debugging one module).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .with_context(|| format!("log.level `{level}` is not a valid filter"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|error| anyhow::anyhow!("cannot install the logger: {error}"))
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The whole context chain on one line, without a backtrace: operators read this.
            eprintln!("error: {error:#}");
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (config, log_format, recreate_lost_sign_state) = match cli.command {
        Command::Run { config, log_format, recreate_lost_sign_state } => {
            (config, log_format, recreate_lost_sign_state)
        }
        Command::Export { data, node, out } => return export(data, node, &out),
        Command::Import { config, archive } => return import(&config, &archive),
        Command::Check { data } => return check(&data),
        Command::Init { home, p2p_listen, http_listen, full_node } => {
            return init(&home, full_node, p2p_listen.as_deref(), http_listen);
        }
        Command::Apply(args) => return apply(*args),
    };
    let mut node_config = NodeConfig::load(&config)?;
    node_config.recreate_lost_sign_state = recreate_lost_sign_state;
    init_logging(log_format.map_or(node_config.log_format, LogFormat::from), &node_config.log_level)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        // SIGTERM (systemd, docker stop) and Ctrl-C stop the node the same way. Every
        // committed block is already durable (one redb transaction with immediate durability
        // per block, votes in the WAL before they are sent), so stopping between two awaits of
        // the engine loses nothing; it only spares the operator a log full of peer errors.
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        // A full node, or a validator whose epoch has not started (governance scheduled it, or
        // is yet to vote it in): follow the chain; the validator takes over when its epoch comes.
        let validating = match node_config.consensus_key {
            None => false,
            Some(_) => tally_node::engine::startup::validates_now(&node_config)
                .with_context(|| format!("starting the node of {}", config.display()))?,
        };
        let started = if validating {
            tally_node::engine::start(&node_config).await
        } else {
            let follower = tally_node::follower::start(&node_config)
                .await
                .with_context(|| format!("starting the full node of {}", config.display()))?;
            let resumed = tokio::select! {
                result = follower.run() => result?,
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = terminate.recv() => {
                    tracing::info!("terminated (SIGTERM); stopping");
                    return Ok(());
                }
            };
            tally_node::engine::startup::start_resumed(&node_config, resumed).await
        };
        let (engine, channels) =
            started.with_context(|| format!("starting the node of {}", config.display()))?;
        tracing::info!(store = %tally_node::engine::store_path(&node_config).display(), "node started");
        tokio::select! {
            result = engine.run(channels) => result,
            signal = tokio::signal::ctrl_c() => {
                signal.context("waiting for Ctrl-C")?;
                tracing::info!("interrupted; stopping");
                Ok(())
            }
            _ = terminate.recv() => {
                tracing::info!("terminated (SIGTERM); stopping");
                Ok(())
            }
        }
    })
}

fn check(data: &std::path::Path) -> anyhow::Result<()> {
    let report = tally_node::check::check_data_dir(data)?;
    for problem in &report.problems {
        println!("bad: {problem}");
    }
    if report.problems.len() >= tally_node::check::PROBLEMS_MAX {
        println!("(stopped after {} problems)", report.problems.len());
    }
    println!(
        "checked {} of {} heights in {}: {}",
        report.checked,
        report.height,
        data.display(),
        if report.is_clean() {
            "no problem found".to_owned()
        } else {
            format!("{} problems", report.problems.len())
        }
    );
    if report.is_clean() { Ok(()) } else { anyhow::bail!("the store has bad records") }
}

fn init(
    home: &std::path::Path,
    full_node: bool,
    p2p_listen: Option<&str>,
    http_listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let role = if full_node { tally_node::home::Role::FullNode } else { tally_node::home::Role::Validator };
    if let Some(address) = p2p_listen {
        address
            .parse::<tally_net::Multiaddr>()
            .with_context(|| format!("--p2p-listen `{address}` is not a multiaddr"))?;
    }
    let made = tally_node::home::init_home(home, role, p2p_listen, http_listen)?;
    println!("made {} (keys mode 0600; they never leave this directory)", made.dir.display());
    match made.consensus_key {
        Some(key) => println!("consensus key: {key}"),
        None => println!("full node: no consensus key; the validators add its peer id to network.observers"),
    }
    println!("network key:   {}", made.network_key.to_hex());
    println!("peer id:       {}", made.peer_id);
    if made.consensus_key.is_some() {
        println!(
            "next: `tally-node apply --home {} ...`, then put the agreed genesis.json in it",
            made.dir.display()
        );
    } else {
        println!("next: put the consortium's genesis.json in {}", made.dir.display());
    }
    Ok(())
}

/// `text` as a bounded string, or an error naming the option and its limit.
fn bounded<const N: usize>(text: String, option: &str) -> anyhow::Result<tally_types::BoundedString<N>> {
    tally_types::BoundedString::new(text)
        .map_err(|text| anyhow::anyhow!("{option}: {} bytes, more than the limit of {N}", text.len()))
}

fn apply(args: ApplyCli) -> anyhow::Result<()> {
    use tally_genesis::application::{Application, ApplicationBody};
    use tally_types::{AssetCode, ChainId, MemberId, PublicKey};
    let (consensus, network) = tally_node::home::read_home(&args.home)?;
    let body = ApplicationBody {
        chain_id: ChainId::new(args.chain_id).context("--chain-id")?,
        member: MemberId::new(args.member).context("--member")?,
        member_name: bounded(args.member_name, "--member-name")?,
        issuer: args.issuer.parse::<PublicKey>().context("--issuer")?,
        asset_code: AssetCode::new(args.asset).context("--asset")?,
        asset_scale: args.asset_scale,
        validator_name: bounded(args.validator_name, "--validator-name")?,
        consensus_key: consensus.public_key(),
        network_key: network.public_key(),
        p2p_listen: bounded(args.p2p_address, "--p2p-address")?,
        http_listen: bounded(args.http_address, "--http-address")?,
    };
    let application = Application::new(body, &consensus, &network)?;
    if std::fs::symlink_metadata(&args.out).is_ok() {
        anyhow::bail!("{} already exists; choose another --out or remove it", args.out.display());
    }
    tally_genesis::init::write_file_atomically(&args.out, application.to_json_pretty().as_bytes(), 0o644)?;
    println!("wrote {} ({application})", args.out.display());
    println!(
        "next: the member's issuer signs it: `tally application sign --key NAME {}`",
        args.out.display()
    );
    Ok(())
}

fn import(config: &std::path::Path, archive: &std::path::Path) -> anyhow::Result<()> {
    let node_config = NodeConfig::load(config)?;
    init_logging(node_config.log_format, &node_config.log_level)?;
    let started = std::time::Instant::now();
    let summary = tally_node::import::import_archive(&node_config, archive)
        .with_context(|| format!("importing {} into the node of {}", archive.display(), config.display()))?;
    println!(
        "imported {} blocks ({} transactions) up to height {} in {:.1} s",
        summary.blocks,
        summary.txs,
        summary.height,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn export(data: Option<PathBuf>, node: Option<String>, out: &std::path::Path) -> anyhow::Result<()> {
    let summary = match (data, node) {
        (Some(data), _) => tally_node::export::export_from_store(&data, out)?,
        (None, Some(node)) => tally_node::export::export_from_node(&node, out)?,
        (None, None) => anyhow::bail!("pass --data DIR (a stopped node) or --node URL (a running node)"),
    };
    println!(
        "exported {} blocks ({} transactions) of chain {} to {} ({} bytes)",
        summary.blocks,
        summary.txs,
        summary.chain_id,
        summary.path.display(),
        summary.bytes
    );
    Ok(())
}
