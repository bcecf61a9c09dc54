//! `tally-bench`: an open-loop load generator for a local Tally network (`scripts/bench.sh`).
//!
//! It funds sender accounts (grants from a member's issuer, through distributor accounts when
//! there are many), pre-signs every transfer before the clock starts, submits them at a fixed
//! rate whatever the answers (a closed loop would slow down with the network and hide its
//! queueing), watches committed blocks for them, and prints one line:
//!
//! `committed_tps=N p50_ms=N p99_ms=N submitted=N committed=N lost=N stranded=N late=N dropped=N refused=N
//!  node_cpu_s=X bench_cpu_s=X accounts=N setup_s=X`
//!
//! With `--tx-log FILE` it also writes, as it reads each committed block, a line for the block
//! and one per transfer of the load in it ([`tally_node::bench::LogLine`]), and `tally-bench
//! windows` cuts such a log into the windows before, at and after each change of the
//! consortium (`scripts/reconfig-bench.sh`). `--stop-file` ends the load early, for a run
//! whose length a script decides as it goes.
//!
//! Transfers go out in batches: every time slice (10 ms by default) the transfers due by then
//! are sent to their node as one borsh `Vec<SignedTransaction>` (`POST /v1/txs`,
//! `application/octet-stream`). A node that answers a batch with a 4xx status does not know
//! the batch form (an older build); the generator then sends one JSON transaction per request,
//! as those nodes expect. A dropped connection, a timeout or a refusal is counted and the run
//! goes on; it never ends a run early. Progress and the breakdown of refusals go to stderr.
//! It reports; it never asserts a speed.
//!
//! HTTP is raw HTTP/1.1 with keep-alive over tokio's `TcpStream`: the generator needs only
//! `POST /v1/txs` and a few GETs against nodes it knows, and a client crate would add a
//! dependency (and, for ureq, a thread per connection) for no gain.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use serde_json::Value;
use tally_genesis::Genesis;
use tally_genesis::init::asset_code_for;
use tally_genesis::keys::read_key_file;
use tally_node::bench::{
    Answer, ChangeMark, ChangeReport, LogLine, SUBMIT_BATCH_BYTES_MAX, SUBMIT_BATCH_TXS_MAX, SplitMix64,
    TX_LOG_HEADER, TxAnswer, TxLog, TxRecord, batch_body, batch_lengths, due_count, proc_stat_cpu_ticks,
    read_submit_answer, send_offset, summarize, ticks_to_seconds,
};

use tally_types::limits::TX_OPS_MAX;
use tally_types::tx::{Grant, GrantKind, Transfer};
use tally_types::{
    Amount, AssetId, Block, BoundedBytes, BoundedString, BoundedVec, ChainId, Height, MemberId, Op, OpId,
    PublicKey, SecretKey, SignedTransaction, Transaction, TxId, decode, encode,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The largest response body read (a full block is at most 8 MiB of borsh; its JSON is larger).
const RESPONSE_BODY_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The longest status or header line read.
const RESPONSE_LINE_BYTES_MAX: u64 = 8 * 1024;
/// The most header lines read per response.
const RESPONSE_HEADERS_MAX: usize = 100;
/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the block watcher asks for the committed height.
const WATCH_INTERVAL: Duration = Duration::from_millis(20);
/// How long after the schedule's end a transfer may still be sent; what is not sent by then
/// is `late`.
const SEND_GRACE: Duration = Duration::from_secs(1);
/// Funding fails when no funding transaction commits for this long.
const FUNDING_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The pause before sending again what a busy node refused.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// How far past the current height pre-signed transactions stay valid.
const VALIDITY_BLOCKS: u64 = 1_000_000;
/// Extra credits per account beyond what its transfers spend, in transfers' worth.
const FUNDING_SLACK_TRANSFERS: u64 = 10;
/// Up to this many accounts the issuer grants to each directly (at 16 grants per transaction,
/// 512 of its transactions: within the mempool's default 1,000 queued per account). Beyond it,
/// the issuer funds distributor accounts, which pass the credits on in parallel.
const DIRECT_GRANT_ACCOUNTS_MAX: usize = 8_192;
/// Accounts funded by one distributor: 64 transactions of 16 transfers each.
const ACCOUNTS_PER_DISTRIBUTOR: usize = 1_024;
/// Receipts checked after funding (all of them when there are fewer transactions).
const FUNDING_RECEIPTS_CHECKED_MAX: usize = 64;
/// Balances checked after funding.
const FUNDING_BALANCES_CHECKED: usize = 16;

#[derive(Parser, Debug)]
#[command(
    about = "Open-loop load generator for a local Tally network (scripts/bench.sh); \
             `tally-bench archive` generates a chain archive for `tally audit` instead",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    load: Args,
}

#[derive(clap::Subcommand, Debug)]
enum Mode {
    /// Generates a valid chain of signed transfers with finalization certificates, and its
    /// genesis file, without a network: the input of `tally audit` benchmarks.
    Archive(archive_gen::ArchiveArgs),
    /// Reads a `--tx-log` and prints, per change of the consortium, blocks per second and
    /// p50/p99 commit latency before, at and after it (`scripts/reconfig-bench.sh`).
    Windows(WindowsArgs),
}

#[derive(clap::Args, Debug)]
struct WindowsArgs {
    /// The log written by `tally-bench --tx-log`.
    #[arg(long)]
    tx_log: PathBuf,
    /// Length of the `before` and `after` windows.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    window_seconds: u64,
    /// The `at` window ends at the header time of this many blocks after the new epoch's first.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    settle_blocks: u64,
    /// One change: NAME:PROPOSED_UNIX_MS:EPOCH_START (the proposal's submission time and the
    /// first height of the epoch it made). Repeat for each change, in any order.
    #[arg(long = "change", required = true)]
    changes: Vec<ChangeMark>,
}

#[derive(clap::Args, Debug)]
struct Args {
    /// The network directory (genesis.json, members/*/issuer.key), as `tally-genesis init`
    /// writes it.
    #[arg(long, default_value = ".testnet")]
    net_dir: PathBuf,
    /// Seconds of load.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    duration: u64,
    /// Transactions submitted per second, whatever the answers.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    rate: u64,
    /// Funded accounts. Transfers go out from as many of them as there are transfers (each
    /// sending consecutive seqs) to receivers drawn from all of them.
    #[arg(long, visible_alias = "senders", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(2..=10_000_000))]
    accounts: u64,
    /// Concurrent connections (in-flight requests) per node.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1_024))]
    connections_per_node: u64,
    /// Milliseconds of schedule gathered into one batch per node.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    slice_ms: u64,
    /// Most transactions per batch request (the API takes at most 1,000).
    #[arg(long, default_value_t = SUBMIT_BATCH_TXS_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..=SUBMIT_BATCH_TXS_MAX as u64))]
    batch_max: u64,
    /// Funding transactions (16 credits each) admitted and not yet committed, at most: a
    /// million credits at once make blocks too large to execute within the consensus timeouts.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    funding_window: u64,
    /// Send one JSON transaction per request even if the nodes take batches.
    #[arg(long)]
    single: bool,
    /// The member whose issuer funds the accounts and whose asset they transfer.
    #[arg(long, default_value = "acme")]
    member: String,
    /// Seconds to wait for commits after the last submission.
    #[arg(long, default_value_t = 30)]
    drain_seconds: u64,
    /// Seed for account keys and receivers (default: from the clock, so runs use fresh accounts).
    #[arg(long)]
    seed: Option<u64>,
    /// PIDs of the node processes, comma-separated: their CPU time during the load is reported
    /// as `node_cpu_s` (`na` without them).
    #[arg(long, value_delimiter = ',')]
    node_pids: Vec<u32>,
    /// HTTP addresses (IP:PORT, comma-separated) to submit to and read blocks from, instead
    /// of every validator in the genesis: e.g. only the nodes that stay through a change of
    /// validators.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<SocketAddr>,
    /// Write a line per committed block and per committed transfer of the load to this file as
    /// the blocks are read (`tally-bench windows` reads it).
    #[arg(long)]
    tx_log: Option<PathBuf>,
    /// End the load as soon as this file exists (checked every time slice): what was due so
    /// far is sent, drained and reported as at the end of `--duration`; the rest never counts.
    #[arg(long)]
    stop_file: Option<PathBuf>,
}

/// One keep-alive HTTP/1.1 connection to a node, reopened after any error.
struct Connection {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    fn new(addr: SocketAddr) -> Self {
        Connection { addr, stream: None }
    }

    /// Sends `request` (complete bytes) and returns the status and body.
    async fn send(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>)> {
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {REQUEST_TIMEOUT:?}")));
        if result.is_err() {
            // The stream may hold half a response: never reuse it.
            self.stream = None;
        }
        result.with_context(|| format!("HTTP to {}", self.addr))
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await.context("connect")?;
            stream.set_nodelay(true).context("set TCP_NODELAY")?;
            self.stream = Some(BufReader::new(stream));
        }
        let stream = self.stream.as_mut().expect("connected just above");
        stream.get_mut().write_all(request).await.context("write request")?;
        let status_line = read_line(stream).await?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("bad status line `{}`", status_line.trim_end()))?;
        let mut content_length = None;
        let mut close = false;
        for _ in 0..=RESPONSE_HEADERS_MAX {
            let line = read_line(stream).await?;
            let line = line.trim_end();
            if line.is_empty() {
                let length = content_length.context("response without content-length")?;
                ensure!(length <= RESPONSE_BODY_BYTES_MAX, "response body of {length} bytes is too large");
                let mut body = vec![0; length];
                stream.read_exact(&mut body).await.context("read body")?;
                if close {
                    self.stream = None;
                }
                return Ok((status, body));
            }
            let Some((name, value)) = line.split_once(':') else { bail!("bad header line `{line}`") };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.parse::<usize>().context("bad content-length")?);
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
                close = true;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported");
            }
        }
        bail!("more than {RESPONSE_HEADERS_MAX} header lines")
    }

    async fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>)> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        self.send(request.as_bytes()).await
    }

    /// GETs `path` and parses a 200 answer as JSON.
    async fn get_json(&mut self, path: &str) -> Result<Value> {
        let (status, body) = self.get(path).await?;
        ensure!(status == 200, "GET {path}: {status} {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).with_context(|| format!("GET {path}: not JSON"))
    }
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Result<String> {
    let mut line = String::new();
    let read = (&mut *stream).take(RESPONSE_LINE_BYTES_MAX).read_line(&mut line).await.context("read")?;
    ensure!(read > 0, "connection closed by the node");
    ensure!(line.ends_with('\n'), "response line longer than {RESPONSE_LINE_BYTES_MAX} bytes");
    Ok(line)
}

/// How transactions are put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubmitForm {
    /// Many per request: a borsh `Vec<SignedTransaction>`, answered per transaction.
    Batch,
    /// One JSON `{"tx": hex}` per request, as every node version takes.
    Single,
}

/// A `POST /v1/txs` request carrying a borsh batch.
fn batch_request(addr: SocketAddr, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /v1/txs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A `POST /v1/txs` request carrying one transaction as JSON.
fn single_request(addr: SocketAddr, encoded_tx: &[u8]) -> Vec<u8> {
    let body = serde_json::json!({ "tx": hex::encode(encoded_tx) }).to_string();
    format!(
        "POST /v1/txs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A batch answered with a 4xx other than a per-transaction verdict means the node does not
/// know the batch form.
fn refuses_batch_form(status: u16) -> bool {
    (400..500).contains(&status) && ![409, 429].contains(&status)
}

fn committed_height(status: &Value) -> Result<u64> {
    status["committed_height"].as_u64().context("status without `committed_height`")
}

/// What the nodes and the run have in common.
struct Network {
    nodes: Vec<SocketAddr>,
    chain_id: ChainId,
    asset: AssetId,
}

#[tokio::main]
async fn main() {
    // Errors end the run with one line of explanation and a non-zero status, never a backtrace.
    if let Err(error) = run().await {
        eprintln!("tally-bench: error: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.mode {
        Some(Mode::Archive(archive_args)) => return archive_gen::generate(&archive_args),
        Some(Mode::Windows(windows_args)) => return print_windows(&windows_args),
        None => {}
    }
    let args = cli.load;
    let (network, scale, issuer) = read_network(&args)?;
    // 0.01 of the asset in minor units.
    let transfer_amount = Amount(10u128.pow(u32::from(scale) - 2));
    let shape = LoadShape::new(&args)?;
    announce_load(&network, &shape, &args);

    let setup_started = Instant::now();
    let (publics, senders) = derive_accounts(shape.seed, shape.account_count, shape.sender_count);
    eprintln!(
        "tally-bench: {} account keys derived in {:.1} s",
        shape.account_count,
        setup_started.elapsed().as_secs_f64()
    );
    let mut control = Connection::new(network.nodes[0]);
    let height = committed_height(&control.get_json("/v1/status").await?)?;
    let valid_until = Height(height + VALIDITY_BLOCKS);
    let amount =
        Amount((u128::from(shape.per_sender) + u128::from(FUNDING_SLACK_TRANSFERS)) * transfer_amount.0);
    let funding_started = Instant::now();
    let form =
        fund(&network, &mut control, &args, &issuer, &publics, amount, valid_until, shape.seed).await?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    eprintln!(
        "tally-bench: funded {} accounts with {} {} each: funding {:.1} s, setup {setup_seconds:.1} s",
        shape.account_count,
        amount.display(scale),
        network.asset,
        funding_started.elapsed().as_secs_f64()
    );
    announce_form(form, &args);
    let presigned = presign(&network, &shape, &publics, &senders, transfer_amount, valid_until, form)?;

    let load = Load::new(&shape);
    let mut cpu = CpuMeter::new(&args.node_pids);
    let start_height = committed_height(&control.get_json("/v1/status").await?)?;
    let tx_log = match &args.tx_log {
        Some(path) => Some(TxLogWriter::create(path)?),
        None => None,
    };
    let start = Instant::now();
    let start_unix_ms = unix_ms_now();
    // The watcher sees every block from the one after the current height.
    let watcher = tokio::spawn(watch_blocks(
        BlockFollower::new(network.nodes.clone(), start_height),
        presigned.ids,
        Arc::clone(&load.records),
        Arc::clone(&load.committed_count),
        Arc::clone(&load.stop_watching),
        (start, start_unix_ms),
        tx_log,
    ));
    let scheduled =
        send_on_schedule(&network, &args, &load, presigned.encoded, &presigned.order_by_node, form, start)
            .await?;
    cpu.sample();
    drain_and_report(&args, &load, watcher, cpu, start, scheduled, shape.account_count, setup_seconds).await;
    Ok(())
}

/// Milliseconds since the Unix epoch, by this machine's clock.
fn unix_ms_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// `tally-bench windows`: one line per change, in the order given.
fn print_windows(args: &WindowsArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.tx_log)
        .with_context(|| format!("reading {}", args.tx_log.display()))?;
    let log = TxLog::parse(&text).map_err(|error| anyhow::anyhow!("{}: {error}", args.tx_log.display()))?;
    for mark in &args.changes {
        let report = ChangeReport::of(&log, mark, args.window_seconds * 1_000, args.settle_blocks)
            .map_err(|error| anyhow::anyhow!("{}: {error}", args.tx_log.display()))?;
        println!("change={} {report}", mark.name);
    }
    Ok(())
}

/// The `--tx-log` file, written by the block watcher.
struct TxLogWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl TxLogWriter {
    fn create(path: &std::path::Path) -> Result<Self> {
        use std::io::Write;
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "{TX_LOG_HEADER}").with_context(|| format!("writing {}", path.display()))?;
        Ok(TxLogWriter { path: path.to_owned(), out })
    }

    /// Appends `lines` and flushes, so that the file is whole up to the last block read even
    /// if the generator is killed. Writes are small and few (one flush per poll that saw
    /// blocks), so they are done in place rather than on a blocking thread.
    fn append(&mut self, lines: &[LogLine]) -> Result<()> {
        use std::io::Write;
        for line in lines {
            writeln!(self.out, "{line}")?;
        }
        self.out.flush().with_context(|| format!("writing {}", self.path.display()))
    }
}

/// Once every worker is done: waits for the accepted transfers to commit (refused ones never
/// do), at most `--drain-seconds`, stops the block watcher and prints the result line for the
/// first `scheduled` transfers (all of them unless `--stop-file` ended the load early).
#[allow(clippy::too_many_arguments)]
async fn drain_and_report(
    args: &Args,
    load: &Load,
    watcher: tokio::task::JoinHandle<()>,
    mut cpu: CpuMeter,
    start: Instant,
    scheduled: usize,
    account_count: usize,
    setup_seconds: f64,
) {
    // Every worker is done: the last request was answered (or timed out) by now.
    let last_submit = Instant::now();
    let accepted = report_sending(&load.counters, start);
    let drain_end = last_submit + Duration::from_secs(args.drain_seconds);
    while load.committed_count.load(Ordering::Relaxed) < accepted && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    load.stop_watching.store(true, Ordering::Relaxed);
    if let Err(error) = watcher.await {
        eprintln!("tally-bench: the block watcher failed: {error}");
    }
    cpu.sample();

    let records = load.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    println!(
        "{} node_cpu_s={} bench_cpu_s={} accounts={account_count} setup_s={setup_seconds:.1}",
        summarize(&records[..scheduled.min(records.len())]),
        cpu.nodes_seconds().map_or_else(|| "na".to_owned(), |seconds| format!("{seconds:.1}")),
        cpu.own_seconds().map_or_else(|| "na".to_owned(), |seconds| format!("{seconds:.1}")),
    );
}

/// The nodes (by the HTTP addresses in the genesis), the chain and asset of the run, the
/// asset's scale and its issuer's key, read from the network directory.
fn read_network(args: &Args) -> Result<(Network, u8, SecretKey)> {
    let genesis_path = args.net_dir.join("genesis.json");
    let genesis = Genesis::load(&genesis_path).with_context(|| format!("load {}", genesis_path.display()))?;
    let nodes: Vec<SocketAddr> = if args.nodes.is_empty() {
        genesis
            .validators()
            .iter()
            .map(|validator| {
                let mut addr = validator.http_listen;
                // A node listening on all interfaces is reached on loopback.
                if addr.ip().is_unspecified() {
                    addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
                }
                addr
            })
            .collect()
    } else {
        args.nodes.clone()
    };
    ensure!(!nodes.is_empty(), "the genesis has no validators");
    let member = MemberId::new(args.member.clone()).map_err(|error| anyhow::anyhow!("--member: {error}"))?;
    let asset = AssetId::new(asset_code_for(&member).context("asset code")?, member.clone());
    let scale = genesis
        .assets()
        .iter()
        .find(|entry| entry.asset == asset)
        .map(|entry| entry.scale)
        .with_context(|| format!("the genesis has no asset {asset}"))?;
    ensure!(scale >= 2, "asset {asset} has scale {scale}; 0.01 of it is not representable");
    let key_path = args.net_dir.join("members").join(member.as_str()).join("issuer.key");
    let issuer = read_key_file(&key_path).with_context(|| format!("read {}", key_path.display()))?;
    Ok((Network { nodes, chain_id: genesis.chain_id().clone(), asset }, scale, issuer))
}

/// How many transfers go out, from how many accounts, drawn with which seed.
struct LoadShape {
    seed: u64,
    total: u64,
    account_count: usize,
    /// Every transfer's sender is one of the first `sender_count` accounts, round robin.
    sender_count: usize,
    /// Transfers per sender, at most.
    per_sender: u64,
}

impl LoadShape {
    fn new(args: &Args) -> Result<Self> {
        let seed = args.seed.unwrap_or_else(|| {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos());
            (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
        });
        let total = args.rate.checked_mul(args.duration).context("--rate × --duration overflows")?;
        let total_usize = usize::try_from(total).context("too many transactions")?;
        let account_count = usize::try_from(args.accounts).context("--accounts")?;
        let sender_count = account_count.min(total_usize).max(1);
        let per_sender = total.div_ceil(sender_count as u64);
        Ok(LoadShape { seed, total, account_count, sender_count, per_sender })
    }

    fn total_usize(&self) -> usize {
        usize::try_from(self.total).expect("checked in LoadShape::new")
    }
}

/// Funds every account with `amount` (see [`fund_accounts`]), finding out on the way whether
/// the nodes take batches unless `--single` says not to ask; returns the form the load uses.
#[allow(clippy::too_many_arguments)]
async fn fund(
    network: &Network,
    control: &mut Connection,
    args: &Args,
    issuer: &SecretKey,
    publics: &[PublicKey],
    amount: Amount,
    valid_until: Height,
    seed: u64,
) -> Result<SubmitForm> {
    // Found out by the first funding transaction unless --single.
    let mut form = args.single.then_some(SubmitForm::Single);
    let window = usize::try_from(args.funding_window).context("--funding-window")?;
    fund_accounts(network, control, &mut form, issuer, seed, publics, amount, valid_until, window).await?;
    Ok(form.unwrap_or(SubmitForm::Batch))
}

/// Says on stderr what load is about to run, on which network.
fn announce_load(network: &Network, shape: &LoadShape, args: &Args) {
    eprintln!(
        "tally-bench: {} nodes, {} accounts ({} sending), {} transfers of 0.01 {} at {}/s for {} s (seed {})",
        network.nodes.len(),
        shape.account_count,
        shape.sender_count,
        shape.total,
        network.asset,
        args.rate,
        args.duration,
        shape.seed
    );
}

/// Says on stderr how the load is submitted.
fn announce_form(form: SubmitForm, args: &Args) {
    match form {
        SubmitForm::Batch => eprintln!(
            "tally-bench: submitting borsh batches of up to {} transfers per node every {} ms",
            args.batch_max, args.slice_ms
        ),
        SubmitForm::Single => eprintln!("tally-bench: submitting one JSON transfer per request"),
    }
}

/// Every transfer of the run, signed and encoded before the clock starts.
struct Presigned {
    /// Each transfer's id and its index in the schedule.
    ids: HashMap<TxId, usize>,
    /// By index, what goes on the wire: the borsh transaction (batch form) or a whole JSON
    /// request (single form).
    encoded: Vec<Vec<u8>>,
    /// By node, the indexes it is sent, in schedule order.
    order_by_node: Vec<Vec<u32>>,
}

/// Pre-signs and pre-encodes every transfer: signing must not eat into the send rate.
fn presign(
    network: &Network,
    shape: &LoadShape,
    publics: &[PublicKey],
    senders: &[SecretKey],
    transfer_amount: Amount,
    valid_until: Height,
    form: SubmitForm,
) -> Result<Presigned> {
    let signing_started = Instant::now();
    let (total, sender_count, account_count) = (shape.total_usize(), shape.sender_count, shape.account_count);
    let mut rng = SplitMix64::new(shape.seed ^ 0x7265_6365_6976_6572);
    let plan: Vec<(usize, usize, u64)> = (0..total)
        .map(|index| {
            let sender = index % sender_count;
            let seq = (index / sender_count) as u64 + 1;
            let mut receiver = rng.below(account_count as u64) as usize;
            if receiver == sender {
                receiver = (receiver + 1) % account_count;
            }
            (sender, receiver, seq)
        })
        .collect();
    let signed = sign_parallel(&plan, |&(sender, receiver, seq)| {
        Transaction {
            chain_id: network.chain_id.clone(),
            signer: publics[sender],
            seq,
            valid_until_height: valid_until,
            ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                asset: network.asset.clone(),
                to: publics[receiver],
                amount: transfer_amount,
            })])
            .expect("one op fits in a transaction"),
            memo: BoundedBytes::empty(),
        }
        .sign(&senders[sender])
    });
    drop(plan);
    let mut ids: HashMap<TxId, usize> = HashMap::with_capacity(total);
    let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(total);
    // A sender always talks to the same node, so all its seqs land in one mempool and none
    // waits there for a lower seq that went elsewhere.
    let mut order_by_node: Vec<Vec<u32>> = vec![Vec::new(); network.nodes.len()];
    for (index, tx) in signed.iter().enumerate() {
        ids.insert(tx.id(), index);
        let node = (index % sender_count) % network.nodes.len();
        order_by_node[node].push(u32::try_from(index).context("too many transactions")?);
        let bytes = encode(tx);
        encoded.push(match form {
            SubmitForm::Batch => bytes,
            SubmitForm::Single => single_request(network.nodes[node], &bytes),
        });
    }
    drop(signed);
    eprintln!(
        "tally-bench: {total} transfers signed in {:.1} s; starting the load",
        signing_started.elapsed().as_secs_f64()
    );
    Ok(Presigned { ids, encoded, order_by_node })
}

/// What the schedule, the send workers and the block watcher share during the load.
struct Load {
    records: Arc<Mutex<Vec<TxRecord>>>,
    counters: Arc<SendCounters>,
    committed_count: Arc<AtomicU64>,
    stop_watching: Arc<AtomicBool>,
}

impl Load {
    fn new(shape: &LoadShape) -> Self {
        let records: Vec<TxRecord> = (0..shape.total_usize())
            .map(|index| TxRecord {
                sender: u32::try_from(index % shape.sender_count).unwrap_or(u32::MAX),
                ..TxRecord::default()
            })
            .collect();
        Load {
            records: Arc::new(Mutex::new(records)),
            counters: Arc::new(SendCounters::default()),
            committed_count: Arc::new(AtomicU64::new(0)),
            stop_watching: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Sends every transfer at its time from `start`: each slice, the ones due go to their node's
/// queue in batches; `--connections-per-node` workers per node drain it. Returns, when every
/// worker is done, how many transfers of the schedule were due when it ended: all of them,
/// unless the `--stop-file` appeared.
async fn send_on_schedule(
    network: &Network,
    args: &Args,
    load: &Load,
    encoded: Vec<Vec<u8>>,
    order_by_node: &[Vec<u32>],
    form: SubmitForm,
    start: Instant,
) -> Result<usize> {
    let send_window_end = start + Duration::from_secs(args.duration) + SEND_GRACE;
    let total = encoded.len();
    let mut scheduled = total;
    let encoded = Arc::new(encoded);
    let batch_max = match form {
        SubmitForm::Batch => usize::try_from(args.batch_max).context("--batch-max")?,
        SubmitForm::Single => 1,
    };
    let worker = |addr, queue| Worker {
        addr,
        form,
        batch_max,
        queue,
        encoded: Arc::clone(&encoded),
        records: Arc::clone(&load.records),
        counters: Arc::clone(&load.counters),
        rate: args.rate,
        start,
        send_window_end,
    };
    let (queues, workers) = spawn_workers(&network.nodes, args.connections_per_node, worker);
    let mut next_by_node = vec![0usize; network.nodes.len()];
    let mut slices = tokio::time::interval(Duration::from_millis(args.slice_ms));
    slices.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        slices.tick().await;
        let now = start.elapsed();
        let mut remaining = false;
        for (node, order) in order_by_node.iter().enumerate() {
            let from = next_by_node[node];
            let due = queue_due(&order[from..], now, args.rate, &encoded, batch_max, &queues[node]);
            next_by_node[node] = from + due;
            remaining |= next_by_node[node] < order.len();
        }
        if !remaining || Instant::now() > send_window_end {
            break;
        }
        if args.stop_file.as_ref().is_some_and(|path| path.exists()) {
            // Indices are in schedule order: those due by `now` went to the queues above.
            scheduled = usize::try_from(due_count(now, args.rate)).map_or(total, |due| due.min(total));
            eprintln!("tally-bench: stop file found after {:.1} s; ending the load", now.as_secs_f64());
            break;
        }
    }
    drop(queues);
    for worker in workers {
        // A worker never panics by design; if one did, the run still reports what it saw.
        if let Err(error) = worker.await {
            eprintln!("tally-bench: a send worker failed: {error}");
        }
    }
    Ok(scheduled)
}

/// Queues, in batches, the transfers of `pending` (a node's schedule, from its next unsent
/// transfer) that are due `now` from the start; returns how many.
fn queue_due(
    pending: &[u32],
    now: Duration,
    rate: u64,
    encoded: &[Vec<u8>],
    batch_max: usize,
    queue: &mpsc::UnboundedSender<Vec<u32>>,
) -> usize {
    let due = pending.iter().take_while(|&&index| send_offset(u64::from(index), rate) <= now).count();
    let due_now = &pending[..due];
    let sizes = due_now.iter().map(|&index| encoded[index as usize].len());
    let mut offset = 0;
    for length in batch_lengths(sizes, batch_max, SUBMIT_BATCH_BYTES_MAX) {
        // A closed queue means its workers are gone, which only happens after the window.
        let _ = queue.send(due_now[offset..offset + length].to_vec());
        offset += length;
    }
    due
}

/// Per node, an unbounded queue of batches fed by the schedule: its length is bounded by the
/// pre-signed set, and it never blocks the schedule. `connections` workers per node, made by
/// `worker` from the node and its queue, drain it; what is still queued when the send window
/// ends is `late` and never sent. Returns the queues' senders and the workers.
fn spawn_workers(
    nodes: &[SocketAddr],
    connections: u64,
    worker: impl Fn(SocketAddr, Arc<tokio::sync::Mutex<NodeQueue>>) -> Worker,
) -> (Vec<mpsc::UnboundedSender<Vec<u32>>>, Vec<tokio::task::JoinHandle<()>>) {
    let mut queues = Vec::with_capacity(nodes.len());
    let mut workers = Vec::new();
    for &addr in nodes {
        let (sender, receiver) = mpsc::unbounded_channel::<Vec<u32>>();
        queues.push(sender);
        let queue = Arc::new(tokio::sync::Mutex::new(NodeQueue { receiver, leftover: Vec::new() }));
        for _ in 0..connections {
            workers.push(tokio::spawn(send_worker(worker(addr, Arc::clone(&queue)))));
        }
    }
    (queues, workers)
}

/// Prints what the sending did (to stderr) and returns how many transfers were accepted.
fn report_sending(counters: &SendCounters, start: Instant) -> u64 {
    let accepted = counters.accepted.load(Ordering::Relaxed);
    eprintln!(
        "tally-bench: sending done in {:.1} s: accepted={accepted} requests={} dropped_requests={} send_delay_max_ms={}",
        start.elapsed().as_secs_f64(),
        counters.requests.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
        counters.send_delay_max_us.load(Ordering::Relaxed) / 1_000,
    );
    for (reason, (count, example)) in
        counters.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter()
    {
        eprintln!("tally-bench: refused ({reason}): {count}, e.g. {example}");
    }
    accepted
}

/// The account keys: public keys of all `count` accounts, secret keys of the first
/// `senders` (the others only receive; keeping a million secret keys would cost ~250 MB).
/// Each account's key derives from the seed and its index, on every core.
fn derive_accounts(seed: u64, count: usize, senders: usize) -> (Vec<PublicKey>, Vec<SecretKey>) {
    let key = |index: usize| SecretKey::from_seed(&account_seed(seed, 0, index));
    let indices: Vec<usize> = (0..count).collect();
    let publics = parallel_map(&indices, |&index| key(index).public_key());
    let secrets = parallel_map(&indices[..senders], |&index| key(index));
    (publics, secrets)
}

/// The key seed of account `index` of a kind (0: accounts, 1: distributors).
fn account_seed(seed: u64, kind: u64, index: usize) -> [u8; 32] {
    let salt = (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ kind.rotate_left(56);
    SplitMix64::new(seed ^ salt).bytes32()
}

/// `items.iter().map(f).collect()` on every core, keeping the order: deriving and signing a
/// million keys or transfers is most of the setup time.
fn parallel_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<_>>())).collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("a worker thread does not panic"))
            .collect()
    })
}

fn sign_parallel<T: Sync>(
    items: &[T],
    sign: impl Fn(&T) -> SignedTransaction + Sync,
) -> Vec<SignedTransaction> {
    parallel_map(items, sign)
}

/// Funds every account with `amount`. Up to `DIRECT_GRANT_ACCOUNTS_MAX` accounts the issuer
/// grants to each (16 grants per transaction); beyond, it grants to one distributor per
/// `ACCOUNTS_PER_DISTRIBUTOR` accounts, and the distributors transfer to theirs, 16 per
/// transaction, side by side (one account can queue only so many transactions; many accounts
/// can queue theirs in parallel). At most `window` funding transactions are in flight. Waits
/// until every funding transaction committed, then checks receipts and balances.
#[allow(clippy::too_many_arguments)]
async fn fund_accounts(
    network: &Network,
    control: &mut Connection,
    form: &mut Option<SubmitForm>,
    issuer: &SecretKey,
    seed: u64,
    accounts: &[PublicKey],
    amount: Amount,
    valid_until: Height,
    window: usize,
) -> Result<()> {
    let issuer_address = issuer.public_key().to_address();
    let account = control.get_json(&format!("/v1/accounts/{issuer_address}")).await?;
    let issuer_seq = account["seq"].as_u64().context("account without `seq`")?;
    let mut grant_ids = SplitMix64::new(seed ^ 0x6772_616e_7473);
    let mut grant_tx = |seq: u64, recipients: &[(PublicKey, Amount)]| {
        let ops = recipients
            .iter()
            .map(|&(to, amount)| grant_op(&mut grant_ids, &network.asset, to, amount))
            .collect();
        signed_tx(network, issuer, seq, valid_until, ops)
    };
    let chunked_by_ops = |recipients: Vec<(PublicKey, Amount)>| -> Vec<Vec<(PublicKey, Amount)>> {
        recipients.chunks(TX_OPS_MAX).map(<[_]>::to_vec).collect()
    };

    if accounts.len() <= DIRECT_GRANT_ACCOUNTS_MAX {
        let chunks = chunked_by_ops(accounts.iter().map(|&to| (to, amount)).collect());
        let txs: Vec<(usize, SignedTransaction)> =
            (issuer_seq + 1..).zip(&chunks).map(|(seq, chunk)| (0, grant_tx(seq, chunk))).collect();
        run_funding_stage(network, control, form, "grants", window, txs).await?;
        return check_balances(control, &network.asset, accounts, amount).await;
    }

    let groups: Vec<&[PublicKey]> = accounts.chunks(ACCOUNTS_PER_DISTRIBUTOR).collect();
    let distributors: Vec<SecretKey> = parallel_map(&(0..groups.len()).collect::<Vec<_>>(), |&index| {
        SecretKey::from_seed(&account_seed(seed, 1, index))
    });
    let per_group = |group: &[PublicKey]| Amount(amount.0 * group.len() as u128);
    let chunks = chunked_by_ops(
        distributors.iter().zip(&groups).map(|(key, group)| (key.public_key(), per_group(group))).collect(),
    );
    let txs: Vec<(usize, SignedTransaction)> =
        (issuer_seq + 1..).zip(&chunks).map(|(seq, chunk)| (0, grant_tx(seq, chunk))).collect();
    run_funding_stage(network, control, form, "grants to distributors", window, txs).await?;

    let txs = distributor_transfers(network, &distributors, &groups, amount, valid_until);
    run_funding_stage(network, control, form, "transfers from distributors", window, txs).await?;
    check_balances(control, &network.asset, accounts, amount).await
}

/// A promotional grant of `amount` to `to`, with the next grant id drawn from `grant_ids`.
fn grant_op(grant_ids: &mut SplitMix64, asset: &AssetId, to: PublicKey, amount: Amount) -> Op {
    let mut grant_id = [0u8; 16];
    grant_id.copy_from_slice(&grant_ids.bytes32()[..16]);
    Op::Grant(Grant {
        grant_id: OpId(grant_id),
        asset: asset.clone(),
        to,
        amount,
        kind: GrantKind::Promo,
        reason: None,
        external_ref: BoundedString::new("tally-bench").expect("11 bytes fit the limit"),
        pack: None,
    })
}

/// Each distributor's transfers of `amount` to every account of its group, 16 per
/// transaction from seq 1, signed in parallel; each sent to the node its distributor's index
/// picks (distributors' transactions go to nodes side by side).
fn distributor_transfers(
    network: &Network,
    distributors: &[SecretKey],
    groups: &[&[PublicKey]],
    amount: Amount,
    valid_until: Height,
) -> Vec<(usize, SignedTransaction)> {
    let unsigned: Vec<(usize, u64, Vec<PublicKey>)> = groups
        .iter()
        .enumerate()
        .flat_map(|(distributor, group)| {
            group
                .chunks(TX_OPS_MAX)
                .enumerate()
                .map(move |(position, chunk)| (distributor, position as u64 + 1, chunk.to_vec()))
        })
        .collect();
    let signed = sign_parallel(&unsigned, |(distributor, seq, recipients)| {
        let ops = recipients
            .iter()
            .map(|&to| Op::Transfer(Transfer { asset: network.asset.clone(), to, amount }))
            .collect();
        signed_tx(network, &distributors[*distributor], *seq, valid_until, ops)
    });
    unsigned.iter().map(|(distributor, _, _)| distributor % network.nodes.len()).zip(signed).collect()
}

fn signed_tx(
    network: &Network,
    key: &SecretKey,
    seq: u64,
    valid_until: Height,
    ops: Vec<Op>,
) -> SignedTransaction {
    Transaction {
        chain_id: network.chain_id.clone(),
        signer: key.public_key(),
        seq,
        valid_until_height: valid_until,
        ops: BoundedVec::new(ops).expect("at most TX_OPS_MAX ops per funding transaction"),
        memo: BoundedBytes::empty(),
    }
    .sign(key)
}

/// Submits `txs` (each with the index of its node) and waits until all of them committed with
/// a success receipt. At most `window` are admitted and not yet committed at a time: handed a
/// million credits at once, the nodes would build blocks too large to execute within the
/// consensus timeouts. What busy nodes refused, or what a dropped connection may not
/// have delivered, is sent again; a refusal for good ends the run, since funding must succeed
/// whole.
// Not split: one send-and-follow loop over sets (uncommitted, in flight, again) each step updates.
async fn run_funding_stage(
    network: &Network,
    control: &mut Connection,
    form: &mut Option<SubmitForm>,
    stage: &str,
    window: usize,
    txs: Vec<(usize, SignedTransaction)>,
) -> Result<()> {
    let started = Instant::now();
    let start_height = committed_height(&control.get_json("/v1/status").await?)?;
    let ids: Vec<TxId> = txs.iter().map(|(_, tx)| tx.id()).collect();
    let encoded: Vec<(usize, Vec<u8>)> = txs.iter().map(|(node, tx)| (*node, encode(tx))).collect();
    // Not seen committed yet; of those, the ones sent (admitted, or maybe admitted).
    let mut uncommitted: HashSet<TxId> = ids.iter().copied().collect();
    let mut in_flight: HashSet<TxId> = HashSet::new();
    // Indices to send, in order: the not-yet-sent ones follow what must go again.
    let mut again: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut next = 0;
    let submit_form = match *form {
        Some(known) => known,
        None => {
            // The first funding transaction finds out whether the nodes take batches.
            let (probed, admitted) = probe_batch_form(control, &txs[0].1).await?;
            if admitted {
                in_flight.insert(ids[0]);
                next = 1;
            }
            *form = Some(probed);
            probed
        }
    };
    let mut connections: Vec<Connection> = network.nodes.iter().map(|&addr| Connection::new(addr)).collect();
    let mut follower = BlockFollower::new(network.nodes.clone(), start_height);
    let mut last_progress = Instant::now();
    while !uncommitted.is_empty() {
        // Send up to the window, by node, in order.
        let room = window.saturating_sub(in_flight.len());
        let chosen = choose_to_send(room, &mut again, &mut next, &ids, &uncommitted);
        for (node, connection) in connections.iter_mut().enumerate() {
            let for_node: Vec<usize> =
                chosen.iter().copied().filter(|&index| encoded[index].0 == node).collect();
            let retry = submit_funding(connection, submit_form, &encoded, &for_node).await?;
            for &index in &for_node {
                if !retry.contains(&index) {
                    in_flight.insert(ids[index]);
                }
            }
            again.extend(retry);
        }
        let before = uncommitted.len();
        if let Err(error) = follower
            .poll(|block| {
                for tx in block.txs.iter() {
                    let id = tx.id();
                    if uncommitted.remove(&id) {
                        in_flight.remove(&id);
                    }
                }
            })
            .await
        {
            eprintln!("tally-bench: following blocks: {error:#}; retrying");
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        if uncommitted.len() < before {
            last_progress = Instant::now();
        }
        ensure!(
            last_progress.elapsed() < FUNDING_STALL_TIMEOUT,
            "{stage}: {} of {} funding transactions not committed, none for {FUNDING_STALL_TIMEOUT:?}",
            uncommitted.len(),
            ids.len()
        );
        if !again.is_empty() {
            tokio::time::sleep(RETRY_PAUSE).await;
        } else {
            tokio::time::sleep(WATCH_INTERVAL).await;
        }
    }

    check_funding_receipts(control, stage, &ids).await?;
    eprintln!(
        "tally-bench: {stage}: {} transactions committed in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Up to `room` indices of funding transactions to send now: first those that must go again
/// (unless they committed meanwhile), then the next ones not sent yet (from `next`).
fn choose_to_send(
    room: usize,
    again: &mut std::collections::VecDeque<usize>,
    next: &mut usize,
    ids: &[TxId],
    uncommitted: &HashSet<TxId>,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::with_capacity(room);
    while chosen.len() < room {
        if let Some(index) = again.pop_front() {
            // Sent again only if it did not commit meanwhile.
            if uncommitted.contains(&ids[index]) {
                chosen.push(index);
            }
        } else if *next < ids.len() {
            chosen.push(*next);
            *next += 1;
        } else {
            break;
        }
    }
    chosen
}

/// A funding transaction that committed but failed would show up as transfers failing later:
/// checks the receipts (a spread sample of them when there are many).
async fn check_funding_receipts(control: &mut Connection, stage: &str, ids: &[TxId]) -> Result<()> {
    let step = ids.len().div_ceil(FUNDING_RECEIPTS_CHECKED_MAX).max(1);
    for id in ids.iter().step_by(step).chain(ids.last()) {
        let found = control.get_json(&format!("/v1/txs/{id}")).await?;
        let outcome = &found["receipt"]["outcome"];
        ensure!(outcome["status"] == "success", "{stage}: funding transaction {id} failed: {outcome}");
    }
    Ok(())
}

/// Sends `tx` as a batch of one: a node that takes batches answers 200, one that does not
/// answers 400 (or 404/405/415). Returns the form to use and whether `tx` was admitted.
async fn probe_batch_form(control: &mut Connection, tx: &SignedTransaction) -> Result<(SubmitForm, bool)> {
    let body = batch_body([encode(tx).as_slice()].into_iter());
    let (status, answer) = control.send(&batch_request(control.addr, &body)).await?;
    if refuses_batch_form(status) {
        eprintln!(
            "tally-bench: the node answered a batch with {status} ({}); sending one JSON transaction per request",
            String::from_utf8_lossy(&answer).chars().take(200).collect::<String>()
        );
        return Ok((SubmitForm::Single, false));
    }
    let admitted = matches!(
        read_submit_answer(status, &answer, 1).as_deref(),
        Ok([TxAnswer::Accepted | TxAnswer::Duplicate])
    );
    Ok((SubmitForm::Batch, admitted))
}

/// Sends `txs` (indices into `encoded`) to one node, in batches or one by one; returns the
/// ones to send again (refused as busy, or on a connection that failed). A refusal for good is
/// an error.
async fn submit_funding(
    connection: &mut Connection,
    form: SubmitForm,
    encoded: &[(usize, Vec<u8>)],
    txs: &[usize],
) -> Result<Vec<usize>> {
    let addr = connection.addr;
    let batch_max = match form {
        SubmitForm::Batch => SUBMIT_BATCH_TXS_MAX,
        SubmitForm::Single => 1,
    };
    let mut again = Vec::new();
    let lengths =
        batch_lengths(txs.iter().map(|&index| encoded[index].1.len()), batch_max, SUBMIT_BATCH_BYTES_MAX);
    let mut offset = 0;
    for length in lengths {
        let batch = &txs[offset..offset + length];
        offset += length;
        let request = match form {
            SubmitForm::Batch => {
                batch_request(addr, &batch_body(batch.iter().map(|&index| encoded[index].1.as_slice())))
            }
            SubmitForm::Single => single_request(addr, &encoded[batch[0]].1),
        };
        let answers = match connection.send(&request).await {
            Ok((status, body)) => read_submit_answer(status, &body, batch.len())
                .map_err(|error| anyhow::anyhow!("funding: unreadable answer from {addr}: {error}"))?,
            Err(error) => {
                eprintln!("tally-bench: funding: {error:#}; sending again");
                again.extend_from_slice(batch);
                continue;
            }
        };
        for (&index, answer) in batch.iter().zip(answers) {
            match answer {
                TxAnswer::Accepted | TxAnswer::Duplicate => {}
                TxAnswer::Busy(_) => again.push(index),
                TxAnswer::Refused(reason) => bail!("funding transaction refused by {addr}: {reason}"),
            }
        }
    }
    Ok(again)
}

/// Checks that a spread sample of accounts holds at least `amount`.
async fn check_balances(
    control: &mut Connection,
    asset: &AssetId,
    accounts: &[PublicKey],
    amount: Amount,
) -> Result<()> {
    let step = accounts.len().div_ceil(FUNDING_BALANCES_CHECKED).max(1);
    let asset_text = asset.to_string();
    for account in accounts.iter().step_by(step).chain(accounts.last()) {
        let address = account.to_address();
        let answer = control.get_json(&format!("/v1/accounts/{address}")).await?;
        let available = answer["balances"]
            .as_array()
            .and_then(|balances| balances.iter().find(|balance| balance["asset"] == asset_text.as_str()))
            .and_then(|balance| match &balance["available_minor"] {
                Value::String(text) => text.parse::<u128>().ok(),
                Value::Number(number) => number.as_u64().map(u128::from),
                _ => None,
            })
            .unwrap_or(0);
        ensure!(
            available >= amount.0,
            "account {address} holds {available} minor units after funding, not {}",
            amount.0
        );
    }
    Ok(())
}

/// What the workers counted while sending.
#[derive(Default)]
struct SendCounters {
    /// Transactions admitted.
    accepted: AtomicU64,
    /// Requests sent.
    requests: AtomicU64,
    /// The longest wait, in microseconds, between a transaction's scheduled time and its send:
    /// latency is measured from the send, so a generator falling behind shows up here.
    send_delay_max_us: AtomicU64,
    /// Requests that got no answer.
    errors: AtomicU64,
    /// Refused transactions by reason (the problem kind, or the status), with one example each.
    refused: Mutex<BTreeMap<String, (u64, String)>>,
}

/// The transactions due at one node, in schedule order, shared by its workers.
struct NodeQueue {
    /// Per time slice, what became due.
    receiver: mpsc::UnboundedReceiver<Vec<u32>>,
    /// Taken from the channel but beyond what the last request could carry: goes first.
    leftover: Vec<u32>,
}

impl NodeQueue {
    /// The next request's transactions: everything due and not yet taken, up to `batch_max`
    /// transactions and `SUBMIT_BATCH_BYTES_MAX` bytes; waits while nothing is due. A worker
    /// free again after a slow answer so takes what piled up meanwhile in one request, rather
    /// than one slice's worth per request. `None` once the schedule is over and all is taken.
    async fn take(&mut self, batch_max: usize, encoded: &[Vec<u8>]) -> Option<Vec<u32>> {
        let mut taken = std::mem::take(&mut self.leftover);
        if taken.is_empty() {
            taken = self.receiver.recv().await?;
        }
        while taken.len() < batch_max {
            match self.receiver.try_recv() {
                Ok(more) => taken.extend(more),
                Err(_) => break,
            }
        }
        let sizes = taken.iter().map(|&index| encoded[index as usize].len());
        let first = batch_lengths(sizes, batch_max, SUBMIT_BATCH_BYTES_MAX).first().copied().unwrap_or(0);
        self.leftover = taken.split_off(first);
        Some(taken)
    }
}

/// One sender of batches to one node.
struct Worker {
    addr: SocketAddr,
    form: SubmitForm,
    /// Most transactions per request (1 in the single form).
    batch_max: usize,
    queue: Arc<tokio::sync::Mutex<NodeQueue>>,
    /// Per transaction: its borsh encoding (batch form) or its whole HTTP request (single form).
    encoded: Arc<Vec<Vec<u8>>>,
    records: Arc<Mutex<Vec<TxRecord>>>,
    counters: Arc<SendCounters>,
    rate: u64,
    start: Instant,
    send_window_end: Instant,
}

/// Sends the batches of one node's queue on one connection. Whatever happens to a request is
/// counted; nothing here ends the run.
async fn send_worker(worker: Worker) {
    let mut connection = Connection::new(worker.addr);
    let counters = &worker.counters;
    loop {
        let batch = worker.queue.lock().await.take(worker.batch_max, &worker.encoded).await;
        let Some(batch) = batch else { return };
        // Past the window, what is left is never sent: its records stay unsent (`late`).
        if Instant::now() > worker.send_window_end {
            continue;
        }
        let submitted = worker.start.elapsed();
        let scheduled = send_offset(u64::from(batch[0]), worker.rate);
        let delay_us = u64::try_from(submitted.saturating_sub(scheduled).as_micros()).unwrap_or(u64::MAX);
        counters.send_delay_max_us.fetch_max(delay_us, Ordering::Relaxed);
        {
            let mut records = worker.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for &index in &batch {
                records[index as usize].submitted = Some(submitted);
            }
        }
        let batch_request_bytes;
        let request: &[u8] = match worker.form {
            SubmitForm::Batch => {
                let body = batch_body(batch.iter().map(|&index| worker.encoded[index as usize].as_slice()));
                batch_request_bytes = batch_request(worker.addr, &body);
                &batch_request_bytes
            }
            SubmitForm::Single => &worker.encoded[batch[0] as usize],
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let answers = match connection.send(request).await {
            Ok((status, body)) => read_submit_answer(status, &body, batch.len())
                .map_err(|error| anyhow::anyhow!("unreadable answer ({status}): {error}")),
            Err(error) => Err(error),
        };
        let answers = match answers {
            Ok(answers) => answers,
            Err(error) => {
                if counters.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("tally-bench: first request without an answer: {error:#}");
                }
                let mut records = worker.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                for &index in &batch {
                    records[index as usize].answer = Answer::Dropped;
                }
                continue;
            }
        };
        let mut accepted = 0;
        let mut records = worker.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (&index, answer) in batch.iter().zip(answers) {
            let record = &mut records[index as usize];
            match answer {
                TxAnswer::Accepted | TxAnswer::Duplicate => {
                    record.answer = Answer::Accepted;
                    accepted += 1;
                }
                TxAnswer::Busy(reason) | TxAnswer::Refused(reason) => {
                    record.answer = Answer::Refused;
                    let mut refused =
                        counters.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    let entry = refused.entry(refusal_kind(&reason)).or_insert_with(|| (0, reason.clone()));
                    entry.0 += 1;
                }
            }
        }
        counters.accepted.fetch_add(accepted, Ordering::Relaxed);
    }
}

/// A short name for a refusal, to count them by kind: the problem type when the answer names
/// one (`urn:tally:problem:mempool-full` → `mempool-full`), else its first word (the status).
fn refusal_kind(reason: &str) -> String {
    for key in ["\"type\":\"", "\"kind\":\""] {
        if let Some(start) = reason.find(key) {
            let rest = &reason[start + key.len()..];
            if let Some(end) = rest.find('"') {
                let kind = &rest[..end];
                return kind.rsplit([':', '/']).next().unwrap_or(kind).to_owned();
            }
        }
    }
    reason.split_whitespace().next().unwrap_or("unknown").to_owned()
}

/// Reads committed blocks in order from one of the nodes, moving to the next node when one
/// does not answer. Blocks come as borsh (`?format=borsh`), or as JSON from a node that does
/// not offer it.
struct BlockFollower {
    nodes: Vec<SocketAddr>,
    current: usize,
    connection: Connection,
    next: u64,
    borsh: bool,
}

impl BlockFollower {
    fn new(nodes: Vec<SocketAddr>, after_height: u64) -> Self {
        let connection = Connection::new(nodes[0]);
        BlockFollower { nodes, current: 0, connection, next: after_height + 1, borsh: true }
    }

    /// Reads every block committed since the last call, in order, calling `on_block` for each.
    /// On an error the next call starts again at the first block not read, on the next node.
    async fn poll(&mut self, mut on_block: impl FnMut(&Block)) -> Result<()> {
        let result = self.read_new_blocks(&mut on_block).await;
        if result.is_err() {
            self.current = (self.current + 1) % self.nodes.len();
            self.connection = Connection::new(self.nodes[self.current]);
        }
        result
    }

    async fn read_new_blocks(&mut self, on_block: &mut impl FnMut(&Block)) -> Result<()> {
        let tip = committed_height(&self.connection.get_json("/v1/status").await?)?;
        while self.next <= tip {
            let block = self.block(self.next).await?;
            on_block(&block);
            self.next += 1;
        }
        Ok(())
    }

    async fn block(&mut self, height: u64) -> Result<Block> {
        if self.borsh {
            let (status, body) = self.connection.get(&format!("/v1/blocks/{height}?format=borsh")).await?;
            if status == 200 {
                return decode(&body).with_context(|| format!("block {height}: not a block"));
            }
            ensure!(status == 400, "GET block {height}: {status} {}", String::from_utf8_lossy(&body));
            self.borsh = false;
        }
        let answer = self.connection.get_json(&format!("/v1/blocks/{height}")).await?;
        block_from_json(&answer["block"]).with_context(|| format!("block {height}: not a block"))
    }
}

/// A block from `GET /v1/blocks/{height}`'s JSON: the header as given, each transaction from its
/// canonical bytes (`tx`, hex), the one form every answer gives.
fn block_from_json(block: &serde_json::Value) -> Result<Block> {
    let header = serde_json::from_value(block["header"].clone()).context("header")?;
    let txs = block["txs"].as_array().context("`txs` is not a list")?;
    let txs = txs
        .iter()
        .enumerate()
        .map(|(index, tx)| {
            let text = tx["tx"].as_str().with_context(|| format!("tx {index}: no `tx` bytes"))?;
            decode(&hex::decode(text).with_context(|| format!("tx {index}: `tx` is not hex"))?)
                .with_context(|| format!("tx {index}: not a transaction"))
        })
        .collect::<Result<Vec<_>>>()?;
    let txs = BoundedVec::new(txs)
        .map_err(|txs| anyhow::anyhow!("{} transactions: more than a block holds", txs.len()))?;
    Ok(Block { header, txs })
}

/// Follows committed blocks, stamping each of our transactions with the time its block was
/// seen, until told to stop; with a `tx_log`, writes each block's line and those of our
/// transfers in it (times in Unix ms: `start` is the load's start as an instant and by the
/// wall clock). A node that does not answer is retried (another one), never fatal.
async fn watch_blocks(
    mut follower: BlockFollower,
    ids: HashMap<TxId, usize>,
    records: Arc<Mutex<Vec<TxRecord>>>,
    committed_count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    (start, start_unix_ms): (Instant, u64),
    mut tx_log: Option<TxLogWriter>,
) {
    let mut errors = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Per block read: its height, its log line and the indices of our transfers in it.
        let mut seen: Vec<(u64, LogLine, Vec<usize>)> = Vec::new();
        let polled = follower
            .poll(|block| {
                let header = &block.header;
                let line = LogLine::Block {
                    height: header.height.0,
                    epoch: header.view.epoch(),
                    time_ms: header.time_ms,
                    txs: block.txs.len() as u64,
                };
                let ours = block.txs.iter().filter_map(|tx| ids.get(&tx.id()).copied()).collect();
                seen.push((header.height.0, line, ours));
            })
            .await;
        if !seen.is_empty() {
            let now = start.elapsed();
            let mut lines = Vec::new();
            let mut records = records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (height, block_line, ours) in seen {
                lines.push(block_line);
                for index in ours {
                    let record = &mut records[index];
                    if record.committed.is_some() {
                        continue;
                    }
                    record.committed = Some(now);
                    committed_count.fetch_add(1, Ordering::Relaxed);
                    if let Some(submitted) = record.submitted {
                        lines.push(LogLine::Tx {
                            height,
                            submit_unix_ms: start_unix_ms + submitted.as_millis() as u64,
                            latency_ms: now.saturating_sub(submitted).as_millis() as u64,
                        });
                    }
                }
            }
            drop(records);
            if let Some(log) = &mut tx_log
                && let Err(error) = log.append(&lines)
            {
                eprintln!("tally-bench: {error:#}; no more transaction log");
                tx_log = None;
            }
        }
        if let Err(error) = polled {
            errors += 1;
            if errors == 1 {
                eprintln!("tally-bench: following blocks: {error:#}; trying the next node");
            }
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
    if errors > 0 {
        eprintln!("tally-bench: the block watcher met {errors} errors and went on");
    }
}

/// CPU time of the node processes and of this generator between construction and the last
/// sample. A process gone before the end counts up to its last sample.
struct CpuMeter {
    pids: Vec<u32>,
    nodes_start: Vec<Option<u64>>,
    nodes_last: Vec<Option<u64>>,
    own_start: Option<u64>,
    own_last: Option<u64>,
}

impl CpuMeter {
    fn new(pids: &[u32]) -> Self {
        let nodes_start: Vec<Option<u64>> = pids.iter().map(|&pid| cpu_ticks(&pid.to_string())).collect();
        for (pid, ticks) in pids.iter().zip(&nodes_start) {
            if ticks.is_none() {
                eprintln!("tally-bench: cannot read /proc/{pid}/stat; its CPU time is left out");
            }
        }
        let own_start = cpu_ticks("self");
        CpuMeter {
            pids: pids.to_vec(),
            nodes_last: nodes_start.clone(),
            nodes_start,
            own_start,
            own_last: own_start,
        }
    }

    fn sample(&mut self) {
        for (pid, last) in self.pids.iter().zip(&mut self.nodes_last) {
            if let Some(ticks) = cpu_ticks(&pid.to_string()) {
                *last = Some(ticks);
            }
        }
        if let Some(ticks) = cpu_ticks("self") {
            self.own_last = Some(ticks);
        }
    }

    fn nodes_seconds(&self) -> Option<f64> {
        if self.pids.is_empty() {
            return None;
        }
        let ticks: u64 = self
            .nodes_start
            .iter()
            .zip(&self.nodes_last)
            .filter_map(|(start, last)| Some(last.as_ref()?.saturating_sub(*start.as_ref()?)))
            .sum();
        Some(ticks_to_seconds(ticks))
    }

    fn own_seconds(&self) -> Option<f64> {
        Some(ticks_to_seconds(self.own_last?.saturating_sub(self.own_start?)))
    }
}

/// User + system ticks of `/proc/<process>/stat` (`process` is a PID or `self`).
fn cpu_ticks(process: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    proc_stat_cpu_ticks(&stat, false)
}

/// `tally-bench archive`: a synthetic but fully valid chain for audit benchmarks. Genesis comes
/// from the genesis builder with seeded keys (four validators, one member with an opening float);
/// block 1 funds the sender accounts from the issuer; every later block holds `block_txs`
/// one-op transfers between senders, signed by their owners. Each block is executed on an
/// in-memory ledger for its receipts and state roots, and finalized by three of the four
/// validators' real signatures.
mod archive_gen {
    use std::fs::File;
    use std::io::BufWriter;
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::PathBuf;
    use std::time::Instant;

    use anyhow::{Context, Result, ensure};
    use tally_genesis::ConsensusParams;
    use tally_genesis::init::{Testnet, TestnetSpec, asset_code_for, build_testnet};
    use tally_genesis::keys::KeySource;
    use tally_ledger::{BlockContext, MemState, execute_block};
    use tally_node::bench::SplitMix64;
    use tally_types::archive::{ArchiveHeader, ArchiveWriter};
    use tally_types::block::{receipts_root, tx_root};
    use tally_types::tx::Transfer;
    use tally_types::{
        Amount, AssetId, Block, BlockId, BoundedBytes, BoundedVec, Certificate, ChainId, Header, Height,
        MemberId, Op, PublicKey, SecretKey, SignedTransaction, Subject, Transaction, ValidatorIndex, View,
    };

    /// Credits each sender starts with, in minor units: more than it can ever send at one
    /// unit per transfer in any run this tool makes.
    const SENDER_FUNDS: u128 = 1_000_000_000;
    /// Milliseconds between generated blocks.
    const BLOCK_INTERVAL_MS: u64 = 1_000;
    const GENESIS_TIME_MS: u64 = 1_700_000_000_000;

    #[derive(clap::Args, Debug)]
    pub struct ArchiveArgs {
        /// Transfers to generate (besides the funding transactions of block 1).
        #[arg(long, default_value_t = 1_000_000)]
        transfers: u64,
        /// Transfers per block (at most 10,000).
        #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        block_txs: u64,
        /// Sender accounts.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
        senders: u64,
        /// Seed of every key and choice: the same seed gives the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The archive to write.
        #[arg(long)]
        out: PathBuf,
        /// The genesis file to write (default: OUT with `.genesis.json` appended).
        #[arg(long)]
        genesis_out: Option<PathBuf>,
    }

    /// Signs `txs` on every core: signing a million transfers is most of the generation time.
    fn sign_all(unsigned: Vec<(Transaction, usize)>, keys: &[SecretKey]) -> Vec<SignedTransaction> {
        let threads = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        let chunk = unsigned.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = unsigned
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter().map(|(tx, key)| tx.clone().sign(&keys[*key])).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().expect("a signing thread does not panic"))
                .collect()
        })
    }

    pub fn generate(args: &ArchiveArgs) -> Result<()> {
        let started = Instant::now();
        let chain_id = ChainId::new("tally-audit-bench").expect("a valid chain id");
        let member = MemberId::new("acme").expect("a valid member id");
        let (testnet, genesis_path) = write_genesis(args, &chain_id, &member)?;
        let genesis = &testnet.genesis;
        let asset = AssetId::new(asset_code_for(&member)?, member);
        let mut rng = SplitMix64::new(args.seed);
        let mut accounts =
            Accounts::new(&chain_id, testnet.issuer_keys[0].1.clone(), args.senders, &mut rng)?;

        let mut state = genesis.initial_state();
        let out_tmp = {
            let mut name = args.out.as_os_str().to_owned();
            name.push(".tmp");
            PathBuf::from(name)
        };
        let file = File::create(&out_tmp).with_context(|| format!("creating {}", out_tmp.display()))?;
        let mut writer = ArchiveWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            &ArchiveHeader { chain_id: chain_id.clone(), genesis_hash: genesis.hash() },
        )?;
        let mut parent_id = genesis.parent_of_first_block();
        let mut height = 0u64;
        let mut remaining = args.transfers;
        let mut total_txs = 0u64;
        let mut funded = false;
        while !funded || remaining > 0 {
            height += 1;
            let unsigned = if !funded {
                funded = true;
                accounts.funding(&asset)
            } else {
                let count = remaining.min(args.block_txs);
                remaining -= count;
                accounts.transfers(&asset, &mut rng, count)
            };
            ensure!(unsigned.len() <= tally_types::limits::BLOCK_TXS_MAX, "block {height} is too large");
            let txs = sign_all(unsigned, &accounts.keys);
            let (block, certificate) = seal(&testnet, &mut state, Height(height), parent_id, txs)?;
            writer.append(&block, &certificate)?;
            parent_id = block.id();
            total_txs += block.txs.len() as u64;
            if height.is_multiple_of(20) {
                eprintln!(
                    "tally-bench archive: height {height}, {total_txs} txs, {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let file = writer.finish()?.into_inner().map_err(|error| error.into_error())?;
        file.sync_all()?;
        std::fs::rename(&out_tmp, &args.out)
            .with_context(|| format!("renaming {} to {}", out_tmp.display(), args.out.display()))?;
        println!(
            "archive={} genesis={} blocks={height} txs={total_txs} state_root={} seconds={:.1}",
            args.out.display(),
            genesis_path.display(),
            state.root(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Builds the testnet (four validators with seeded keys, `member` holding every sender's
    /// funds as its issuer's float) and writes its genesis file; returns it and the file's path.
    fn write_genesis(
        args: &ArchiveArgs,
        chain_id: &ChainId,
        member: &MemberId,
    ) -> Result<(Testnet, PathBuf)> {
        let keys = KeySource::seeded(&args.seed.to_le_bytes(), chain_id)?;
        let float = SENDER_FUNDS.checked_mul(u128::from(args.senders)).context("float overflows")?;
        let spec = TestnetSpec {
            chain_id: chain_id.clone(),
            validators: 4,
            members: vec![member.clone()],
            genesis_time_ms: GENESIS_TIME_MS,
            consensus: ConsensusParams::default(),
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 27_000,
            issuer_float: Some(Amount(float)),
        };
        let testnet = build_testnet(&spec, &keys)?;
        let genesis_path = args.genesis_out.clone().unwrap_or_else(|| {
            let mut name = args.out.as_os_str().to_owned();
            name.push(".genesis.json");
            PathBuf::from(name)
        });
        std::fs::write(&genesis_path, testnet.genesis.to_json_pretty())
            .with_context(|| format!("writing {}", genesis_path.display()))?;
        Ok((testnet, genesis_path))
    }

    /// The generated accounts, each with its last used seq: key 0 is the issuer, senders follow.
    struct Accounts {
        chain_id: ChainId,
        keys: Vec<SecretKey>,
        publics: Vec<PublicKey>,
        seqs: Vec<u64>,
    }

    impl Accounts {
        fn new(chain_id: &ChainId, issuer: SecretKey, senders: u64, rng: &mut SplitMix64) -> Result<Self> {
            let senders_count = usize::try_from(senders).context("--senders")?;
            let mut keys: Vec<SecretKey> = vec![issuer];
            keys.extend((0..senders_count).map(|_| SecretKey::from_seed(&rng.bytes32())));
            let publics: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
            let seqs = vec![0u64; keys.len()];
            Ok(Accounts { chain_id: chain_id.clone(), keys, publics, seqs })
        }

        /// A transaction of `ops` by account `signer` at its next seq, to be signed by it.
        fn next_tx(&mut self, signer: usize, ops: Vec<Op>) -> (Transaction, usize) {
            self.seqs[signer] += 1;
            let tx = Transaction {
                chain_id: self.chain_id.clone(),
                signer: self.publics[signer],
                seq: self.seqs[signer],
                valid_until_height: Height(u64::MAX),
                ops: BoundedVec::new(ops).expect("at most 16 ops per generated transaction"),
                memo: BoundedBytes::empty(),
            };
            (tx, signer)
        }

        /// Block 1: the issuer sends every sender its funds, `TX_OPS_MAX` transfers per
        /// transaction.
        fn funding(&mut self, asset: &AssetId) -> Vec<(Transaction, usize)> {
            (1..self.keys.len())
                .collect::<Vec<_>>()
                .chunks(tally_types::limits::TX_OPS_MAX)
                .map(|chunk| {
                    let ops = chunk
                        .iter()
                        .map(|&to| {
                            Op::Transfer(Transfer {
                                asset: asset.clone(),
                                to: self.publics[to],
                                amount: Amount(SENDER_FUNDS),
                            })
                        })
                        .collect();
                    self.next_tx(0, ops)
                })
                .collect()
        }

        /// `count` transfers of one unit, each between two different senders drawn from `rng`.
        fn transfers(
            &mut self,
            asset: &AssetId,
            rng: &mut SplitMix64,
            count: u64,
        ) -> Vec<(Transaction, usize)> {
            let senders_count = self.keys.len() - 1;
            (0..count)
                .map(|_| {
                    let sender = 1 + rng.below(senders_count as u64) as usize;
                    let mut receiver = 1 + rng.below(senders_count as u64) as usize;
                    if receiver == sender {
                        receiver = 1 + (receiver % senders_count);
                    }
                    let op = Op::Transfer(Transfer {
                        asset: asset.clone(),
                        to: self.publics[receiver],
                        amount: Amount(1),
                    });
                    self.next_tx(sender, vec![op])
                })
                .collect()
        }
    }

    /// Executes `txs` as the block at `height` on `state` (committing its writes) and returns
    /// the block, child of `parent_id`, with a finalization certificate signed by a quorum of
    /// the testnet's validators.
    fn seal(
        testnet: &Testnet,
        state: &mut MemState,
        height: Height,
        parent_id: BlockId,
        txs: Vec<SignedTransaction>,
    ) -> Result<(Block, Certificate)> {
        let chain_id = testnet.genesis.chain_id();
        let validators = testnet.genesis.validator_set();
        let time_ms = GENESIS_TIME_MS + height.0 * BLOCK_INTERVAL_MS;
        let context = BlockContext { chain_id: chain_id.clone(), height, time_ms };
        let output = execute_block(&*state, &context, &txs)?;
        ensure!(
            output.receipts.iter().all(|receipt| receipt.outcome == tally_types::TxOutcome::Success),
            "a generated transaction failed at height {height}"
        );
        let state_root = state.commit(&output.writes)?;
        let ids: Vec<_> = txs.iter().map(SignedTransaction::id).collect();
        let view = View(height.0);
        let header = Header {
            chain_id: chain_id.clone(),
            height,
            view,
            parent_id,
            time_ms,
            proposer: validators.leader(view),
            tx_root: tx_root(&ids),
            receipts_root: receipts_root(&output.receipts),
            state_root,
            validators_hash: validators.hash(),
        };
        let block = Block { header, txs: BoundedVec::new(txs).expect("checked against BLOCK_TXS_MAX") };
        let subject = Subject::Finalize { view, block_id: block.id() };
        let votes: Vec<(ValidatorIndex, _)> = (0..validators.quorum())
            .map(|index| {
                let key = &testnet.validator_keys[index].consensus;
                (ValidatorIndex(index as u16), subject.sign(chain_id, key))
            })
            .collect();
        let certificate = Certificate::from_votes(subject, &votes, validators.len())?;
        Ok((block, certificate))
    }
}
