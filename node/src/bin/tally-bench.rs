//! `tally-bench`: an open-loop load generator for a local Tally network (`scripts/testnet.sh`).
//!
//! It funds sender accounts with grants from a member's issuer, pre-signs every transfer before
//! the clock starts, submits them at a fixed rate whatever the answers (a closed loop would slow
//! down with the network and hide its queueing), watches committed blocks for them, and prints
//! one line: `committed_tps=N p50_ms=N p99_ms=N submitted=N committed=N lost=N`. Progress and
//! the breakdown of refusals go to stderr. It reports; it never asserts a speed.
//!
//! HTTP is raw HTTP/1.1 with keep-alive over tokio's `TcpStream`: the generator needs only
//! `POST /v1/txs` and a few GETs against nodes it knows, and a client crate would add a
//! dependency (and, for ureq, a thread per connection) for no gain.

use std::collections::{BTreeMap, HashMap};
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
use tally_node::bench::{SplitMix64, TxRecord, send_offset, summarize};

use tally_types::tx::{Grant, GrantKind, Transfer};
use tally_types::{
    Amount, AssetId, Block, BoundedBytes, BoundedString, BoundedVec, ChainId, Height, MemberId, Op, OpId,
    PublicKey, SecretKey, SignedTransaction, Transaction, TxId, encode,
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
/// The longest wait for the funding grants to commit.
const FUNDING_TIMEOUT: Duration = Duration::from_secs(60);
/// How far past the current height pre-signed transactions stay valid.
const VALIDITY_BLOCKS: u64 = 1_000_000;
/// Extra credits per sender beyond what its transfers spend, in transfers' worth.
const FUNDING_SLACK_TRANSFERS: u64 = 10;

#[derive(Parser, Debug)]
#[command(
    about = "Open-loop load generator for a local Tally network (scripts/testnet.sh); \
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
}

#[derive(clap::Args, Debug)]
struct Args {
    /// The network directory `scripts/testnet.sh up` wrote (genesis.json, members/*/issuer.key).
    #[arg(long, default_value = ".testnet")]
    net_dir: PathBuf,
    /// Seconds of load.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    duration: u64,
    /// Transactions submitted per second, whatever the answers.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    rate: u64,
    /// Sender accounts; each sends consecutive seqs, so more senders mean shorter queues.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(2..=65_536))]
    senders: u64,
    /// Concurrent connections (in-flight requests) per node.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1_024))]
    connections_per_node: u64,
    /// The member whose issuer funds the senders and whose asset they transfer.
    #[arg(long, default_value = "acme")]
    member: String,
    /// Seconds to wait for commits after the last submission.
    #[arg(long, default_value_t = 30)]
    drain_seconds: u64,
    /// Seed for sender keys and receivers (default: from the clock, so runs use fresh accounts).
    #[arg(long)]
    seed: Option<u64>,
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

fn submit_request(addr: SocketAddr, tx: &SignedTransaction) -> Vec<u8> {
    let body = serde_json::json!({ "tx": hex::encode(encode(tx)) }).to_string();
    format!(
        "POST /v1/txs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn committed_height(status: &Value) -> Result<u64> {
    status["committed_height"].as_u64().context("status without `committed_height`")
}

/// What the workers counted while sending.
#[derive(Default)]
struct SendCounters {
    accepted: AtomicU64,
    late: AtomicU64,
    /// The longest wait, in microseconds, between a transaction's scheduled time and its send:
    /// latency is measured from the send, so a generator falling behind shows up here.
    send_delay_max_us: AtomicU64,
    errors: AtomicU64,
    /// Refusals by HTTP status, with one example body each.
    refused: Mutex<BTreeMap<u16, (u64, String)>>,
}

/// One pre-signed transfer and where it goes.
struct Job {
    index: usize,
    /// When the schedule meant it to be sent, from the start of the load.
    scheduled: Duration,
    request: Vec<u8>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Mode::Archive(archive_args)) = cli.mode {
        return archive_gen::generate(&archive_args);
    }
    let args = cli.load;
    let genesis_path = args.net_dir.join("genesis.json");
    let genesis = Genesis::load(&genesis_path).with_context(|| format!("load {}", genesis_path.display()))?;
    let chain_id = genesis.chain_id().clone();
    let nodes: Vec<SocketAddr> = genesis
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
        .collect();
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
    // 0.01 of the asset in minor units.
    let transfer_amount = 10u128.pow(u32::from(scale) - 2);
    let key_path = args.net_dir.join("members").join(member.as_str()).join("issuer.key");
    let issuer = read_key_file(&key_path).with_context(|| format!("read {}", key_path.display()))?;

    let seed = args.seed.unwrap_or_else(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos());
        (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
    });
    let mut rng = SplitMix64::new(seed);
    let sender_count = usize::try_from(args.senders).context("--senders")?;
    let senders: Vec<SecretKey> = (0..sender_count).map(|_| SecretKey::from_seed(&rng.bytes32())).collect();
    let total = args.rate.checked_mul(args.duration).context("--rate × --duration overflows")?;
    let total_usize = usize::try_from(total).context("too many transactions")?;
    let per_sender = total.div_ceil(args.senders);

    let mut control = Connection::new(nodes[0]);
    let height = committed_height(&control.get_json("/v1/status").await?)?;
    let valid_until = Height(height + VALIDITY_BLOCKS);

    eprintln!(
        "tally-bench: {} nodes, {sender_count} senders, {total} transfers of 0.01 {asset} at {}/s for {} s (seed {seed})",
        nodes.len(),
        args.rate,
        args.duration
    );
    fund_senders(
        &mut control,
        &chain_id,
        &issuer,
        &asset,
        &senders,
        Amount((u128::from(per_sender) + u128::from(FUNDING_SLACK_TRANSFERS)) * transfer_amount),
        valid_until,
        &mut rng,
    )
    .await?;

    // Pre-sign everything before the clock starts: signing must not eat into the send rate.
    let mut ids: HashMap<TxId, usize> = HashMap::with_capacity(total_usize);
    let mut jobs_by_node: Vec<Vec<Job>> = (0..nodes.len()).map(|_| Vec::new()).collect();
    let mut node_of = Vec::with_capacity(total_usize);
    let sender_publics: Vec<PublicKey> = senders.iter().map(SecretKey::public_key).collect();
    for index in 0..total_usize {
        let sender = index % sender_count;
        let seq = (index / sender_count) as u64 + 1;
        let mut receiver = rng.below(args.senders) as usize;
        if receiver == sender {
            receiver = (receiver + 1) % sender_count;
        }
        let tx = Transaction {
            chain_id: chain_id.clone(),
            signer: sender_publics[sender],
            seq,
            valid_until_height: valid_until,
            ops: BoundedVec::new(vec![Op::Transfer(Transfer {
                asset: asset.clone(),
                to: sender_publics[receiver],
                amount: Amount(transfer_amount),
            })])
            .map_err(|_| anyhow::anyhow!("one op fits in a transaction"))?,
            memo: BoundedBytes::empty(),
        }
        .sign(&senders[sender]);
        ids.insert(tx.id(), index);
        // A sender always talks to the same node, so all its seqs land in one mempool and none
        // waits there for a lower seq that went elsewhere.
        let node = sender % nodes.len();
        node_of.push(node);
        jobs_by_node[node].push(Job {
            index,
            scheduled: send_offset(index as u64, args.rate),
            request: submit_request(nodes[node], &tx),
        });
    }
    eprintln!("tally-bench: {total} transfers signed; starting the load");

    let records = Arc::new(Mutex::new(vec![TxRecord::default(); total_usize]));
    let counters = Arc::new(SendCounters::default());
    let committed_count = Arc::new(AtomicU64::new(0));
    let stop_watching = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let send_window_end = start + Duration::from_secs(args.duration);

    // The watcher sees every block from the one after the current height.
    let start_height = committed_height(&control.get_json("/v1/status").await?)?;
    let watcher = tokio::spawn(watch_blocks(
        control,
        start_height,
        ids,
        Arc::clone(&records),
        Arc::clone(&committed_count),
        Arc::clone(&stop_watching),
        start,
    ));

    // Per node, an unbounded queue fed by the schedule: its length is bounded by the pre-signed
    // set, and it never blocks the schedule. Workers drain it; what is still queued when the
    // send window ends is `late` and never sent.
    let mut queues = Vec::with_capacity(nodes.len());
    let mut workers = Vec::new();
    for &addr in &nodes {
        let (sender, receiver) = mpsc::unbounded_channel::<Job>();
        queues.push(sender);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..args.connections_per_node {
            workers.push(tokio::spawn(send_worker(
                addr,
                Arc::clone(&receiver),
                Arc::clone(&records),
                Arc::clone(&counters),
                start,
                send_window_end,
            )));
        }
    }
    let mut jobs: Vec<std::vec::IntoIter<Job>> = jobs_by_node.into_iter().map(Vec::into_iter).collect();
    for (index, &node) in node_of.iter().enumerate() {
        let job = jobs[node].next().expect("each node's jobs were pushed in index order");
        debug_assert_eq!(job.index, index);
        tokio::time::sleep_until(start + job.scheduled).await;
        // A closed queue means its workers are gone, which only happens after the window.
        let _ = queues[node].send(job);
    }
    drop(queues);
    for worker in workers {
        worker.await.context("send worker panicked")?;
    }
    // Every worker is done: the last request was answered (or timed out) by now.
    let last_submit = Instant::now();
    let accepted = counters.accepted.load(Ordering::Relaxed);
    eprintln!(
        "tally-bench: sending done in {:.1} s: accepted={accepted} late={} errors={} send_delay_max_ms={}",
        start.elapsed().as_secs_f64(),
        counters.late.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
        counters.send_delay_max_us.load(Ordering::Relaxed) / 1_000,
    );
    for (status, (count, example)) in
        counters.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter()
    {
        eprintln!("tally-bench: refused with {status}: {count} (e.g. {example})");
    }

    // Wait for the accepted ones (refused ones never commit), bounded by --drain-seconds.
    let drain_end = last_submit + Duration::from_secs(args.drain_seconds);
    while committed_count.load(Ordering::Relaxed) < accepted && Instant::now() < drain_end {
        if watcher.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_watching.store(true, Ordering::Relaxed);
    watcher.await.context("block watcher panicked")??;

    let records = records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    println!("{}", summarize(&records));
    Ok(())
}

/// Grants each sender `amount` from the issuer, 16 grants per transaction, and waits until all
/// of them committed successfully.
#[allow(clippy::too_many_arguments)]
async fn fund_senders(
    control: &mut Connection,
    chain_id: &ChainId,
    issuer: &SecretKey,
    asset: &AssetId,
    senders: &[SecretKey],
    amount: Amount,
    valid_until: Height,
    rng: &mut SplitMix64,
) -> Result<()> {
    let issuer_address = issuer.public_key().to_address();
    let account = control.get_json(&format!("/v1/accounts/{issuer_address}")).await?;
    let committed_seq = account["seq"].as_u64().context("account without `seq`")?;
    let mut pending = Vec::new();
    // The issuer's next seqs, one per grant transaction.
    for (seq, chunk) in (committed_seq + 1..).zip(senders.chunks(tally_types::limits::TX_OPS_MAX)) {
        let ops = chunk
            .iter()
            .map(|sender| {
                let mut grant_id = [0u8; 16];
                grant_id.copy_from_slice(&rng.bytes32()[..16]);
                Op::Grant(Grant {
                    grant_id: OpId(grant_id),
                    asset: asset.clone(),
                    to: sender.public_key(),
                    amount,
                    kind: GrantKind::Promo,
                    reason: None,
                    external_ref: BoundedString::new("tally-bench").expect("11 bytes fit the limit"),
                })
            })
            .collect();
        let tx = Transaction {
            chain_id: chain_id.clone(),
            signer: issuer.public_key(),
            seq,
            valid_until_height: valid_until,
            ops: BoundedVec::new(ops).map_err(|_| anyhow::anyhow!("a chunk holds at most TX_OPS_MAX ops"))?,
            memo: BoundedBytes::empty(),
        }
        .sign(issuer);
        let (status, body) = control.send(&submit_request(control.addr, &tx)).await?;
        ensure!(status == 202, "funding grant refused: {status} {}", String::from_utf8_lossy(&body));
        pending.push(tx.id());
    }
    let deadline = Instant::now() + FUNDING_TIMEOUT;
    for id in pending {
        loop {
            let (status, body) = control.get(&format!("/v1/txs/{id}")).await?;
            if status == 200 {
                let found: Value = serde_json::from_slice(&body).context("tx answer: not JSON")?;
                let outcome = &found["receipt"]["outcome"];
                ensure!(outcome["status"] == "success", "funding grant {id} failed: {outcome}");
                break;
            }
            ensure!(status == 404, "GET /v1/txs/{id}: {status} {}", String::from_utf8_lossy(&body));
            ensure!(Instant::now() < deadline, "funding grants not committed within {FUNDING_TIMEOUT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!("tally-bench: funded {} senders", senders.len());
    Ok(())
}

async fn send_worker(
    addr: SocketAddr,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>,
    records: Arc<Mutex<Vec<TxRecord>>>,
    counters: Arc<SendCounters>,
    start: Instant,
    send_window_end: Instant,
) {
    let mut connection = Connection::new(addr);
    loop {
        let job = queue.lock().await.recv().await;
        let Some(job) = job else { return };
        let now = Instant::now();
        if now > send_window_end {
            counters.late.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let submitted = now - start;
        let delay_us = u64::try_from(submitted.saturating_sub(job.scheduled).as_micros()).unwrap_or(u64::MAX);
        counters.send_delay_max_us.fetch_max(delay_us, Ordering::Relaxed);
        records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())[job.index].submitted =
            Some(submitted);
        match connection.send(&job.request).await {
            Ok((202, _)) => {
                counters.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Ok((status, body)) => {
                let mut refused = counters.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let entry =
                    refused.entry(status).or_insert_with(|| (0, String::from_utf8_lossy(&body).into()));
                entry.0 += 1;
            }
            Err(error) => {
                if counters.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("tally-bench: first send error: {error:#}");
                }
            }
        }
    }
}

/// Follows committed blocks from `start_height + 1`, stamping each of our transactions with the
/// time its block was seen, until told to stop.
async fn watch_blocks(
    mut connection: Connection,
    start_height: u64,
    ids: HashMap<TxId, usize>,
    records: Arc<Mutex<Vec<TxRecord>>>,
    committed_count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    start: Instant,
) -> Result<()> {
    let mut next = start_height + 1;
    while !stop.load(Ordering::Relaxed) {
        let tip = committed_height(&connection.get_json("/v1/status").await?)?;
        while next <= tip {
            let answer = connection.get_json(&format!("/v1/blocks/{next}")).await?;
            let seen = start.elapsed();
            let block: Block = serde_json::from_value(answer["block"].clone())
                .with_context(|| format!("block {next}: not a block"))?;
            let mut records = records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for tx in block.txs.iter() {
                if let Some(&index) = ids.get(&tx.id())
                    && records[index].committed.is_none()
                {
                    records[index].committed = Some(seen);
                    committed_count.fetch_add(1, Ordering::Relaxed);
                }
            }
            next += 1;
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
    Ok(())
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
    use tally_genesis::init::{TestnetSpec, asset_code_for, build_testnet};
    use tally_genesis::keys::KeySource;
    use tally_ledger::{BlockContext, execute_block};
    use tally_node::bench::SplitMix64;
    use tally_types::archive::{ArchiveHeader, ArchiveWriter};
    use tally_types::block::{receipts_root, tx_root};
    use tally_types::tx::Transfer;
    use tally_types::{
        Amount, AssetId, Block, BoundedBytes, BoundedVec, Certificate, ChainId, Header, Height, MemberId, Op,
        PublicKey, SecretKey, SignedTransaction, Subject, Transaction, ValidatorIndex, View,
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
        let keys = KeySource::seeded(&args.seed.to_le_bytes(), &chain_id)?;
        let senders_count = usize::try_from(args.senders).context("--senders")?;
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
        let genesis = &testnet.genesis;
        let genesis_path = args.genesis_out.clone().unwrap_or_else(|| {
            let mut name = args.out.as_os_str().to_owned();
            name.push(".genesis.json");
            PathBuf::from(name)
        });
        std::fs::write(&genesis_path, genesis.to_json_pretty())
            .with_context(|| format!("writing {}", genesis_path.display()))?;
        let validators = genesis.validator_set();
        let issuer = testnet.issuer_keys[0].1.clone();
        let asset = AssetId::new(asset_code_for(&member)?, member);
        let mut rng = SplitMix64::new(args.seed);
        // Key 0 is the issuer; senders follow.
        let mut signers: Vec<SecretKey> = vec![issuer];
        signers.extend((0..senders_count).map(|_| SecretKey::from_seed(&rng.bytes32())));
        let publics: Vec<PublicKey> = signers.iter().map(SecretKey::public_key).collect();
        let mut seqs = vec![0u64; signers.len()];
        let valid_until = Height(u64::MAX);
        let next_tx = |signer: usize, ops: Vec<Op>, seqs: &mut Vec<u64>| {
            seqs[signer] += 1;
            let tx = Transaction {
                chain_id: chain_id.clone(),
                signer: publics[signer],
                seq: seqs[signer],
                valid_until_height: valid_until,
                ops: BoundedVec::new(ops).expect("at most 16 ops per generated transaction"),
                memo: BoundedBytes::empty(),
            };
            (tx, signer)
        };

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
            let unsigned: Vec<(Transaction, usize)> = if !funded {
                funded = true;
                (1..signers.len())
                    .collect::<Vec<_>>()
                    .chunks(tally_types::limits::TX_OPS_MAX)
                    .map(|chunk| {
                        let ops = chunk
                            .iter()
                            .map(|&to| {
                                Op::Transfer(Transfer {
                                    asset: asset.clone(),
                                    to: publics[to],
                                    amount: Amount(SENDER_FUNDS),
                                })
                            })
                            .collect();
                        next_tx(0, ops, &mut seqs)
                    })
                    .collect()
            } else {
                let count = remaining.min(args.block_txs);
                remaining -= count;
                (0..count)
                    .map(|_| {
                        let sender = 1 + rng.below(args.senders) as usize;
                        let mut receiver = 1 + rng.below(args.senders) as usize;
                        if receiver == sender {
                            receiver = 1 + (receiver % senders_count);
                        }
                        let op = Op::Transfer(Transfer {
                            asset: asset.clone(),
                            to: publics[receiver],
                            amount: Amount(1),
                        });
                        next_tx(sender, vec![op], &mut seqs)
                    })
                    .collect()
            };
            ensure!(unsigned.len() <= tally_types::limits::BLOCK_TXS_MAX, "block {height} is too large");
            let txs = sign_all(unsigned, &signers);
            let time_ms = GENESIS_TIME_MS + height * BLOCK_INTERVAL_MS;
            let context = BlockContext { chain_id: chain_id.clone(), height: Height(height), time_ms };
            let output = execute_block(&state, &context, &txs)?;
            ensure!(
                output.receipts.iter().all(|receipt| receipt.outcome == tally_types::TxOutcome::Success),
                "a generated transaction failed at height {height}"
            );
            let state_root = state.commit(&output.writes)?;
            let ids: Vec<_> = txs.iter().map(SignedTransaction::id).collect();
            let view = View(height);
            let header = Header {
                chain_id: chain_id.clone(),
                height: Height(height),
                view,
                parent_id,
                time_ms,
                proposer: validators.leader(view),
                tx_root: tx_root(&ids),
                receipts_root: receipts_root(&output.receipts),
                state_root,
                validators_hash: validators.hash(),
            };
            let block =
                Block { header, txs: BoundedVec::new(txs).expect("checked against BLOCK_TXS_MAX above") };
            let subject = Subject::Finalize { view, block_id: block.id() };
            let votes: Vec<(ValidatorIndex, _)> = (0..validators.quorum())
                .map(|index| {
                    let key = &testnet.validator_keys[index].consensus;
                    (ValidatorIndex(index as u16), subject.sign(&chain_id, key))
                })
                .collect();
            let certificate = Certificate::from_votes(subject, &votes, validators.len())?;
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
}
