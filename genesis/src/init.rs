//! The builder behind `tally-genesis init`: a test or small production network from a few
//! choices, its secret keys, and the files that hold them.
//!
//! Layout written under the output directory:
//! - `genesis.json` (mode 0644: it is public, every node and auditor needs it);
//! - `validator-K/consensus.key` and `validator-K/network.key` for K = 0..n-1;
//! - `members/<member>/issuer.key`, the member's issuer account, so a demo can sign as it.
//!
//! Key files hold the 32-byte ed25519 seed as hex and a newline (`SecretKey::from_hex`
//! reads them), mode 0600, in directories of mode 0700. Every file is written to a temporary
//! name, synced and renamed into place, and `genesis.json` comes last: a crash leaves either
//! no genesis or a genesis whose keys are all on disk.
//!
//! Conventions of the generated network (all visible in the file, all changeable by editing it
//! and re-validating):
//! - validators are named `validator-K` and assigned to members round-robin (K mod m);
//! - validator K listens for peers at `/ip4/IP/tcp/(base_port + K)` and serves HTTP at
//!   `IP:(base_port + 1000 + K)`;
//! - each member has one issuer account and one asset, `CODE@member`, where CODE is the member
//!   id upper-cased without dashes, cut to 12 characters; scale 2, no supply cap, no flags;
//! - opening balances: none by default, so that every credit in circulation has a Grant (with
//!   its id, kind and reason) on the ledger. `issuer_float` instead credits each member's
//!   issuer account with that many minor units of its own asset at genesis.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tally_types::tx::AssetFlags;
use tally_types::{Amount, AssetCode, AssetId, ChainId, MemberId, SecretKey};

use crate::error::GenesisError;
use crate::keys::KeySource;
use crate::limits;
use crate::schema::{AssetEntry, BalanceEntry, ConsensusParams, Genesis, MemberEntry, ValidatorEntry};

/// The genesis file's name in the output directory.
pub const GENESIS_FILE: &str = "genesis.json";
/// Mode of key files: owner read and write only.
pub const KEY_FILE_MODE: u32 = 0o600;
/// Mode of directories holding key files: owner only.
pub const KEY_DIR_MODE: u32 = 0o700;
/// Mode of the public genesis file.
pub const GENESIS_FILE_MODE: u32 = 0o644;
/// Default first port: validator K listens for peers on 27000 + K and for HTTP on 28000 + K.
pub const DEFAULT_BASE_PORT: u16 = 27_000;
/// Distance between the peer port and the HTTP port of one validator.
pub const HTTP_PORT_OFFSET: u16 = 1_000;
/// Scale of the assets the builder creates.
pub const ASSET_SCALE: u8 = 2;

/// What network to build.
#[derive(Clone, Debug)]
pub struct TestnetSpec {
    pub chain_id: ChainId,
    /// n; validation requires n ≥ 4.
    pub validators: usize,
    /// Member ids, in order; validators are assigned to them round-robin.
    pub members: Vec<MemberId>,
    /// Milliseconds since the Unix epoch. The builder reads no clock; the caller decides.
    pub genesis_time_ms: u64,
    pub consensus: ConsensusParams,
    /// The address every validator listens on.
    pub listen_ip: IpAddr,
    pub base_port: u16,
    /// Opening balance, in minor units, of each member's issuer account in its own asset.
    pub issuer_float: Option<Amount>,
}

/// One validator's secret keys.
pub struct ValidatorKeys {
    pub consensus: SecretKey,
    pub network: SecretKey,
}

/// A built network: the validated genesis and every secret key it refers to.
pub struct Testnet {
    pub genesis: Genesis,
    /// Index K holds the keys of `genesis.validators()[K]`.
    pub validator_keys: Vec<ValidatorKeys>,
    /// The issuer key of each member, in member order.
    pub issuer_keys: Vec<(MemberId, SecretKey)>,
}

/// The asset code the builder gives `member`: its id upper-cased, dashes dropped, cut to 12.
pub fn asset_code_for(member: &MemberId) -> Result<AssetCode, GenesisError> {
    let code: String = member
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(tally_types::limits::ASSET_CODE_BYTES_MAX)
        .collect();
    AssetCode::new(code).map_err(|error| {
        GenesisError::Options(format!("member `{member}` gives no usable asset code: {error}"))
    })
}

fn display_name(member: &MemberId) -> String {
    let mut chars = member.as_str().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Builds and validates a network. Refuses options that cannot describe one before any key is
/// made; anything else wrong (n below 4, a duplicated member) comes back as the same
/// problem list `validate` prints.
pub fn build_testnet(spec: &TestnetSpec, keys: &KeySource) -> Result<Testnet, GenesisError> {
    check_testnet_options(spec)?;
    let (validators, validator_keys) = testnet_validators(spec, keys)?;
    let mut members = Vec::with_capacity(spec.members.len());
    let mut assets = Vec::with_capacity(spec.members.len());
    let mut balances = Vec::new();
    let mut issuer_keys = Vec::with_capacity(spec.members.len());
    for member in &spec.members {
        let issuer = keys.issuer_key(member)?;
        let asset = AssetId::new(asset_code_for(member)?, member.clone());
        members.push(MemberEntry {
            id: member.clone(),
            name: display_name(member),
            issuers: vec![issuer.public_key()],
        });
        if let Some(amount) = spec.issuer_float {
            balances.push(BalanceEntry { account: issuer.public_key(), asset: asset.clone(), amount });
        }
        assets.push(AssetEntry { asset, scale: ASSET_SCALE, max_supply: None, flags: AssetFlags::default() });
        issuer_keys.push((member.clone(), issuer));
    }

    let genesis = Genesis {
        governance_threshold: None,
        format_version: limits::FORMAT_VERSION,
        chain_id: spec.chain_id.clone(),
        genesis_time_ms: spec.genesis_time_ms,
        consensus: spec.consensus,
        validators,
        members,
        assets,
        balances,
    };
    let genesis = revalidate(genesis)?;
    Ok(Testnet { genesis, validator_keys, issuer_keys })
}

/// Refuses options that cannot describe a network: too many validators, no members or too
/// many, or ports that do not fit.
fn check_testnet_options(spec: &TestnetSpec) -> Result<(), GenesisError> {
    let validators_max = tally_types::limits::VALIDATORS_MAX;
    if spec.validators > validators_max {
        return Err(GenesisError::Options(format!(
            "{} validators; at most {validators_max}",
            spec.validators
        )));
    }
    if spec.members.is_empty() {
        return Err(GenesisError::Options("at least one member is needed".to_owned()));
    }
    if spec.members.len() > limits::MEMBERS_MAX {
        return Err(GenesisError::Options(format!(
            "{} members; at most {}",
            spec.members.len(),
            limits::MEMBERS_MAX
        )));
    }
    let last_port = u32::from(spec.base_port) + u32::from(HTTP_PORT_OFFSET) + spec.validators as u32;
    if spec.base_port == 0 || last_port > u32::from(u16::MAX) {
        return Err(GenesisError::Options(format!(
            "base port {} leaves no room for {} validators (HTTP ports go up to base + {HTTP_PORT_OFFSET} + n - 1 ≤ 65535)",
            spec.base_port, spec.validators
        )));
    }
    Ok(())
}

/// Each validator's entry and keys: named by index, assigned to the members in turn, with
/// consecutive P2P and HTTP ports.
fn testnet_validators(
    spec: &TestnetSpec,
    keys: &KeySource,
) -> Result<(Vec<ValidatorEntry>, Vec<ValidatorKeys>), GenesisError> {
    let mut validators = Vec::with_capacity(spec.validators);
    let mut validator_keys = Vec::with_capacity(spec.validators);
    for index in 0..spec.validators {
        // index < VALIDATORS_MAX ≤ u16::MAX (checked by `check_testnet_options` and in limits.rs),
        // so these fit.
        let index_u16 = index as u16;
        let consensus = keys.consensus_key(index_u16)?;
        let network = keys.network_key(index_u16)?;
        let p2p_port = spec.base_port + index_u16;
        let http_port = spec.base_port + HTTP_PORT_OFFSET + index_u16;
        validators.push(ValidatorEntry {
            name: format!("validator-{index}"),
            member: spec.members[index % spec.members.len()].clone(),
            consensus_key: consensus.public_key(),
            network_key: network.public_key(),
            p2p_listen: p2p_multiaddr(spec.listen_ip, p2p_port),
            http_listen: SocketAddr::new(spec.listen_ip, http_port),
        });
        validator_keys.push(ValidatorKeys { consensus, network });
    }
    Ok((validators, validator_keys))
}

/// Validates a genesis assembled in code through the same path a loaded file takes, so that
/// what a builder writes is exactly what `validate` accepts.
pub(crate) fn revalidate(genesis: Genesis) -> Result<Genesis, GenesisError> {
    let reparsed = match Genesis::from_json(&genesis.to_json_pretty()) {
        Ok(reparsed) => reparsed,
        Err(crate::ParseError::Invalid(problems)) => return Err(GenesisError::Build(problems)),
        Err(syntax @ crate::ParseError::Syntax { .. }) => {
            unreachable!("serde_json wrote JSON it cannot read back: {syntax}")
        }
    };
    assert_eq!(reparsed, genesis, "a genesis document must survive a JSON round trip unchanged");
    Ok(genesis)
}

fn p2p_multiaddr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(ip) => format!("/ip4/{ip}/tcp/{port}"),
        IpAddr::V6(ip) => format!("/ip6/{ip}/tcp/{port}"),
    }
}

/// What `write_testnet` wrote.
#[derive(Clone, Debug)]
pub struct WrittenFiles {
    pub genesis: PathBuf,
    pub key_files: Vec<PathBuf>,
}

/// Writes the network's files under `out_dir` (created if missing). Without `force`, refuses
/// if any file it would write already exists, before writing anything.
pub fn write_testnet(testnet: &Testnet, out_dir: &Path, force: bool) -> Result<WrittenFiles, GenesisError> {
    let genesis_path = out_dir.join(GENESIS_FILE);
    let mut key_files: Vec<(PathBuf, &SecretKey)> = Vec::new();
    for (index, keys) in testnet.validator_keys.iter().enumerate() {
        let dir = out_dir.join(format!("validator-{index}"));
        key_files.push((dir.join("consensus.key"), &keys.consensus));
        key_files.push((dir.join("network.key"), &keys.network));
    }
    for (member, key) in &testnet.issuer_keys {
        key_files.push((out_dir.join("members").join(member.as_str()).join("issuer.key"), key));
    }

    if !force {
        // The genesis file first, so the common case gets the plainest message.
        for path in std::iter::once(&genesis_path).chain(key_files.iter().map(|(path, _)| path)) {
            if fs::symlink_metadata(path).is_ok() {
                return Err(GenesisError::AlreadyExists { path: path.clone() });
            }
        }
    }

    fs::create_dir_all(out_dir).map_err(|error| GenesisError::Write { path: out_dir.to_owned(), error })?;
    for (path, key) in &key_files {
        let dir = path.parent().expect("every key file path was built as dir.join(name)");
        if dir.parent() != Some(out_dir) {
            // members/<member>/: `members` itself holds only key directories, so owner-only too.
            let members_dir = dir.parent().expect("members/<member> has a parent");
            create_private_dir(members_dir)?;
        }
        create_private_dir(dir)?;
        let mut contents = key.to_hex();
        contents.push('\n');
        write_file_atomically(path, contents.as_bytes(), KEY_FILE_MODE)?;
    }
    write_file_atomically(&genesis_path, testnet.genesis.to_json_pretty().as_bytes(), GENESIS_FILE_MODE)?;
    sync_dir(out_dir)?;
    Ok(WrittenFiles {
        genesis: genesis_path,
        key_files: key_files.into_iter().map(|(path, _)| path).collect(),
    })
}

/// Creates `dir` with mode 0700, or tightens an existing one to 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), GenesisError> {
    let write_error = |error| GenesisError::Write { path: dir.to_owned(), error };
    match fs::DirBuilder::new().mode(KEY_DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(error) => return Err(write_error(error)),
    }
    // The mode given at creation is reduced by the umask, and an existing directory keeps its
    // own: set it explicitly.
    fs::set_permissions(dir, fs::Permissions::from_mode(KEY_DIR_MODE)).map_err(write_error)
}

/// Writes `bytes` to a temporary file in the same directory with `mode`, syncs it, renames
/// it over `path`, and syncs the directory.
pub fn write_file_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), GenesisError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |error| GenesisError::Write { path, error }
    };
    // A bare file name (`genesis.json`) is in the working directory.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = path.file_name().expect("output paths end in a file name").to_string_lossy();
    let temporary = dir.join(format!(".{file_name}.tmp"));
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(write_error(&temporary)(error)),
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)
        .map_err(write_error(&temporary))?;
    // The umask may have cleared bits of `mode` (0644 under umask 077); set it exactly.
    file.set_permissions(fs::Permissions::from_mode(mode)).map_err(write_error(&temporary))?;
    file.write_all(bytes).map_err(write_error(&temporary))?;
    file.sync_all().map_err(write_error(&temporary))?;
    drop(file);
    fs::rename(&temporary, path).map_err(write_error(path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), GenesisError> {
    fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| GenesisError::Write { path: dir.to_owned(), error })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(validators: usize, members: &[&str]) -> TestnetSpec {
        TestnetSpec {
            chain_id: ChainId::new("tally-test").expect("valid chain id"),
            validators,
            members: members.iter().map(|id| MemberId::new(*id).expect("valid member id")).collect(),
            genesis_time_ms: 1_700_000_000_000,
            consensus: ConsensusParams::default(),
            listen_ip: IpAddr::from([127, 0, 0, 1]),
            base_port: DEFAULT_BASE_PORT,
            issuer_float: None,
        }
    }

    #[test]
    fn asset_codes_follow_member_ids() {
        let code = |id: &str| {
            asset_code_for(&MemberId::new(id).expect("valid member id")).map(|code| code.to_string())
        };
        assert_eq!(code("acme").expect("usable"), "ACME");
        assert_eq!(code("acme-corp-2").expect("usable"), "ACMECORP2");
        assert_eq!(code("international-business").expect("usable"), "INTERNATIONA");
        assert!(code("a-").is_err());
    }

    #[test]
    fn builds_round_robin_assignment_and_ports() {
        let source =
            KeySource::seeded(b"test", &ChainId::new("tally-test").expect("valid")).expect("valid seed");
        let testnet =
            build_testnet(&spec(7, &["acme", "globex", "initech"]), &source).expect("valid network");
        let genesis = &testnet.genesis;
        let members: Vec<&str> = genesis.validators().iter().map(|v| v.member.as_str()).collect();
        assert_eq!(members, ["acme", "globex", "initech", "acme", "globex", "initech", "acme"]);
        assert_eq!(genesis.validators()[6].p2p_listen, "/ip4/127.0.0.1/tcp/27006");
        assert_eq!(genesis.validators()[6].http_listen.to_string(), "127.0.0.1:28006");
        assert_eq!(genesis.assets()[1].asset.to_string(), "GLOBEX@globex");
        assert!(genesis.balances().is_empty());
        for (keys, validator) in testnet.validator_keys.iter().zip(genesis.validators()) {
            assert_eq!(keys.consensus.public_key(), validator.consensus_key);
            assert_eq!(keys.network.public_key(), validator.network_key);
        }
        for ((member, key), entry) in testnet.issuer_keys.iter().zip(genesis.members()) {
            assert_eq!(member, &entry.id);
            assert_eq!(entry.issuers, [key.public_key()]);
        }
    }

    #[test]
    fn issuer_float_credits_each_issuer() {
        let mut spec = spec(4, &["acme", "globex"]);
        spec.issuer_float = Some(Amount(100_000));
        let testnet = build_testnet(&spec, &KeySource::OsRandom).expect("valid network");
        let balances = testnet.genesis.balances();
        assert_eq!(balances.len(), 2);
        assert_eq!(balances[1].account, testnet.issuer_keys[1].1.public_key());
        assert_eq!(balances[1].asset.to_string(), "GLOBEX@globex");
        assert_eq!(balances[1].amount, Amount(100_000));
    }

    #[test]
    fn invalid_requests_are_refused_with_the_validation_message() {
        let Err(GenesisError::Build(problems)) = build_testnet(&spec(3, &["acme"]), &KeySource::OsRandom)
        else {
            panic!("3 validators must be refused");
        };
        assert_eq!(
            problems.list()[0].to_string(),
            "validators: 3 validators, at least 4 are needed to tolerate a fault"
        );

        let Err(GenesisError::Build(problems)) =
            build_testnet(&spec(4, &["acme", "acme"]), &KeySource::OsRandom)
        else {
            panic!("a duplicated member must be refused");
        };
        assert!(problems.list().iter().any(|p| p.path == "members[1].id"), "{problems}");

        assert!(matches!(
            build_testnet(&spec(101, &["acme"]), &KeySource::OsRandom),
            Err(GenesisError::Options(_))
        ));
        assert!(matches!(build_testnet(&spec(4, &[]), &KeySource::OsRandom), Err(GenesisError::Options(_))));
        let mut high = spec(4, &["acme"]);
        high.base_port = 64_600;
        assert!(matches!(build_testnet(&high, &KeySource::OsRandom), Err(GenesisError::Options(_))));
    }
}
