//! The genesis document: typed, validated, and hashed canonically.
//!
//! A [`Genesis`] value is always valid: the only ways to get one are [`Genesis::load`],
//! [`Genesis::from_json`] and the builder, and all of them go through the same validation
//! (`validate.rs`). Its fields are private; accessors hand out shared references.
//!
//! The genesis hash is `Domain::Genesis` over the borsh encoding of the typed document, so it
//! depends on the values alone: JSON key order, whitespace, number spelling (`1e3` is refused,
//! but `007` for a string amount is the same as `7`), and the choice between an address and
//! its equivalent spelling never change it. Array order does: it is content (validator order
//! is the leader rotation; the other lists keep the order their author gave them).

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;

use borsh::BorshSerialize;
use serde::{Serialize, Serializer};
use tally_ledger::genesis::{GenesisAsset, GenesisBalance, GenesisLedger, GenesisMember, GenesisValidator};
use tally_types::codec::encode;
use tally_types::governance::Threshold;
use tally_types::tx::AssetFlags;
use tally_types::{Amount, AssetId, BlockId, ChainId, Domain, Hash, MemberId, PublicKey, ValidatorSet};

/// Consensus timing and block size parameters: the genesis values, changed later only by a
/// passed governance proposal. The type and its range checks are the ledger's
/// ([`tally_types::governance`]), so that genesis and governance apply the same rules.
pub use tally_types::governance::ConsensusParams;
pub(crate) use tally_types::governance::{PartialParams, param_problems};

/// One validator: who runs it, its keys, and where it listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct ValidatorEntry {
    /// A short unique name for logs and file names, e.g. `validator-0`.
    pub name: String,
    /// The member that runs this validator.
    pub member: MemberId,
    /// Signs proposals and votes. JSON: the bech32m address form.
    pub consensus_key: PublicKey,
    /// The ed25519 public key of the node's libp2p identity (its PeerId derives from it).
    /// JSON: 64 hex characters. Never equal to any consensus or issuer key.
    #[serde(serialize_with = "serialize_hex_key")]
    pub network_key: PublicKey,
    /// Where peers dial this validator: `/ip4/A.B.C.D/tcp/PORT`, `/ip6/.../tcp/PORT` or
    /// `/dns{,4,6}/HOST/tcp/PORT`, in canonical form.
    pub p2p_listen: String,
    /// The HTTP API's listen address, `IP:PORT`.
    #[borsh(serialize_with = "borsh_socket_addr")]
    pub http_listen: SocketAddr,
}

/// A consortium member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct MemberEntry {
    pub id: MemberId,
    /// Display name, e.g. `Acme`.
    pub name: String,
    /// Accounts that may issue assets, grant credits and anchor badges for this member.
    /// JSON: addresses.
    pub issuers: Vec<PublicKey>,
}

/// A credit asset that exists from the start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct AssetEntry {
    /// `CODE@member`; the member is the issuer.
    pub asset: AssetId,
    /// Decimal places of the minor unit, 0..=18.
    pub scale: u8,
    /// Cap on the supply in minor units; `null` for none.
    pub max_supply: Option<Amount>,
    /// `AssetFlags` bits.
    pub flags: AssetFlags,
}

/// An opening balance, in minor units; counts as minted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct BalanceEntry {
    pub account: PublicKey,
    pub asset: AssetId,
    pub amount: Amount,
}

/// A validated genesis document. See the module documentation for what its hash covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct Genesis {
    pub(crate) format_version: u32,
    pub(crate) chain_id: ChainId,
    pub(crate) genesis_time_ms: u64,
    pub(crate) consensus: ConsensusParams,
    pub(crate) validators: Vec<ValidatorEntry>,
    pub(crate) members: Vec<MemberEntry>,
    pub(crate) assets: Vec<AssetEntry>,
    pub(crate) balances: Vec<BalanceEntry>,
    /// The share of members whose votes pass a governance proposal; absent for the default,
    /// more than two thirds. Encoded after every other field and only when present (see
    /// [`Self::canonical_bytes`]), so that a document without it keeps the hash it had before
    /// the field existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[borsh(skip)]
    pub(crate) governance_threshold: Option<Threshold>,
}

impl Genesis {
    /// The document as pretty JSON with a trailing newline: the form `tally-genesis init` writes.
    pub fn to_json_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("the document holds only strings, integers, lists and objects, which always serialize");
        text.push('\n');
        text
    }

    /// The canonical encoding the genesis hash covers: borsh of the typed document, then the
    /// governance threshold if the document sets one.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut bytes = encode(self);
        // The optional threshold goes last, as borsh's `Some`: tag 1, numerator and
        // denominator (u16 LE). Absent, nothing follows: the fields before are self-delimiting,
        // so the two forms never share an encoding.
        if let Some(threshold) = &self.governance_threshold {
            bytes.push(1);
            bytes.extend_from_slice(&encode(threshold));
        }
        bytes
    }

    /// The genesis hash: `Domain::Genesis` over [`Self::canonical_bytes`]. Block 1's header
    /// carries it as its parent (see [`Self::parent_of_first_block`]).
    pub fn hash(&self) -> Hash {
        Domain::Genesis.hash(&[&self.canonical_bytes()])
    }

    /// The `parent_id` of the block at height 1: `BlockId(genesis.hash())`. Genesis is height 0
    /// and has no header of its own; the hash of the whole document stands in for its block id,
    /// so the chain of parent links ends at the genesis file and everything in it (validators,
    /// parameters, initial ledger) is committed to by every later block.
    pub fn parent_of_first_block(&self) -> BlockId {
        BlockId(self.hash())
    }

    /// The validator set, in document order (the leader rotation order).
    pub fn validator_set(&self) -> ValidatorSet {
        let keys = self.validators.iter().map(|validator| validator.consensus_key).collect();
        ValidatorSet::new(keys).expect(
            "validation checked 4 <= n <= VALIDATORS_MAX and distinct, valid, non-weak consensus keys",
        )
    }

    /// The hash of [`Self::validator_set`], carried in every header.
    pub fn validators_hash(&self) -> Hash {
        self.validator_set().hash()
    }

    /// The ledger's part of genesis: members, assets and opening balances.
    /// The governance threshold genesis sets, if it sets one (the default is more than two
    /// thirds of the members).
    pub fn governance_threshold(&self) -> Option<Threshold> {
        self.governance_threshold
    }

    pub fn ledger(&self) -> GenesisLedger {
        GenesisLedger {
            members: self
                .members
                .iter()
                .map(|member| GenesisMember {
                    id: member.id.clone(),
                    name: member.name.clone(),
                    issuers: member.issuers.clone(),
                })
                .collect(),
            assets: self
                .assets
                .iter()
                .map(|asset| GenesisAsset {
                    asset: asset.asset.clone(),
                    scale: asset.scale,
                    max_supply: asset.max_supply,
                    flags: asset.flags,
                })
                .collect(),
            balances: self
                .balances
                .iter()
                .map(|balance| GenesisBalance {
                    account: balance.account,
                    asset: balance.asset.clone(),
                    amount: balance.amount,
                })
                .collect(),
            validators: self
                .validators
                .iter()
                .map(|validator| GenesisValidator {
                    member: validator.member.clone(),
                    name: validator.name.clone(),
                    consensus_key: validator.consensus_key,
                    network_key: validator.network_key,
                    p2p_listen: validator.p2p_listen.clone(),
                    http_listen: validator.http_listen.to_string(),
                })
                .collect(),
            params: self.consensus,
            threshold: self.governance_threshold.unwrap_or_default(),
        }
    }

    /// The genesis format version.
    pub fn format_version(&self) -> u32 {
        self.format_version
    }

    /// The chain id, part of every signed message.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// Milliseconds since the Unix epoch; block 1's time must be after it.
    pub fn genesis_time_ms(&self) -> u64 {
        self.genesis_time_ms
    }

    /// Consensus timing and block size parameters.
    pub fn params(&self) -> &ConsensusParams {
        &self.consensus
    }

    /// The validators, in leader rotation order.
    pub fn validators(&self) -> &[ValidatorEntry] {
        &self.validators
    }

    /// The members.
    pub fn members(&self) -> &[MemberEntry] {
        &self.members
    }

    /// The assets that exist from the start.
    pub fn assets(&self) -> &[AssetEntry] {
        &self.assets
    }

    /// The opening balances.
    pub fn balances(&self) -> &[BalanceEntry] {
        &self.balances
    }

    /// The member with id `id`.
    pub fn member(&self, id: &MemberId) -> Option<&MemberEntry> {
        self.members.iter().find(|member| &member.id == id)
    }

    /// The position of the validator whose consensus key is `key`.
    pub fn validator_index(&self, key: &PublicKey) -> Option<tally_types::ValidatorIndex> {
        // At most VALIDATORS_MAX (≤ u16::MAX) validators, so the position fits.
        let position = self.validators.iter().position(|validator| &validator.consensus_key == key)?;
        Some(tally_types::ValidatorIndex(position as u16))
    }
}

impl fmt::Display for Genesis {
    /// A short summary: chain, validator count, hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "genesis of {} ({} validators, hash {})", self.chain_id, self.validators.len(), self.hash())
    }
}

fn serialize_hex_key<S: Serializer>(key: &PublicKey, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&key.to_hex())
}

/// Socket addresses enter the canonical encoding as their canonical text (`127.0.0.1:28000`),
/// the same text the JSON carries.
fn borsh_socket_addr<W: Write>(address: &SocketAddr, writer: &mut W) -> std::io::Result<()> {
    BorshSerialize::serialize(&address.to_string(), writer)
}
