//! The crate's unit tests' network: four validators and one member (`acme`), every key seeded
//! from the chain's name, so each test module gets its own chain by naming it.

use std::net::{IpAddr, Ipv4Addr};

use tally_genesis::ConsensusParams;
use tally_genesis::init::{Testnet, TestnetSpec, build_testnet};
use tally_genesis::keys::KeySource;
use tally_types::{Amount, ChainId, MemberId};

/// The genesis time of every unit-test network.
pub(crate) const GENESIS_TIME_MS: u64 = 1_700_000_000_000;

/// A network for chain `tally-{name}`, keys seeded from `name`, listening from `base_port`,
/// with `issuer_float` credited to each member's issuer.
pub(crate) fn testnet(name: &str, base_port: u16, issuer_float: Option<Amount>) -> Testnet {
    let chain_id = ChainId::new(format!("tally-{name}")).expect("valid chain id");
    let keys = KeySource::seeded(name.as_bytes(), &chain_id).expect("valid seed");
    let spec = TestnetSpec {
        chain_id,
        validators: 4,
        members: vec![MemberId::new("acme").expect("valid member id")],
        genesis_time_ms: GENESIS_TIME_MS,
        consensus: ConsensusParams::default(),
        listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port,
        issuer_float,
    };
    build_testnet(&spec, &keys).expect("valid network")
}
