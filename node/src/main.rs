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
    /// Runs the validator described by a node configuration file.
    Run {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Overrides `log.format` of the configuration.
        #[arg(long, value_enum)]
        log_format: Option<CliLogFormat>,
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
}

#[derive(Clone, Copy, ValueEnum)]
enum CliLogFormat {
    Human,
    Json,
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
    let (config, log_format) = match cli.command {
        Command::Run { config, log_format } => (config, log_format),
        Command::Export { data, node, out } => return export(data, node, &out),
    };
    let node_config = NodeConfig::load(&config)?;
    let format = match log_format {
        Some(CliLogFormat::Human) => LogFormat::Human,
        Some(CliLogFormat::Json) => LogFormat::Json,
        None => node_config.log_format,
    };
    init_logging(format, &node_config.log_level)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let (engine, channels) = tally_node::engine::start(&node_config)
            .await
            .with_context(|| format!("starting the node of {}", config.display()))?;
        tracing::info!(store = %tally_node::engine::store_path(&node_config).display(), "node started");
        // SIGTERM (systemd, docker stop) and Ctrl-C stop the node the same way. Every
        // committed block is already durable (one redb transaction with immediate durability
        // per block, votes in the WAL before they are sent), so stopping between two awaits of
        // the engine loses nothing; it only spares the operator a log full of peer errors.
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
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
