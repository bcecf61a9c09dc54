//! Validation of genesis JSON: every problem, each at its field path.
//!
//! Three passes over a tree that keeps duplicate keys (`json.rs`):
//! 1. structure and fields: each object has exactly its known fields, once; each value has
//!    the right JSON type and parses into its typed form (ids, keys, addresses, amounts);
//! 2. cross-field rules over whatever parsed: counts (n ≥ 4), uniqueness (members,
//!    assets, validator names, every key across all roles, listen endpoints), references
//!    (a validator's member, an asset's issuer, a balance's asset), supply caps, parameters;
//! 3. if nothing is wrong so far, the ledger's own genesis check (`genesis_writes`), so that
//!    a document this crate accepts is one the ledger accepts.
//!
//! A field that fails pass 1 is left out of pass 2 rather than reported twice. The typed
//! [`Genesis`] is assembled only when no problem was found.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use tally_types::tx::AssetFlags;
use tally_types::{Amount, AssetId, ChainId, MemberId, PublicKey, ValidatorSet};

use crate::error::{GenesisError, ParseError, Problems};
use crate::json::{self, Node};
use crate::limits;
use tally_types::governance::Threshold;

use crate::schema::{
    AssetEntry, BalanceEntry, ConsensusParams, Genesis, MemberEntry, PartialParams, ValidatorEntry,
    param_problems,
};

const DOCUMENT_FIELDS: &[&str] = &[
    "format_version",
    "chain_id",
    "genesis_time_ms",
    "consensus",
    "validators",
    "members",
    "assets",
    "balances",
    "governance_threshold",
];
const THRESHOLD_FIELDS: &[&str] = &["numerator", "denominator"];
const CONSENSUS_FIELDS: &[&str] =
    &["timeout_propose_ms", "timeout_notarize_ms", "timeout_max_ms", "block_txs_max", "block_bytes_max"];
const VALIDATOR_FIELDS: &[&str] =
    &["name", "member", "consensus_key", "network_key", "p2p_listen", "http_listen"];
const MEMBER_FIELDS: &[&str] = &["id", "name", "issuers"];
const ASSET_FIELDS: &[&str] = &["asset", "scale", "max_supply", "flags"];
const BALANCE_FIELDS: &[&str] = &["account", "asset", "amount"];

/// Reading and parsing live here, beside the checks they run, so that the document's types
/// (`schema`) depend on nothing that depends on them.
impl Genesis {
    /// Reads and validates a genesis file. Every error names the file; an invalid document
    /// lists every problem found, each with its field path.
    pub fn load(path: impl AsRef<Path>) -> Result<Genesis, GenesisError> {
        let path = path.as_ref();
        let read_error = |error| GenesisError::Read { path: path.to_owned(), error };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let size_bytes = file.metadata().map_err(read_error)?.len();
        if size_bytes > limits::GENESIS_FILE_BYTES_MAX {
            return Err(GenesisError::TooLarge { path: path.to_owned(), size_bytes });
        }
        // Read through a limit as well: the file may grow between the check and the read.
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(file, limits::GENESIS_FILE_BYTES_MAX + 1),
            &mut text,
        )
        .map_err(read_error)?;
        if text.len() as u64 > limits::GENESIS_FILE_BYTES_MAX {
            return Err(GenesisError::TooLarge { path: path.to_owned(), size_bytes: text.len() as u64 });
        }
        Genesis::from_json(&text).map_err(|error| GenesisError::Parse { path: path.to_owned(), error })
    }

    /// Parses and validates genesis JSON text.
    pub fn from_json(text: &str) -> Result<Genesis, ParseError> {
        parse_genesis(text)
    }
}

/// Parses and validates genesis JSON.
pub(crate) fn parse_genesis(text: &str) -> Result<Genesis, ParseError> {
    let root = json::parse(text).map_err(|error| ParseError::Syntax {
        line: error.line(),
        column: error.column(),
        message: message_without_position(&error),
    })?;
    let mut problems = Problems::default();
    let draft = read_document(&mut problems, &root);
    check_document(&mut problems, &draft);
    if problems.is_empty() {
        check_with_ledger(&mut problems, &draft);
    }
    if !problems.is_empty() {
        return Err(ParseError::Invalid(problems));
    }
    match draft.assemble() {
        Some(genesis) => Ok(genesis),
        None => {
            // Every field left empty by pass 1 was reported there, so this is unreachable
            // unless a reader forgets to report; say so rather than panic on operator input.
            problems.report("genesis", "internal error: a field failed to parse without a reported problem");
            Err(ParseError::Invalid(problems))
        }
    }
}

/// serde_json appends " at line L column C" to its messages; the position is kept separately.
fn message_without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).map(str::to_owned).unwrap_or(text)
}

// ---------------------------------------------------------------------------------------------
// Pass 1: structure, types, and typed parsing of each field.

/// The fields of one JSON object, consumed by name; what is left at the end is unknown or
/// repeated.
struct Fields<'a> {
    path: String,
    members: &'a [(String, Node)],
    taken: Vec<bool>,
}

impl<'a> Fields<'a> {
    fn open(problems: &mut Problems, path: &str, node: &'a Node) -> Option<Self> {
        match node {
            Node::Object(members) => {
                Some(Fields { path: path.to_owned(), members, taken: vec![false; members.len()] })
            }
            other => {
                problems.report(display_path(path), format!("expected an object, got {}", other.kind()));
                None
            }
        }
    }

    /// The value of optional field `name`, with its path, if present.
    fn optional(&mut self, name: &str) -> Option<(&'a Node, String)> {
        let path = join(&self.path, name);
        let index = self.members.iter().position(|(key, _)| key == name)?;
        self.taken[index] = true;
        Some((&self.members[index].1, path))
    }

    /// The value of required field `name`, with its path; reports a missing field.
    fn required(&mut self, problems: &mut Problems, name: &str) -> Option<(&'a Node, String)> {
        let path = join(&self.path, name);
        let position = self.members.iter().position(|(key, _)| key == name);
        match position {
            Some(index) => {
                self.taken[index] = true;
                Some((&self.members[index].1, path))
            }
            None => {
                problems.report(path, "missing field");
                None
            }
        }
    }

    /// Reports every member not taken: a known name seen again is a duplicate key (two readers
    /// could disagree on which one counts), anything else is an unknown field.
    fn close(self, problems: &mut Problems, known: &[&str]) {
        for (index, (key, _)) in self.members.iter().enumerate() {
            if self.taken[index] {
                continue;
            }
            let path = join(&self.path, key);
            if known.contains(&key.as_str()) {
                problems.report(path, "duplicate key");
            } else {
                problems.report(path, format!("unknown field (expected one of: {})", known.join(", ")));
            }
        }
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "(document)" } else { path }
}

fn string<'a>(problems: &mut Problems, path: &str, node: &'a Node) -> Option<&'a str> {
    match node {
        Node::String(text) => Some(text),
        other => {
            problems.report(path, format!("expected a string, got {}", other.kind()));
            None
        }
    }
}

/// A whole number in `0..=max`.
fn unsigned(problems: &mut Problems, path: &str, node: &Node, max: u64) -> Option<u64> {
    let Node::Number(number) = node else {
        problems.report(path, format!("expected a whole number, got {}", node.kind()));
        return None;
    };
    match number.as_u64() {
        Some(value) if value <= max => Some(value),
        Some(value) => {
            problems.report(path, format!("{value} is above the maximum of {max}"));
            None
        }
        None => {
            problems.report(path, format!("expected a whole number in 0..={max}, got {number}"));
            None
        }
    }
}

/// A string parsed with `FromStr`; the parse error becomes the message.
fn parsed<T>(problems: &mut Problems, path: &str, node: &Node) -> Option<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = string(problems, path, node)?;
    match text.parse() {
        Ok(value) => Some(value),
        Err(error) => {
            problems.report(path, error);
            None
        }
    }
}

/// An account or consensus key in address form (`tally1...`). Hex is refused: one spelling per
/// key keeps documents comparable by eye and by diff.
fn address(problems: &mut Problems, path: &str, node: &Node) -> Option<PublicKey> {
    let text = string(problems, path, node)?;
    match PublicKey::from_address(text) {
        Ok(key) => Some(key),
        Err(error) => {
            if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.report(path, "must be an address (tally1...), not hex");
            } else {
                problems.report(path, error);
            }
            None
        }
    }
}

/// A list of at most `max` items. A longer one is reported and not walked, so the work done
/// on a hostile file stays bounded.
fn array<'a>(problems: &mut Problems, path: &str, node: &'a Node, max: usize) -> Option<&'a [Node]> {
    match node {
        Node::Array(items) if items.len() <= max => Some(items),
        Node::Array(items) => {
            problems.report(path, format!("{} items, more than the limit of {max}", items.len()));
            None
        }
        other => {
            problems.report(path, format!("expected an array, got {}", other.kind()));
            None
        }
    }
}

/// Minor units: a string of digits (the JSON form of `Amount`, shared with the whole API).
fn amount(problems: &mut Problems, path: &str, node: &Node) -> Option<Amount> {
    let text = string(problems, path, node)?;
    let deserializer: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.into_deserializer();
    match Amount::deserialize(deserializer) {
        Ok(value) => Some(value),
        Err(error) => {
            problems.report(path, error);
            None
        }
    }
}

#[derive(Default)]
struct DocumentDraft {
    format_version: Option<u32>,
    chain_id: Option<ChainId>,
    genesis_time_ms: Option<u64>,
    consensus: Option<ConsensusParams>,
    /// `None` when the list itself is unusable (wrong type, too long); its items otherwise.
    validators: Option<Vec<ValidatorDraft>>,
    members: Option<Vec<MemberDraft>>,
    assets: Option<Vec<AssetDraft>>,
    balances: Option<Vec<BalanceDraft>>,
    /// `Some(None)` when the field is absent (the default), `None` when it is unusable.
    governance_threshold: Option<Option<Threshold>>,
}

#[derive(Default)]
struct ValidatorDraft {
    name: Option<String>,
    member: Option<MemberId>,
    consensus_key: Option<PublicKey>,
    network_key: Option<PublicKey>,
    p2p_listen: Option<(String, Endpoint)>,
    http_listen: Option<SocketAddr>,
}

#[derive(Default)]
struct MemberDraft {
    id: Option<MemberId>,
    name: Option<String>,
    /// `None` when the list is unusable; each issuer otherwise (`None` where one failed).
    issuers: Option<Vec<Option<PublicKey>>>,
}

#[derive(Default)]
struct AssetDraft {
    asset: Option<AssetId>,
    scale: Option<u8>,
    /// `Some(None)` is an explicit `null`: no cap.
    max_supply: Option<Option<Amount>>,
    flags: Option<AssetFlags>,
}

#[derive(Default)]
struct BalanceDraft {
    account: Option<PublicKey>,
    asset: Option<AssetId>,
    amount: Option<Amount>,
}

// Not split: one short block per top-level field of the document, in the schema's order.
fn read_document(problems: &mut Problems, root: &Node) -> DocumentDraft {
    let mut draft = DocumentDraft::default();
    let Some(mut fields) = Fields::open(problems, "", root) else {
        return draft;
    };
    if let Some((node, path)) = fields.required(problems, "format_version") {
        draft.format_version = unsigned(problems, &path, node, u64::from(u32::MAX)).and_then(|version| {
            if version == u64::from(limits::FORMAT_VERSION) {
                Some(limits::FORMAT_VERSION)
            } else {
                problems.report(
                    &path,
                    format!(
                        "unsupported format version {version}; this build reads version {}",
                        limits::FORMAT_VERSION
                    ),
                );
                None
            }
        });
    }
    if let Some((node, path)) = fields.required(problems, "chain_id") {
        draft.chain_id = parsed(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "genesis_time_ms") {
        draft.genesis_time_ms =
            unsigned(problems, &path, node, limits::GENESIS_TIME_MS_MAX).and_then(|time_ms| {
                if time_ms == 0 {
                    problems.report(&path, "must be after the Unix epoch (milliseconds, not zero)");
                    None
                } else {
                    Some(time_ms)
                }
            });
    }
    if let Some((node, path)) = fields.required(problems, "consensus") {
        draft.consensus = read_consensus(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "validators") {
        draft.validators = array(problems, &path, node, tally_types::limits::VALIDATORS_MAX).map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(index, item)| read_validator(problems, &format!("{path}[{index}]"), item))
                .collect()
        });
    }
    if let Some((node, path)) = fields.required(problems, "members") {
        draft.members = array(problems, &path, node, limits::MEMBERS_MAX).map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(index, item)| read_member(problems, &format!("{path}[{index}]"), item))
                .collect()
        });
    }
    if let Some((node, path)) = fields.required(problems, "assets") {
        draft.assets = array(problems, &path, node, limits::ASSETS_MAX).map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(index, item)| read_asset(problems, &format!("{path}[{index}]"), item))
                .collect()
        });
    }
    if let Some((node, path)) = fields.required(problems, "balances") {
        draft.balances = array(problems, &path, node, limits::BALANCES_MAX).map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(index, item)| read_balance(problems, &format!("{path}[{index}]"), item))
                .collect()
        });
    }
    draft.governance_threshold = match fields.optional("governance_threshold") {
        None => Some(None),
        Some((node, path)) => read_threshold(problems, &path, node).map(Some),
    };
    fields.close(problems, DOCUMENT_FIELDS);
    draft
}

fn read_threshold(problems: &mut Problems, path: &str, node: &Node) -> Option<Threshold> {
    let mut fields = Fields::open(problems, path, node)?;
    let mut number = |name: &str| {
        let (node, path) = fields.required(problems, name)?;
        unsigned(problems, &path, node, u64::from(u16::MAX)).and_then(|value| u16::try_from(value).ok())
    };
    let (numerator, denominator) = (number("numerator"), number("denominator"));
    fields.close(problems, THRESHOLD_FIELDS);
    let threshold = Threshold { numerator: numerator?, denominator: denominator? };
    match threshold.problem() {
        Some(problem) => {
            problems.report(path, problem);
            None
        }
        None => Some(threshold),
    }
}

fn read_consensus(problems: &mut Problems, path: &str, node: &Node) -> Option<ConsensusParams> {
    let mut fields = Fields::open(problems, path, node)?;
    let mut number = |name: &str, max: u64| {
        let (node, path) = fields.required(problems, name)?;
        unsigned(problems, &path, node, max)
    };
    let params = PartialParams {
        timeout_propose_ms: number("timeout_propose_ms", u64::MAX),
        timeout_notarize_ms: number("timeout_notarize_ms", u64::MAX),
        timeout_max_ms: number("timeout_max_ms", u64::MAX),
        block_txs_max: number("block_txs_max", u64::from(u32::MAX))
            .and_then(|value| u32::try_from(value).ok()),
        block_bytes_max: number("block_bytes_max", u64::from(u32::MAX))
            .and_then(|value| u32::try_from(value).ok()),
    };
    fields.close(problems, CONSENSUS_FIELDS);
    let mut valid = true;
    for (field, message) in param_problems(&params) {
        problems.report(join(path, field), message);
        valid = false;
    }
    if valid { params.complete() } else { None }
}

fn read_validator(problems: &mut Problems, path: &str, node: &Node) -> ValidatorDraft {
    let mut draft = ValidatorDraft::default();
    let Some(mut fields) = Fields::open(problems, path, node) else {
        return draft;
    };
    if let Some((node, path)) = fields.required(problems, "name") {
        draft.name = string(problems, &path, node).and_then(|name| match check_validator_name(name) {
            Ok(()) => Some(name.to_owned()),
            Err(message) => {
                problems.report(&path, message);
                None
            }
        });
    }
    if let Some((node, path)) = fields.required(problems, "member") {
        draft.member = parsed(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "consensus_key") {
        draft.consensus_key = address(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "network_key") {
        draft.network_key = string(problems, &path, node).and_then(|text| match PublicKey::from_hex(text) {
            Ok(key) => Some(key),
            Err(error) => {
                problems.report(&path, error);
                None
            }
        });
    }
    if let Some((node, path)) = fields.required(problems, "p2p_listen") {
        draft.p2p_listen = string(problems, &path, node).and_then(|text| match parse_p2p_listen(text) {
            Ok(endpoint) => Some((text.to_owned(), endpoint)),
            Err(message) => {
                problems.report(&path, message);
                None
            }
        });
    }
    if let Some((node, path)) = fields.required(problems, "http_listen") {
        draft.http_listen = string(problems, &path, node).and_then(|text| match parse_http_listen(text) {
            Ok(address) => Some(address),
            Err(message) => {
                problems.report(&path, message);
                None
            }
        });
    }
    fields.close(problems, VALIDATOR_FIELDS);
    draft
}

fn read_member(problems: &mut Problems, path: &str, node: &Node) -> MemberDraft {
    let mut draft = MemberDraft::default();
    let Some(mut fields) = Fields::open(problems, path, node) else {
        return draft;
    };
    if let Some((node, path)) = fields.required(problems, "id") {
        draft.id = parsed(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "name") {
        draft.name = string(problems, &path, node).and_then(|name| match check_member_name(name) {
            Ok(()) => Some(name.to_owned()),
            Err(message) => {
                problems.report(&path, message);
                None
            }
        });
    }
    if let Some((node, path)) = fields.required(problems, "issuers") {
        draft.issuers =
            array(problems, &path, node, tally_types::limits::MEMBER_ISSUERS_MAX).and_then(|items| {
                if items.is_empty() {
                    problems.report(&path, "at least one issuer account is needed");
                    return None;
                }
                let issuers = items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| address(problems, &format!("{path}[{index}]"), item))
                    .collect();
                Some(issuers)
            });
    }
    fields.close(problems, MEMBER_FIELDS);
    draft
}

fn read_asset(problems: &mut Problems, path: &str, node: &Node) -> AssetDraft {
    let mut draft = AssetDraft::default();
    let Some(mut fields) = Fields::open(problems, path, node) else {
        return draft;
    };
    if let Some((node, path)) = fields.required(problems, "asset") {
        draft.asset = parsed(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "scale") {
        let max = u64::from(tally_types::limits::ASSET_SCALE_MAX);
        draft.scale = unsigned(problems, &path, node, max).and_then(|scale| u8::try_from(scale).ok());
    }
    if let Some((node, path)) = fields.required(problems, "max_supply") {
        draft.max_supply = match node {
            Node::Null => Some(None),
            node => amount(problems, &path, node).and_then(|cap| {
                if cap.is_zero() {
                    problems.report(&path, "a max supply of zero allows nothing; use null for no cap");
                    None
                } else {
                    Some(Some(cap))
                }
            }),
        };
    }
    if let Some((node, path)) = fields.required(problems, "flags") {
        draft.flags = unsigned(problems, &path, node, u64::from(u32::MAX)).and_then(|bits| {
            let flags = AssetFlags(u32::try_from(bits).ok()?);
            if flags.is_known() {
                Some(flags)
            } else {
                problems.report(&path, format!("unknown flag bits {:#x}", flags.0 & !AssetFlags::ALL));
                None
            }
        });
    }
    fields.close(problems, ASSET_FIELDS);
    draft
}

fn read_balance(problems: &mut Problems, path: &str, node: &Node) -> BalanceDraft {
    let mut draft = BalanceDraft::default();
    let Some(mut fields) = Fields::open(problems, path, node) else {
        return draft;
    };
    if let Some((node, path)) = fields.required(problems, "account") {
        draft.account = address(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "asset") {
        draft.asset = parsed(problems, &path, node);
    }
    if let Some((node, path)) = fields.required(problems, "amount") {
        draft.amount = amount(problems, &path, node).and_then(|amount| {
            if amount.is_zero() {
                problems.report(&path, "zero; leave the balance out instead");
                None
            } else {
                Some(amount)
            }
        });
    }
    fields.close(problems, BALANCE_FIELDS);
    draft
}

pub(crate) use tally_types::address::{
    Endpoint, check_member_name, check_validator_name, parse_http_listen, parse_p2p_listen,
};

// ---------------------------------------------------------------------------------------------
// Pass 2: rules across fields, over whatever parsed.

fn check_document(problems: &mut Problems, draft: &DocumentDraft) {
    let members = check_members(problems, draft);
    let before_validators = problems.count();
    check_validators(problems, draft, &members);
    check_keys(problems, draft, before_validators);
    let known_assets = check_assets(problems, draft, &members);
    check_balances(problems, draft, &known_assets);
}

/// The member ids that parsed, each with the index of its first entry.
struct KnownMembers<'a> {
    ids: BTreeMap<&'a MemberId, usize>,
    /// Every member id parsed: only then can a reference be called unknown (otherwise it may
    /// name the member whose id was refused, which is already reported).
    complete: bool,
}

impl KnownMembers<'_> {
    /// `member` is surely not a member of the document.
    fn is_unknown(&self, member: &MemberId) -> bool {
        self.complete && !self.ids.contains_key(member)
    }
}

/// Members: unique ids, at least one member.
fn check_members<'a>(problems: &mut Problems, draft: &'a DocumentDraft) -> KnownMembers<'a> {
    let members = draft.members.as_deref().unwrap_or_default();
    // Members: unique ids. `known_members` holds every id that parsed, duplicates included,
    // so a reference to a duplicated member is not also reported as unknown.
    let mut known_members: BTreeMap<&MemberId, usize> = BTreeMap::new();
    for (index, member) in members.iter().enumerate() {
        let Some(id) = &member.id else { continue };
        if let Some(first) = known_members.get(id) {
            problems.report(
                format!("members[{index}].id"),
                format!("duplicate member \"{id}\" (also members[{first}])"),
            );
        } else {
            known_members.insert(id, index);
        }
    }
    if draft.members.as_ref().is_some_and(Vec::is_empty) {
        problems.report("members", "at least one member is needed");
    }
    let complete = draft.members.as_ref().is_some_and(|list| list.iter().all(|member| member.id.is_some()));
    KnownMembers { ids: known_members, complete }
}

/// Validators: n ≥ 4 (f = ⌊(n − 1)/3⌋ ≥ 1), known members, unique names and endpoints.
fn check_validators(problems: &mut Problems, draft: &DocumentDraft, members: &KnownMembers<'_>) {
    let validators = draft.validators.as_deref().unwrap_or_default();
    if let Some(list) = &draft.validators {
        let n = list.len();
        if n < tally_types::limits::VALIDATORS_MIN {
            problems
                .report("validators", format!("{n} validators, at least 4 are needed to tolerate a fault"));
        }
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut endpoints: BTreeMap<Endpoint, String> = BTreeMap::new();
    for (index, validator) in validators.iter().enumerate() {
        let path = format!("validators[{index}]");
        if let Some(name) = &validator.name
            && let Some(first) = names.insert(name, index)
        {
            problems.report(
                format!("{path}.name"),
                format!("duplicate name \"{name}\" (also validators[{first}])"),
            );
        }
        if let Some(member) = &validator.member
            && members.is_unknown(member)
        {
            problems.report(format!("{path}.member"), format!("unknown member \"{member}\""));
        }
        let http = validator
            .http_listen
            .map(|address| Endpoint { host: address.ip().to_string(), port: address.port() });
        let listens = [
            ("p2p_listen", validator.p2p_listen.as_ref().map(|(_, endpoint)| endpoint.clone())),
            ("http_listen", http),
        ];
        for (field, endpoint) in listens {
            let Some(endpoint) = endpoint else { continue };
            let field_path = format!("{path}.{field}");
            if let Some(first) = endpoints.get(&endpoint) {
                problems.report(&field_path, format!("endpoint {endpoint} is already used by {first}"));
            } else {
                endpoints.insert(endpoint, field_path);
            }
        }
    }
}

/// Keys: every consensus, network and issuer key distinct across all roles. A key in two
/// roles ties them together (a leaked network key would sign votes); a duplicated consensus
/// key would let one validator count twice. With no problem found since `before_validators`,
/// the validator set is built as `Genesis::validator_set` will build it.
fn check_keys(problems: &mut Problems, draft: &DocumentDraft, before_validators: usize) {
    let members = draft.members.as_deref().unwrap_or_default();
    let validators = draft.validators.as_deref().unwrap_or_default();
    let mut keys: BTreeMap<PublicKey, String> = BTreeMap::new();
    let mut check_key = |problems: &mut Problems, key: &Option<PublicKey>, path: String| {
        let Some(key) = key else { return };
        if let Some(first) = keys.get(key) {
            problems.report(&path, format!("duplicate key, already used at {first}"));
        } else {
            keys.insert(*key, path);
        }
    };
    for (index, validator) in validators.iter().enumerate() {
        check_key(problems, &validator.consensus_key, format!("validators[{index}].consensus_key"));
        check_key(problems, &validator.network_key, format!("validators[{index}].network_key"));
    }
    if problems.count() == before_validators
        && draft.validators.is_some()
        && let Some(consensus_keys) =
            validators.iter().map(|validator| validator.consensus_key).collect::<Option<Vec<_>>>()
        && let Err(error) = ValidatorSet::new(consensus_keys)
    {
        // The checks above cover every rule of ValidatorSet::new; this catches a rule added
        // there later, so that `Genesis::validator_set` can rely on it.
        problems.report("validators", error);
    }
    for (index, member) in members.iter().enumerate() {
        for (position, issuer) in member.issuers.iter().flatten().enumerate() {
            check_key(problems, issuer, format!("members[{index}].issuers[{position}]"));
        }
    }
}

/// The assets that parsed: the index of each one's first entry, and its max supply.
type KnownAssets<'a> = BTreeMap<&'a AssetId, (usize, Option<Amount>)>;

/// Assets: a known issuer, each asset once.
fn check_assets<'a>(
    problems: &mut Problems,
    draft: &'a DocumentDraft,
    members: &KnownMembers<'_>,
) -> KnownAssets<'a> {
    let assets = draft.assets.as_deref().unwrap_or_default();
    let mut known_assets: KnownAssets<'a> = BTreeMap::new();
    for (index, asset) in assets.iter().enumerate() {
        let Some(id) = &asset.asset else { continue };
        let path = format!("assets[{index}].asset");
        if members.is_unknown(&id.issuer) {
            problems.report(&path, format!("unknown member \"{}\"", id.issuer));
        }
        if let Some((first, _)) = known_assets.get(id) {
            problems.report(&path, format!("duplicate asset \"{id}\" (also assets[{first}])"));
        } else {
            known_assets.insert(id, (index, asset.max_supply.flatten()));
        }
    }
    known_assets
}

/// Balances: a known asset, one balance per (account, asset), totals within the cap.
fn check_balances(problems: &mut Problems, draft: &DocumentDraft, known_assets: &KnownAssets<'_>) {
    let balances = draft.balances.as_deref().unwrap_or_default();
    let assets_complete =
        draft.assets.as_ref().is_some_and(|list| list.iter().all(|asset| asset.asset.is_some()));
    let mut seen: BTreeMap<(PublicKey, &AssetId), usize> = BTreeMap::new();
    let mut totals: BTreeMap<&AssetId, Option<Amount>> = BTreeMap::new();
    for (index, balance) in balances.iter().enumerate() {
        let path = format!("balances[{index}]");
        let Some(asset) = &balance.asset else { continue };
        let Some((_, max_supply)) = known_assets.get(asset) else {
            if assets_complete {
                problems.report(format!("{path}.asset"), format!("unknown asset \"{asset}\""));
            }
            continue;
        };
        if let Some(account) = balance.account
            && let Some(first) = seen.insert((account, asset), index)
        {
            problems.report(
                format!("{path}.account"),
                format!("second balance of this account in \"{asset}\" (also balances[{first}])"),
            );
        }
        let Some(amount) = balance.amount else { continue };
        // `None` once the total has overflowed, so the overflow is reported once per asset.
        let total = totals.entry(asset).or_insert(Some(Amount::ZERO));
        let Some(before) = *total else { continue };
        match before.checked_add(amount) {
            None => {
                problems.report(
                    format!("{path}.amount"),
                    format!("balances of \"{asset}\" add up to more than 2^128 - 1"),
                );
                *total = None;
            }
            Some(after) => {
                if let Some(cap) = max_supply
                    && before <= *cap
                    && after > *cap
                {
                    problems.report(
                        format!("{path}.amount"),
                        format!("balances of \"{asset}\" add up to {after}, above its max_supply of {cap}"),
                    );
                }
                *total = Some(after);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 3: the ledger's own check.

fn check_with_ledger(problems: &mut Problems, draft: &DocumentDraft) {
    let Some(genesis) = draft.assemble() else { return };
    if let Err(error) = crate::ledger::check(&genesis) {
        problems.report("(ledger)", error);
    }
}

impl DocumentDraft {
    /// The typed document, if every field parsed.
    fn assemble(&self) -> Option<Genesis> {
        let validators = self
            .validators
            .as_ref()?
            .iter()
            .map(|validator| {
                Some(ValidatorEntry {
                    name: validator.name.clone()?,
                    member: validator.member.clone()?,
                    consensus_key: validator.consensus_key?,
                    network_key: validator.network_key?,
                    p2p_listen: validator.p2p_listen.as_ref()?.0.clone(),
                    http_listen: validator.http_listen?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let members = self
            .members
            .as_ref()?
            .iter()
            .map(|member| {
                Some(MemberEntry {
                    id: member.id.clone()?,
                    name: member.name.clone()?,
                    issuers: member.issuers.as_ref()?.iter().copied().collect::<Option<Vec<_>>>()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let assets = self
            .assets
            .as_ref()?
            .iter()
            .map(|asset| {
                Some(AssetEntry {
                    asset: asset.asset.clone()?,
                    scale: asset.scale?,
                    max_supply: asset.max_supply?,
                    flags: asset.flags?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let balances = self
            .balances
            .as_ref()?
            .iter()
            .map(|balance| {
                Some(BalanceEntry {
                    account: balance.account?,
                    asset: balance.asset.clone()?,
                    amount: balance.amount?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Genesis {
            format_version: self.format_version?,
            chain_id: self.chain_id.clone()?,
            genesis_time_ms: self.genesis_time_ms?,
            consensus: self.consensus?,
            validators,
            members,
            assets,
            balances,
            governance_threshold: self.governance_threshold?,
        })
    }
}
