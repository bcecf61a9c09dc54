//! `tally-node export`: writes a node's finalized blocks with their certificates as a portable
//! archive (`tally_types::archive`), for `tally audit` and offline badge verification.
//!
//! Two sources:
//! - `--data DIR`: the node's redb file, opened through `tally-store`. redb lets one process
//!   hold a file at a time, so a running node's file cannot be read this way; that case is
//!   detected and the message points to the second source.
//! - `--node URL`: a running node's HTTP API (`GET /v1/status`, then `GET /v1/blocks/{h}` and
//!   `GET /v1/blocks/{h}/certificate` with `?format=borsh`), up to the committed height seen at
//!   the start. The node keeps running; finalized blocks never change, so the export is
//!   consistent.
//!
//! The archive is written to `FILE.tmp`, synced, and renamed to `FILE`, so `FILE` is either
//! absent or complete. Records are decoded strictly before they are written, so a corrupt
//! store or a misbehaving node fails the export rather than producing a bad archive.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tally_store::{Store, StoreError};
use tally_types::archive::{ArchiveHeader, ArchiveWriter};
use tally_types::codec::Bounded;
use tally_types::{Block, Certificate, ChainId, Height, decode};

/// The store's file name inside a node's data directory (see `engine::store_path`).
pub const STORE_FILE: &str = "node.redb";
/// How often progress is printed.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest status answer read.
const STATUS_BYTES_MAX: usize = 64 * 1024;

/// What an export wrote.
#[derive(Clone, Debug)]
pub struct ExportSummary {
    pub chain_id: ChainId,
    pub blocks: u64,
    pub txs: u64,
    pub bytes: u64,
    pub path: PathBuf,
}

/// Writes the archive to `out.tmp`, fills it with `fill`, syncs, and renames it to `out`.
fn write_atomically(
    out: &Path,
    header: &ArchiveHeader,
    fill: impl FnOnce(&mut ArchiveWriter<BufWriter<File>>) -> anyhow::Result<u64>,
) -> anyhow::Result<ExportSummary> {
    let mut tmp_name = out.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let result = (|| {
        let mut writer = ArchiveWriter::new(BufWriter::with_capacity(1 << 20, file), header)?;
        let txs = fill(&mut writer)?;
        let blocks = writer.records();
        let file = writer.finish()?.into_inner().map_err(|error| error.into_error())?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        Ok::<_, anyhow::Error>((blocks, txs, bytes))
    })();
    let (blocks, txs, bytes) = match result {
        Ok(counts) => counts,
        Err(error) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(error.context(format!("writing {}", tmp.display())));
        }
    };
    std::fs::rename(&tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    Ok(ExportSummary { chain_id: header.chain_id.clone(), blocks, txs, bytes, path: out.to_owned() })
}

/// Prints a progress line to stderr at most every [`PROGRESS_INTERVAL`].
struct ProgressLine {
    last: Instant,
}

impl ProgressLine {
    fn tick(&mut self, height: u64, tip: u64) {
        if self.last.elapsed() >= PROGRESS_INTERVAL {
            self.last = Instant::now();
            eprintln!("export: {height}/{tip} blocks");
        }
    }
}

/// Exports every block of the node data directory `data` (or a redb file path) to `out`.
pub fn export_from_store(data: &Path, out: &Path) -> anyhow::Result<ExportSummary> {
    let path = if data.is_dir() { data.join(STORE_FILE) } else { data.to_owned() };
    let (store, identity) = match Store::open_existing(&path) {
        Ok(opened) => opened,
        Err(StoreError::InUse { path }) => bail!(
            "{} is open in another process (a running node?); redb allows one process per file, so it \
             cannot be exported while the node runs. Export the running node over its HTTP API instead: \
             `tally-node export --node http://HOST:PORT --out {}`, or stop the node first",
            path.display(),
            out.display()
        ),
        Err(error) => return Err(error).context("opening the node's data file"),
    };
    let tip = store.height()?;
    let header = ArchiveHeader { chain_id: identity.chain_id, genesis_hash: identity.genesis_hash };
    let mut progress = ProgressLine { last: Instant::now() };
    write_atomically(out, &header, |writer| {
        let mut txs = 0u64;
        for height in 1..=tip.0 {
            let height = Height(height);
            let block =
                store.block(height)?.with_context(|| format!("the store has no block at height {height}"))?;
            let certificate = store
                .certificate(height)?
                .with_context(|| format!("the store has no certificate for height {height}"))?;
            ensure!(
                block.header.height == height,
                "the store's block {height} says height {}",
                block.header.height
            );
            writer.append(&block, &certificate)?;
            txs += block.txs.len() as u64;
            progress.tick(height.0, tip.0);
        }
        Ok(txs)
    })
}

/// A small blocking HTTP reader for the node's API.
struct NodeReader {
    base_url: String,
    agent: ureq::Agent,
}

impl NodeReader {
    fn new(url: &str) -> anyhow::Result<Self> {
        let base_url = url.trim_end_matches('/').to_owned();
        ensure!(
            base_url.strip_prefix("http://").is_some_and(|host| !host.is_empty() && !host.contains('/')),
            "--node `{url}` must be http://HOST:PORT"
        );
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(NodeReader { base_url, agent })
    }

    fn get(&self, path: &str, limit: usize) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}{path}", self.base_url);
        let mut response = self.agent.get(&url).call().with_context(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(limit as u64 + 1)
            .read_to_vec()
            .with_context(|| format!("GET {url}: reading the answer"))?;
        if status != 200 {
            bail!("GET {url}: HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
        }
        ensure!(body.len() <= limit, "GET {url}: answer larger than {limit} bytes");
        Ok(body)
    }

    fn decoded<T>(&self, path: &str) -> anyhow::Result<T>
    where
        T: borsh::BorshDeserialize + borsh::BorshSerialize + Bounded,
    {
        let bytes = self.get(path, T::MAX_ENCODED_SIZE)?;
        decode::<T>(&bytes).with_context(|| format!("GET {path}: the answer does not decode"))
    }
}

/// Exports a running node's finalized blocks, up to its committed height at the start, over
/// its HTTP API.
pub fn export_from_node(url: &str, out: &Path) -> anyhow::Result<ExportSummary> {
    let node = NodeReader::new(url)?;
    let status: serde_json::Value = serde_json::from_slice(&node.get("/v1/status", STATUS_BYTES_MAX)?)
        .context("GET /v1/status: not JSON")?;
    let chain_id: ChainId =
        serde_json::from_value(status["chain_id"].clone()).context("GET /v1/status: no valid `chain_id`")?;
    let tip = status["committed_height"].as_u64().context("GET /v1/status: no `committed_height`")?;
    ensure!(tip > 0, "the node has committed no block yet; there is nothing to export");
    // The genesis hash is block 1's parent: the node does not serve the genesis file, and the
    // auditor checks this hash against the genesis file it is given.
    let first: Block = node.decoded("/v1/blocks/1?format=borsh")?;
    let header = ArchiveHeader { chain_id, genesis_hash: first.header.parent_id.0 };
    let mut progress = ProgressLine { last: Instant::now() };
    write_atomically(out, &header, |writer| {
        let mut txs = 0u64;
        let mut next = Some(first);
        for height in 1..=tip {
            let block = match next.take() {
                Some(block) => block,
                None => node.decoded(&format!("/v1/blocks/{height}?format=borsh"))?,
            };
            ensure!(
                block.header.height.0 == height,
                "the node's block {height} says height {}",
                block.header.height
            );
            let certificate: Certificate =
                node.decoded(&format!("/v1/blocks/{height}/certificate?format=borsh"))?;
            writer.append(&block, &certificate)?;
            txs += block.txs.len() as u64;
            progress.tick(height, tip);
        }
        Ok(txs)
    })
}

#[cfg(test)]
mod tests {
    use tally_store::{BlockCommit, ChainIdentity};
    use tally_types::archive::ArchiveReader;
    use tally_types::{BlockId, BoundedVec, Hash, Header, Signature, Subject, ValidatorIndex, View};

    use super::*;

    fn identity() -> ChainIdentity {
        ChainIdentity { chain_id: ChainId::new("tally-export").expect("valid"), genesis_hash: Hash([3; 32]) }
    }

    /// A store holding `count` empty blocks (the export copies; it does not verify).
    fn store_with_blocks(path: &Path, count: u64) -> (Store, Vec<(Block, Certificate)>) {
        let store = Store::open(path, &identity()).expect("new store");
        let mut parent = BlockId(identity().genesis_hash);
        let mut written = Vec::new();
        for height in 1..=count {
            let block = Block {
                header: Header {
                    chain_id: identity().chain_id,
                    height: Height(height),
                    view: View(height),
                    parent_id: parent,
                    time_ms: height,
                    proposer: ValidatorIndex(0),
                    tx_root: tally_types::block::tx_root(&[]),
                    receipts_root: tally_types::block::receipts_root(&[]),
                    state_root: Hash::ZERO,
                    validators_hash: Hash::ZERO,
                },
                txs: BoundedVec::empty(),
            };
            let subject = Subject::Finalize { view: View(height), block_id: block.id() };
            let votes: Vec<_> = (0..3u16).map(|i| (ValidatorIndex(i), Signature([i as u8; 64]))).collect();
            let certificate = Certificate::from_votes(subject, &votes, 4).expect("arranged");
            store
                .commit_block(&BlockCommit {
                    block: &block,
                    certificate: &certificate,
                    receipts: &[],
                    state_writes: &[],
                    tree_writes: &[],
                })
                .expect("commit");
            parent = block.id();
            written.push((block, certificate));
        }
        (store, written)
    }

    #[test]
    fn exports_every_block_of_a_stopped_node_and_refuses_a_running_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, written) = store_with_blocks(&dir.path().join(STORE_FILE), 3);
        let out = dir.path().join("chain.archive");

        // While the store is open (as in a running node) the export says why it cannot, and
        // points to the HTTP export; no archive or temporary file is left behind.
        let error = export_from_store(dir.path(), &out).expect_err("the file is in use");
        let message = format!("{error:#}");
        assert!(message.contains("--node"), "{message}");
        assert!(!out.exists());

        drop(store);
        let summary = export_from_store(dir.path(), &out).expect("export");
        assert_eq!((summary.blocks, summary.txs), (3, 0));
        assert!(!dir.path().join("chain.archive.tmp").exists());
        let reader = ArchiveReader::new(std::fs::File::open(&out).expect("archive")).expect("header");
        assert_eq!(reader.header().chain_id, identity().chain_id);
        assert_eq!(reader.header().genesis_hash, identity().genesis_hash);
        let records: Vec<_> = reader.collect::<Result<_, _>>().expect("records");
        assert_eq!(records.len(), 3);
        for (record, (block, certificate)) in records.iter().zip(&written) {
            assert_eq!((&record.block, &record.certificate), (block, certificate));
        }
    }

    #[test]
    fn a_missing_data_file_is_not_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = export_from_store(dir.path(), &dir.path().join("out")).expect_err("no data file");
        assert!(format!("{error:#}").contains("no such data file"), "{error:#}");
        assert!(!dir.path().join(STORE_FILE).exists());
    }
}
