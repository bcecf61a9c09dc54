//! A validator's home directory, made on the operator's own machine by `tally-node init`; its
//! keys sign the application of `tally-node apply` (see `tally_genesis::application` for the
//! whole formation of a consortium).
//!
//! Layout of `DIR` (mode 0700):
//! - `consensus.key`, `network.key`: hex ed25519 seeds, mode 0600, from the OS RNG; they are
//!   written here and nowhere else, and no command prints them;
//! - `node.toml`: the node's configuration, pointing at the two keys, `data/` and
//!   `genesis.json` in the same directory (the operator puts the agreed genesis file there).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tally_genesis::init::{KEY_FILE_MODE, create_private_dir, write_file_atomically};
use tally_genesis::keys::{KeySource, read_key_file};
use tally_types::{PublicKey, SecretKey};

/// The consensus key's file name in a home directory.
pub const CONSENSUS_KEY_FILE: &str = "consensus.key";
/// The network key's file name in a home directory.
pub const NETWORK_KEY_FILE: &str = "network.key";
/// The configuration's file name in a home directory.
pub const CONFIG_FILE: &str = "node.toml";
/// Mode of `node.toml`: no secret, but the operator's alone like the rest of the home (it names
/// the key files and the listening addresses).
const CONFIG_FILE_MODE: u32 = 0o600;

/// What `init` made.
pub struct Home {
    pub dir: PathBuf,
    /// `None` for a full node.
    pub consensus_key: Option<PublicKey>,
    pub network_key: PublicKey,
    /// The node's libp2p peer id (derived from the network key).
    pub peer_id: String,
}

/// The consensus and network keys of a validator's home, read from their files.
pub fn read_home(dir: &Path) -> anyhow::Result<(SecretKey, SecretKey)> {
    let consensus = read_key_file(&dir.join(CONSENSUS_KEY_FILE))?;
    let network = read_key_file(&dir.join(NETWORK_KEY_FILE))?;
    Ok((consensus, network))
}

/// Which node a home is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Consensus and network keys.
    Validator,
    /// A network key only: the node follows the chain and does not vote.
    FullNode,
}

/// Makes a home directory with fresh keys and a `node.toml`. Refuses, before writing
/// anything, if any of its files exists: keys are never replaced by accident. A full node
/// must be told where to listen (genesis has no entry for it).
pub fn init_home(
    dir: &Path,
    role: Role,
    p2p_listen: Option<&str>,
    http_listen: Option<SocketAddr>,
) -> anyhow::Result<Home> {
    if role == Role::FullNode && (p2p_listen.is_none() || http_listen.is_none()) {
        bail!("a full node is not in genesis: give it --p2p-listen and --http-listen");
    }
    let files = [CONSENSUS_KEY_FILE, NETWORK_KEY_FILE, CONFIG_FILE].map(|name| dir.join(name));
    for path in &files {
        if std::fs::symlink_metadata(path).is_ok() {
            bail!("{} already exists; a home is made once (keys are never replaced by init)", path.display());
        }
    }
    std::fs::create_dir_all(
        dir.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new(".")),
    )
    .with_context(|| format!("creating the parent of {}", dir.display()))?;
    create_private_dir(dir)?;
    let source = KeySource::OsRandom;
    let consensus = match role {
        Role::Validator => Some(source.consensus_key(0)?),
        Role::FullNode => None,
    };
    let network = source.network_key(0)?;
    for (path, key) in [(&files[0], consensus.as_ref()), (&files[1], Some(&network))] {
        let Some(key) = key else { continue };
        let mut text = key.to_hex();
        text.push('\n');
        write_file_atomically(path, text.as_bytes(), KEY_FILE_MODE)?;
    }
    write_file_atomically(&files[2], node_toml(role, p2p_listen, http_listen).as_bytes(), CONFIG_FILE_MODE)?;
    Ok(Home {
        dir: dir.to_owned(),
        consensus_key: consensus.as_ref().map(SecretKey::public_key),
        network_key: network.public_key(),
        peer_id: peer_id_of(&network)?,
    })
}

/// The libp2p peer id of a network key.
pub fn peer_id_of(network: &SecretKey) -> anyhow::Result<String> {
    Ok(tally_net::peer_id_from_public_key(&network.public_key().0)?.to_string())
}

fn node_toml(role: Role, p2p_listen: Option<&str>, http_listen: Option<SocketAddr>) -> String {
    let mut text = String::from(
        "# Made by `tally-node init`. Put the consortium's genesis.json next to this file.\n\
         [node]\n\
         data_dir = \"data\"\n\
         genesis = \"genesis.json\"\n",
    );
    match role {
        Role::Validator => text.push_str("consensus_key = \"consensus.key\"\n"),
        Role::FullNode => {
            text.push_str("# no consensus_key: a full node, which follows the chain and does not vote\n")
        }
    }
    text.push_str("network_key = \"network.key\"\n");
    text.push_str("\n[network]\n");
    match p2p_listen {
        Some(address) => text.push_str(&format!("listen = \"{address}\"\n")),
        None => text.push_str(
            "# listen = \"/ip4/0.0.0.0/tcp/27000\"   # default: this validator's p2p_listen in genesis\n",
        ),
    }
    text.push_str("\n[http]\n");
    match http_listen {
        Some(address) => text.push_str(&format!("listen = \"{address}\"\n")),
        None => text.push_str(
            "# listen = \"127.0.0.1:28000\"          # default: this validator's http_listen in genesis\n",
        ),
    }
    text.push_str("\n[log]\nformat = \"human\"\nlevel = \"info\"\n");
    text
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use tally_genesis::application::{Application, ApplicationBody};
    use tally_types::{AssetCode, ChainId, MemberId};

    use super::*;
    use crate::config::NodeConfig;

    #[test]
    fn init_makes_private_keys_and_a_config_that_loads_and_never_overwrites() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("acme-node");
        let home = init_home(&dir, Role::Validator, Some("/ip4/0.0.0.0/tcp/27000"), None).expect("init");
        let mode = |path: &Path| std::fs::metadata(path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(CONSENSUS_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.join(NETWORK_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.join(CONFIG_FILE)), 0o600);
        let (consensus, network) = read_home(&dir).expect("keys read back");
        assert_eq!(Some(consensus.public_key()), home.consensus_key);
        assert_eq!(network.public_key(), home.network_key);
        assert_ne!(home.consensus_key, Some(home.network_key));
        assert_eq!(home.peer_id, peer_id_of(&network).expect("peer id"));
        // The config parses once a genesis file sits beside it.
        std::fs::write(dir.join("genesis.json"), "{}").expect("write");
        let config = NodeConfig::load(&dir.join(CONFIG_FILE)).expect("node.toml loads");
        assert_eq!(config.consensus_key, Some(dir.join(CONSENSUS_KEY_FILE)));
        assert_eq!(config.data_dir, dir.join("data"));
        assert!(config.p2p_listen.is_some());

        let before = std::fs::read(dir.join(CONSENSUS_KEY_FILE)).expect("read");
        let error =
            init_home(&dir, Role::Validator, None, None).err().expect("a second init is refused").to_string();
        assert!(error.contains("already exists"), "{error}");
        assert_eq!(std::fs::read(dir.join(CONSENSUS_KEY_FILE)).expect("read"), before, "key kept");
    }

    #[test]
    fn a_full_node_home_has_no_consensus_key_and_must_say_where_it_listens() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("follower");
        assert!(init_home(&dir, Role::FullNode, None, None).is_err(), "no addresses");
        let home = init_home(
            &dir,
            Role::FullNode,
            Some("/ip4/0.0.0.0/tcp/27100"),
            Some("0.0.0.0:28100".parse().expect("addr")),
        )
        .expect("init");
        assert_eq!(home.consensus_key, None);
        assert!(!dir.join(CONSENSUS_KEY_FILE).exists());
        std::fs::write(dir.join("genesis.json"), "{}").expect("write");
        let config = NodeConfig::load(&dir.join(CONFIG_FILE)).expect("node.toml loads");
        assert_eq!(config.consensus_key, None, "runs as a full node");
        assert_eq!(config.http_listen, Some("0.0.0.0:28100".parse().expect("addr")));
    }

    #[test]
    fn apply_signs_with_the_home_keys() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("home");
        init_home(&dir, Role::Validator, None, None).expect("init");
        let chain_id = ChainId::new("tally-apply-test").expect("valid");
        let issuer = SecretKey::from_seed(&[7; 32]);
        let (consensus, network) = read_home(&dir).expect("keys");
        let body = ApplicationBody {
            chain_id: chain_id.clone(),
            member: MemberId::new("acme").expect("valid"),
            member_name: tally_types::BoundedString::new("Acme").expect("short"),
            issuer: issuer.public_key(),
            asset_code: AssetCode::new("ACME").expect("valid"),
            asset_scale: 2,
            validator_name: tally_types::BoundedString::new("acme-0").expect("short"),
            consensus_key: consensus.public_key(),
            network_key: network.public_key(),
            p2p_listen: tally_types::BoundedString::new("/ip4/10.0.0.1/tcp/27000").expect("short"),
            http_listen: tally_types::BoundedString::new("10.0.0.1:28000").expect("short"),
        };
        let mut application = Application::new(body, &consensus, &network).expect("applies");
        assert_eq!(application.body.consensus_key, consensus.public_key());
        application.sign_issuer(&issuer).expect("issuer signs");
        application.verify(&chain_id).expect("a complete application verifies");
    }
}
