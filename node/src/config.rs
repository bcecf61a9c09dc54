//! The node's configuration: one TOML file per node (docs/ARCHITECTURE.md "Engine"), next to the genesis file.
//!
//! Every value is checked once, at start, and every problem is reported with the name of its
//! field (`http.listen: ...`), all at once, so an operator fixes the file in one pass. Relative
//! paths are taken relative to the folder of the configuration file, so a node folder can be
//! moved as a whole.
//!
//! ```toml
//! [node]
//! data_dir = "data"
//! genesis = "../genesis.json"
//! consensus_key = "consensus.key"      # leave out for a full node (follows, does not vote)
//! network_key = "network.key"
//!
//! [network]
//! listen = "/ip4/127.0.0.1/tcp/27000"   # default: this validator's p2p_listen in genesis
//! observers = []                         # peer ids allowed to connect besides validators
//!
//! [http]
//! listen = "127.0.0.1:28000"            # default: this validator's http_listen in genesis
//! cors_origins = []                      # browser origins allowed to call the API; ["*"]: any
//! header_read_timeout_ms = 10000        # a connection that sends no whole request head in this time is closed (idle ones too)
//! body_read_timeout_ms = 30000          # a request body not received in this time gets 408
//! connections_max = 1024                # connections served at once; one more gets 503
//!
//! [mempool]
//! txs_max = 100000
//!
//! [engine]
//! build_ms_max = 500                    # default: half of genesis's timeout_propose_ms; 0: off
//!
//! [log]
//! format = "human"                      # or "json"
//! level = "info"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tally_net::{Multiaddr, PeerId};

use crate::http_server::HttpLimits;
use crate::mempool::MempoolConfig;

/// Largest configuration file read, so a wrong path cannot make the node read a huge file.
const CONFIG_BYTES_MAX: u64 = 1024 * 1024;

/// The largest `engine.build_ms_max`: a block that takes longer to build misses every timeout.
const BUILD_MS_MAX_LIMIT: u64 = 60_000;

/// One problem in the configuration, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("configuration file {path} is not valid TOML for a Tally node: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error("configuration file {path} has {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid { path: PathBuf, problems: Vec<Problem> },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node: RawNode,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    mempool: RawMempool,
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    log: RawLog,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    data_dir: PathBuf,
    genesis: PathBuf,
    /// Absent: a full node, which follows the chain without voting.
    consensus_key: Option<PathBuf>,
    network_key: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    listen: Option<String>,
    #[serde(default)]
    observers: Vec<String>,
    redial_interval_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    invalid_messages_max: Option<u64>,
    penalty_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
    body_bytes_max: Option<usize>,
    wait_timeout_ms: Option<u64>,
    #[serde(default)]
    cors_origins: Vec<String>,
    header_read_timeout_ms: Option<u64>,
    body_read_timeout_ms: Option<u64>,
    connections_max: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMempool {
    txs_max: Option<usize>,
    bytes_max: Option<usize>,
    per_account_max: Option<usize>,
    seq_ahead_max: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    build_ms_max: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// A validated node configuration. Paths are absolute or relative to the working directory.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub genesis: PathBuf,
    /// `None`: a full node (no votes, no proposals; it follows the validators).
    pub consensus_key: Option<PathBuf>,
    pub network_key: PathBuf,
    /// `None`: use this validator's address from genesis.
    pub p2p_listen: Option<Multiaddr>,
    pub observers: Vec<PeerId>,
    pub redial_interval_ms: u64,
    pub idle_timeout_ms: u64,
    pub request_timeout_ms: u64,
    /// Invalid gossip messages a peer may forward within 10 s before it is disconnected and
    /// refused for `penalty_ms`.
    pub invalid_messages_max: u32,
    pub penalty_ms: u64,
    /// `None`: use this validator's address from genesis.
    pub http_listen: Option<SocketAddr>,
    pub http_body_bytes_max: usize,
    pub http_wait_timeout_ms: u64,
    /// Origins whose pages may call the API from a browser (CORS): empty for none, `*` for any,
    /// else exact origins such as `https://explorer.example.org`.
    pub http_cors_origins: Vec<String>,
    /// Timeouts and the connection limit of the HTTP server ([`crate::http_server`]).
    pub http_limits: HttpLimits,
    pub mempool: MempoolConfig,
    /// The wall time a leader aims to spend building a block (`Some(0)`: no time limit, blocks
    /// are limited by count and bytes only). `None`: half of genesis's propose timeout.
    pub build_ms_max: Option<u64>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// `tally-node run --recreate-lost-sign-state`: the key's sign state is lost and the
    /// operator vouches that the key signed nothing beyond what this data directory holds;
    /// the node recreates it from the WAL and the store's tip (never set by the file).
    pub recreate_lost_sign_state: bool,
}

impl NodeConfig {
    /// Reads and validates the configuration at `path`.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let read_error = |reason: String| ConfigError::Read { path: path.to_path_buf(), reason };
        let metadata = std::fs::metadata(path).map_err(|error| read_error(error.to_string()))?;
        if metadata.len() > CONFIG_BYTES_MAX {
            return Err(read_error(format!(
                "{} bytes, more than the limit of {CONFIG_BYTES_MAX}",
                metadata.len()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|error| read_error(error.to_string()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base).map_err(|error| match error {
            ParseError::Syntax(reason) => ConfigError::Syntax { path: path.to_path_buf(), reason },
            ParseError::Invalid(problems) => ConfigError::Invalid { path: path.to_path_buf(), problems },
        })
    }

    /// Parses and validates TOML text; relative paths are resolved against `base`. Every
    /// section is checked, and all problems are reported together, in file order.
    pub fn parse(text: &str, base: &Path) -> Result<NodeConfig, ParseError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ParseError::Syntax(error.to_string()))?;
        let mut problems = Problems::default();
        let resolve = |path: &Path| if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
        check_paths(&raw.node, &resolve, &mut problems);
        let network = parse_network(&raw.network, &mut problems);
        let http = parse_http(&raw.http, &mut problems);
        let mempool = parse_mempool(&raw.mempool, &mut problems);
        let build_ms_max = raw.engine.build_ms_max;
        if let Some(ms) = build_ms_max.filter(|ms| *ms > BUILD_MS_MAX_LIMIT) {
            problems.add(
                "engine.build_ms_max",
                format!(
                    "{ms} ms is longer than any view may take ({BUILD_MS_MAX_LIMIT} ms); 0 turns the limit off"
                ),
            );
        }
        let (log_format, log_level) = parse_log(raw.log, &mut problems);
        if !problems.0.is_empty() {
            return Err(ParseError::Invalid(problems.0));
        }
        Ok(NodeConfig {
            data_dir: resolve(&raw.node.data_dir),
            genesis: resolve(&raw.node.genesis),
            consensus_key: raw.node.consensus_key.as_deref().map(resolve),
            network_key: resolve(&raw.node.network_key),
            p2p_listen: network.listen,
            observers: network.observers,
            redial_interval_ms: network.redial_interval_ms,
            idle_timeout_ms: network.idle_timeout_ms,
            request_timeout_ms: network.request_timeout_ms,
            invalid_messages_max: network.invalid_messages_max,
            penalty_ms: network.penalty_ms,
            http_listen: http.listen,
            http_body_bytes_max: http.body_bytes_max,
            http_wait_timeout_ms: http.wait_timeout_ms,
            http_cors_origins: http.cors_origins,
            http_limits: http.limits,
            mempool,
            build_ms_max,
            log_format,
            log_level,
            recreate_lost_sign_state: false,
        })
    }
}

/// The problems found so far, in the order the checks ran.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, field: &str, message: String) {
        self.0.push(Problem { field: field.into(), message });
    }

    /// `value`, or `default` when absent; zero or above `max` is a problem (and gives `default`).
    fn positive(&mut self, field: &str, value: Option<u64>, default: u64, max: u64) -> u64 {
        match value {
            None => default,
            Some(0) => {
                self.add(field, "must be positive".into());
                default
            }
            Some(v) if v > max => {
                self.add(field, format!("{v} is above the maximum of {max}"));
                default
            }
            Some(v) => v,
        }
    }
}

/// `[node]`: no path is empty, and the files (all but the data directory) exist.
fn check_paths(node: &RawNode, resolve: &dyn Fn(&Path) -> PathBuf, problems: &mut Problems) {
    let mut paths = vec![
        ("node.data_dir", &node.data_dir),
        ("node.genesis", &node.genesis),
        ("node.network_key", &node.network_key),
    ];
    if let Some(consensus_key) = &node.consensus_key {
        paths.push(("node.consensus_key", consensus_key));
    }
    for (field, path) in &paths {
        if path.as_os_str().is_empty() {
            problems.add(field, "must not be empty".into());
        }
    }
    for (field, path) in paths.iter().filter(|(field, _)| *field != "node.data_dir") {
        let full = resolve(path);
        if !path.as_os_str().is_empty() && !full.is_file() {
            problems.add(field, format!("{} is not a readable file", full.display()));
        }
    }
}

/// `[network]`, checked.
struct NetworkSection {
    listen: Option<Multiaddr>,
    observers: Vec<PeerId>,
    redial_interval_ms: u64,
    idle_timeout_ms: u64,
    request_timeout_ms: u64,
    invalid_messages_max: u32,
    penalty_ms: u64,
}

fn parse_network(network: &RawNetwork, problems: &mut Problems) -> NetworkSection {
    let listen = network.listen.as_ref().and_then(|text| match text.parse::<Multiaddr>() {
        Ok(addr) => Some(addr),
        Err(error) => {
            problems.add(
                "network.listen",
                format!("`{text}` is not a multiaddr ({error}); e.g. /ip4/127.0.0.1/tcp/27000"),
            );
            None
        }
    });
    let mut observers = Vec::new();
    for (index, text) in network.observers.iter().enumerate() {
        match text.parse::<PeerId>() {
            Ok(peer) if observers.contains(&peer) => {
                problems.add(&format!("network.observers[{index}]"), format!("`{text}` is listed twice"))
            }
            Ok(peer) => observers.push(peer),
            Err(error) => problems
                .add(&format!("network.observers[{index}]"), format!("`{text}` is not a peer id ({error})")),
        }
    }
    NetworkSection {
        listen,
        observers,
        redial_interval_ms: problems.positive(
            "network.redial_interval_ms",
            network.redial_interval_ms,
            1_000,
            600_000,
        ),
        idle_timeout_ms: problems.positive(
            "network.idle_timeout_ms",
            network.idle_timeout_ms,
            3_600_000,
            86_400_000,
        ),
        request_timeout_ms: problems.positive(
            "network.request_timeout_ms",
            network.request_timeout_ms,
            10_000,
            600_000,
        ),
        invalid_messages_max: problems.positive(
            "network.invalid_messages_max",
            network.invalid_messages_max,
            100,
            1_000_000,
        ) as u32,
        penalty_ms: problems.positive("network.penalty_ms", network.penalty_ms, 60_000, 86_400_000),
    }
}

/// `[http]`, checked.
struct HttpSection {
    listen: Option<SocketAddr>,
    body_bytes_max: usize,
    wait_timeout_ms: u64,
    cors_origins: Vec<String>,
    limits: HttpLimits,
}

fn parse_http(http: &RawHttp, problems: &mut Problems) -> HttpSection {
    let wait_timeout_ms = problems.positive("http.wait_timeout_ms", http.wait_timeout_ms, 30_000, 600_000);
    let body_bytes_max = problems.positive(
        "http.body_bytes_max",
        http.body_bytes_max.map(|v| v as u64),
        1024 * 1024,
        64 * 1024 * 1024,
    ) as usize;
    if body_bytes_max < 2 * tally_types::limits::TX_BYTES_MAX {
        problems.add(
            "http.body_bytes_max",
            format!(
                "{body_bytes_max} cannot hold one transaction as JSON (at least {})",
                2 * tally_types::limits::TX_BYTES_MAX
            ),
        );
    }
    let listen = http.listen.as_ref().and_then(|text| match text.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(error) => {
            problems
                .add("http.listen", format!("`{text}` is not an address ({error}); e.g. 127.0.0.1:28000"));
            None
        }
    });
    let cors_origins = http.cors_origins.clone();
    for origin in &cors_origins {
        let well_formed = origin == "*"
            || ((origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && origin.len() <= 256
                && origin.bytes().all(|byte| byte.is_ascii_graphic()));
        if !well_formed {
            problems.add(
                "http.cors_origins",
                format!(
                    "`{origin}` is not an origin; write `*` or scheme://host[:port] without a path, e.g. https://explorer.example.org"
                ),
            );
        }
    }
    if cors_origins.len() > 1 && cors_origins.iter().any(|origin| origin == "*") {
        problems.add("http.cors_origins", "`*` allows every origin; list it alone".into());
    }
    let limits = HttpLimits {
        header_read_timeout: Duration::from_millis(problems.positive(
            "http.header_read_timeout_ms",
            http.header_read_timeout_ms,
            10_000,
            600_000,
        )),
        body_read_timeout: Duration::from_millis(problems.positive(
            "http.body_read_timeout_ms",
            http.body_read_timeout_ms,
            30_000,
            600_000,
        )),
        connections_max: problems.positive("http.connections_max", http.connections_max, 1_024, 100_000)
            as usize,
    };
    HttpSection { listen, body_bytes_max, wait_timeout_ms, cors_origins, limits }
}

/// `[mempool]` over the defaults, checked by [`MempoolConfig::validate`].
fn parse_mempool(raw: &RawMempool, problems: &mut Problems) -> MempoolConfig {
    let defaults = MempoolConfig::default();
    let mempool = MempoolConfig {
        txs_max: raw.txs_max.unwrap_or(defaults.txs_max),
        bytes_max: raw.bytes_max.unwrap_or(defaults.bytes_max),
        per_account_max: raw.per_account_max.unwrap_or(defaults.per_account_max),
        seq_ahead_max: raw.seq_ahead_max.unwrap_or(defaults.seq_ahead_max),
        verified_cache_max: defaults.verified_cache_max,
    };
    if let Err(message) = mempool.validate() {
        // MempoolConfig names its own field (`mempool.txs_max must ...`).
        let field = message.split_whitespace().next().unwrap_or("mempool").to_owned();
        problems.add(&field, message);
    }
    mempool
}

/// `[log]`: the format and the level.
fn parse_log(log: RawLog, problems: &mut Problems) -> (LogFormat, String) {
    let format = match log.format.as_deref() {
        None | Some("human") => LogFormat::Human,
        Some("json") => LogFormat::Json,
        Some(other) => {
            problems.add("log.format", format!("`{other}` is not one of: human, json"));
            LogFormat::Human
        }
    };
    let level = log.level.unwrap_or_else(|| "info".into());
    if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
        problems.add("log.level", format!("`{level}` is not one of: error, warn, info, debug, trace"));
    }
    (format, level)
}

/// Why configuration text was refused (without a file name; [`NodeConfig::load`] adds it).
#[derive(Debug)]
pub enum ParseError {
    Syntax(String),
    Invalid(Vec<Problem>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in ["genesis.json", "consensus.key", "network.key"] {
            std::fs::write(dir.path().join(file), b"x").expect("write");
        }
        dir
    }

    const MINIMAL: &str = r#"
        [node]
        data_dir = "data"
        genesis = "genesis.json"
        consensus_key = "consensus.key"
        network_key = "network.key"
    "#;

    fn problems(text: &str, base: &Path) -> Vec<String> {
        match NodeConfig::parse(text, base) {
            Err(ParseError::Invalid(problems)) => problems.iter().map(|p| p.to_string()).collect(),
            Err(ParseError::Syntax(reason)) => vec![format!("syntax: {reason}")],
            Ok(_) => vec![],
        }
    }

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let dir = folder();
        let config = NodeConfig::parse(MINIMAL, dir.path()).expect("valid");
        assert_eq!(config.data_dir, dir.path().join("data"));
        assert_eq!(config.log_format, LogFormat::Human);
        assert_eq!(config.http_listen, None);
        assert_eq!(config.mempool.txs_max, MempoolConfig::default().txs_max);
        assert_eq!(config.build_ms_max, None, "the build limit follows genesis unless set");
        let set = NodeConfig::parse(&format!("{MINIMAL}\n[engine]\nbuild_ms_max = 0\n"), dir.path())
            .expect("valid");
        assert_eq!(set.build_ms_max, Some(0));
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let dir = folder();
        let text = format!(
            "{MINIMAL}\n[network]\nlisten = \"not-an-addr\"\nobservers = [\"xyz\"]\nredial_interval_ms = 0\n\
             [http]\nlisten = \"localhost\"\nbody_bytes_max = 10\nheader_read_timeout_ms = 0\nbody_read_timeout_ms = 600001\nconnections_max = 0\n[mempool]\ntxs_max = 0\n[engine]\nbuild_ms_max = 60001\n[log]\nformat = \"xml\"\nlevel = \"loud\"\n"
        );
        let found = problems(&text, dir.path());
        for field in [
            "network.listen",
            "network.observers[0]",
            "network.redial_interval_ms",
            "http.listen",
            "http.body_bytes_max",
            "http.header_read_timeout_ms",
            "http.body_read_timeout_ms",
            "http.connections_max",
            "mempool.txs_max",
            "engine.build_ms_max",
            "log.format",
            "log.level",
        ] {
            assert!(found.iter().any(|p| p.starts_with(field)), "no problem for {field}: {found:#?}");
        }
    }

    #[test]
    fn cors_origins_are_checked() {
        let dir = folder();
        let config = NodeConfig::parse(MINIMAL, dir.path()).expect("valid");
        assert!(config.http_cors_origins.is_empty(), "no CORS unless configured");
        let limits = &config.http_limits;
        assert_eq!(
            (
                limits.header_read_timeout.as_millis(),
                limits.body_read_timeout.as_millis(),
                limits.connections_max
            ),
            (10_000, 30_000, 1_024),
            "the documented defaults"
        );
        let set = NodeConfig::parse(
            &format!("{MINIMAL}\n[http]\ncors_origins = [\"https://explorer.example.org\", \"http://127.0.0.1:8080\"]\n"),
            dir.path(),
        )
        .expect("valid");
        assert_eq!(set.http_cors_origins.len(), 2);
        for bad in
            ["[\"explorer.example.org\"]", "[\"https://a.example/\"]", "[\"*\", \"https://a.example\"]"]
        {
            let found = problems(&format!("{MINIMAL}\n[http]\ncors_origins = {bad}\n"), dir.path());
            assert!(found.iter().any(|p| p.starts_with("http.cors_origins")), "{bad}: {found:?}");
        }
    }

    #[test]
    fn missing_files_and_unknown_fields_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let found = problems(MINIMAL, dir.path());
        assert!(
            found.iter().any(|p| p.starts_with("node.genesis") && p.contains("genesis.json")),
            "{found:?}"
        );
        assert!(found.iter().any(|p| p.starts_with("node.consensus_key")), "{found:?}");
        let found = problems(&format!("{MINIMAL}\nsurprise = 1\n"), folder().path());
        assert!(found[0].contains("surprise"), "{found:?}");
    }

    #[test]
    fn load_names_the_file() {
        let dir = folder();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "[node]\n").expect("write");
        let error = NodeConfig::load(&path).expect_err("incomplete");
        assert!(error.to_string().contains("node.toml"), "{error}");
        let error = NodeConfig::load(&dir.path().join("absent.toml")).expect_err("absent");
        assert!(error.to_string().contains("absent.toml"), "{error}");
    }
}
