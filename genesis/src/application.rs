//! Forming a consortium in which no private key leaves its operator's machine (CometBFT's
//! gentx and collect-gentxs, in Tally's terms):
//!
//! 1. Each operator, on its own machine: `tally-node init --home DIR` makes the validator's
//!    consensus and network keys; `tally keys new NAME` makes the member's issuer key in the
//!    operator's keystore.
//! 2. `tally-node apply --home DIR ...` writes an [`Application`]: who the member is, its
//!    issuer account and asset, its validator's public keys and addresses, signed by the
//!    consensus and network keys; `tally application sign --key NAME FILE` adds the issuer's
//!    signature. Each signature proves possession of its key, over the whole application
//!    (chain id included), so an application cannot be replayed on another chain or edited.
//! 3. Whoever collects them: `tally-genesis new` starts a [`Draft`], `tally-genesis add`
//!    checks each application and adds it (refusing, by name, one whose proofs fail, whose
//!    chain id differs, or whose member, keys or addresses another already uses), and
//!    `tally-genesis finalize` makes the genesis file through the same validation as any
//!    other genesis file.
//! 4. Every operator checks `tally-genesis hash genesis.json` against the others' before
//!    starting its node.
//!
//! The signed bytes are `signing_message(Namespace::Application, chain_id, borsh(body))`.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tally_types::governance::{ProofError, SignedApplication, Threshold};
use tally_types::tx::AssetFlags;
use tally_types::{Amount, AssetId, ChainId, MemberId, PublicKey, SecretKey};

use crate::schema::{AssetEntry, BalanceEntry, ConsensusParams, Genesis, MemberEntry, ValidatorEntry};
use crate::{GenesisError, limits, validate};

/// The `format` of an application file this version writes and reads.
pub const APPLICATION_FORMAT: &str = "tally-application/1";
/// The `format` of a draft file this version writes and reads.
pub const DRAFT_FORMAT: &str = "tally-genesis-draft/1";
/// Largest application or draft file read.
pub const FILE_BYTES_MAX: u64 = limits::GENESIS_FILE_BYTES_MAX;

/// What an operator applies with: everything the genesis needs about its member and its
/// validator, and nothing secret. The type is the ledger's, so that the same signed document
/// admits a provider at genesis and, by a governance vote, later.
pub use tally_types::governance::ApplicationBody;
/// The signatures of an application: consensus and network keys (the operator's), then the
/// issuer's.
pub use tally_types::governance::ApplicationProofs as Proofs;

/// A signed application to join a consortium at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub format: String,
    #[serde(flatten)]
    pub body: ApplicationBody,
    pub proofs: Proofs,
}

/// Why an application (or a draft) was refused. Each names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a {what}: {reason}")]
    Syntax { path: String, what: &'static str, reason: String },
    #[error("format `{found}` is not `{expected}`")]
    Format { found: String, expected: &'static str },
    #[error("it is for chain `{found}`, not `{expected}`")]
    WrongChain { found: ChainId, expected: ChainId },
    #[error("{field}: {message}")]
    Field { field: &'static str, message: String },
    #[error("{what} {value} is already in the draft (application of `{other}`)")]
    Duplicate { what: &'static str, value: String, other: MemberId },
}

/// Field rules of an application body beyond its types' bounds.
pub trait CheckFields {
    /// Checks every field: names, scale, addresses, distinct keys.
    fn check_fields(&self) -> Result<(), ApplicationError>;
}

impl CheckFields for ApplicationBody {
    /// Checks every field on its own (the rules a genesis file applies to them).
    fn check_fields(&self) -> Result<(), ApplicationError> {
        let field = |field: &'static str, message: String| ApplicationError::Field { field, message };
        validate::check_member_name(self.member_name.as_str())
            .map_err(|message| field("member_name", message))?;
        validate::check_validator_name(self.validator_name.as_str())
            .map_err(|message| field("validator_name", message))?;
        let scale_max = tally_types::limits::ASSET_SCALE_MAX;
        if self.asset_scale > scale_max {
            return Err(field(
                "asset_scale",
                format!("{} is more than {scale_max} decimal places", self.asset_scale),
            ));
        }
        validate::parse_p2p_listen(self.p2p_listen.as_str())
            .map_err(|message| field("p2p_listen", message))?;
        validate::parse_http_listen(self.http_listen.as_str())
            .map_err(|message| field("http_listen", message))?;
        let keys = [
            ("issuer", self.issuer),
            ("consensus_key", self.consensus_key),
            ("network_key", self.network_key),
        ];
        for (index, (name, key)) in keys.iter().enumerate() {
            if let Some((other, _)) = keys[..index].iter().find(|(_, earlier)| earlier == key) {
                return Err(field(name, format!("is the same key as {other}; each role needs its own key")));
            }
        }
        Ok(())
    }
}

impl Application {
    /// A new application signed by the validator's two keys; the issuer signs later
    /// ([`Application::sign_issuer`]), on the machine that holds its key.
    pub fn new(
        body: ApplicationBody,
        consensus: &SecretKey,
        network: &SecretKey,
    ) -> Result<Self, ApplicationError> {
        if consensus.public_key() != body.consensus_key {
            return Err(ApplicationError::Field {
                field: "consensus_key",
                message: "is not the public key of the consensus key file".into(),
            });
        }
        if network.public_key() != body.network_key {
            return Err(ApplicationError::Field {
                field: "network_key",
                message: "is not the public key of the network key file".into(),
            });
        }
        body.check_fields()?;
        let message = body.signing_bytes();
        let proofs = Proofs {
            consensus: consensus.sign_raw(&message),
            network: network.sign_raw(&message),
            issuer: None,
        };
        Ok(Application { format: APPLICATION_FORMAT.into(), body, proofs })
    }

    /// Adds the issuer's proof. `issuer` must be the key the application names.
    pub fn sign_issuer(&mut self, issuer: &SecretKey) -> Result<(), ApplicationError> {
        if issuer.public_key() != self.body.issuer {
            return Err(ApplicationError::Field {
                field: "issuer",
                message: format!(
                    "the application names {}, but this key is {}",
                    self.body.issuer,
                    issuer.public_key()
                ),
            });
        }
        self.verify_validator_proofs()?;
        self.proofs.issuer = Some(issuer.sign_raw(&self.body.signing_bytes()));
        Ok(())
    }

    /// Checks the format, the fields and all three proofs, and that it is for `chain_id`.
    pub fn verify(&self, chain_id: &ChainId) -> Result<(), ApplicationError> {
        if self.body.chain_id != *chain_id {
            return Err(ApplicationError::WrongChain {
                found: self.body.chain_id.clone(),
                expected: chain_id.clone(),
            });
        }
        self.verify_validator_proofs()?;
        self.body.verify_proofs(&self.proofs).map_err(ApplicationError::from)
    }

    /// The application as a governance action carries it.
    pub fn signed(&self) -> SignedApplication {
        SignedApplication { body: self.body.clone(), proofs: self.proofs.clone() }
    }

    fn verify_validator_proofs(&self) -> Result<(), ApplicationError> {
        if self.format != APPLICATION_FORMAT {
            return Err(ApplicationError::Format {
                found: self.format.clone(),
                expected: APPLICATION_FORMAT,
            });
        }
        self.body.check_fields()?;
        self.body.verify_validator_proofs(&self.proofs).map_err(ApplicationError::from)
    }

    /// Reads an application file (bounded, strict JSON: unknown fields are refused).
    pub fn load(path: &Path) -> Result<Application, ApplicationError> {
        read_json(path, "Tally application")
    }

    /// Pretty JSON with a final newline.
    pub fn to_json_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("an application serializes");
        text.push('\n');
        text
    }
}

/// A genesis being assembled from applications: the chain's parameters and the applications
/// added so far, in order (the order of the validators, which is the leader rotation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub format: String,
    pub chain_id: ChainId,
    pub consensus: ConsensusParams,
    /// Opening balance of each member's issuer account in its own asset, in human units
    /// (e.g. `1000` or `12.5`); `null` for none, so that every credit has a grant.
    pub issuer_float: Option<String>,
    /// The governance threshold the genesis sets; `null` for the default (more than 2/3).
    #[serde(default)]
    pub governance_threshold: Option<Threshold>,
    pub applications: Vec<Application>,
}

impl Draft {
    /// An empty draft.
    pub fn new(
        chain_id: ChainId,
        consensus: ConsensusParams,
        issuer_float: Option<String>,
    ) -> Result<Self, GenesisError> {
        let problems = consensus.problems();
        if let Some((field, message)) = problems.first() {
            return Err(GenesisError::Options(format!("consensus.{field}: {message}")));
        }
        if let Some(text) = &issuer_float {
            match Amount::parse(text, tally_types::limits::ASSET_SCALE_MAX) {
                Ok(amount) if !amount.is_zero() => {}
                Ok(_) => {
                    return Err(GenesisError::Options(
                        "issuer float: must be more than zero (leave it out for none)".into(),
                    ));
                }
                Err(error) => return Err(GenesisError::Options(format!("issuer float `{text}`: {error}"))),
            }
        }
        Ok(Draft {
            format: DRAFT_FORMAT.into(),
            chain_id,
            consensus,
            issuer_float,
            governance_threshold: None,
            applications: Vec::new(),
        })
    }

    /// Checks `application` and adds it: its proofs, its chain id, and that no member id,
    /// validator name, key or address in it is already used by an application in the draft.
    pub fn add(&mut self, application: Application) -> Result<(), ApplicationError> {
        if self.format != DRAFT_FORMAT {
            return Err(ApplicationError::Format { found: self.format.clone(), expected: DRAFT_FORMAT });
        }
        application.verify(&self.chain_id)?;
        if self.applications.len() >= tally_types::limits::VALIDATORS_MAX {
            return Err(ApplicationError::Field {
                field: "applications",
                message: format!(
                    "the draft already holds {} validators, the most a chain may have",
                    self.applications.len()
                ),
            });
        }
        let new = &application.body;
        for existing in &self.applications {
            let old = &existing.body;
            let clash = |what: &'static str, value: String| ApplicationError::Duplicate {
                what,
                value,
                other: old.member.clone(),
            };
            if old.member == new.member {
                return Err(clash("member", new.member.to_string()));
            }
            if old.validator_name == new.validator_name {
                return Err(clash("validator name", new.validator_name.to_string()));
            }
            let old_keys: BTreeSet<PublicKey> = [old.issuer, old.consensus_key, old.network_key].into();
            for (what, key) in [
                ("issuer", new.issuer),
                ("consensus key", new.consensus_key),
                ("network key", new.network_key),
            ] {
                if old_keys.contains(&key) {
                    return Err(clash(what, key.to_string()));
                }
            }
            if old.p2p_listen == new.p2p_listen {
                return Err(clash("p2p address", new.p2p_listen.to_string()));
            }
            if old.http_listen == new.http_listen {
                return Err(clash("http address", new.http_listen.to_string()));
            }
        }
        self.applications.push(application);
        Ok(())
    }

    /// The genesis of this draft at `genesis_time_ms`, through the validation every genesis
    /// file gets (so, for example, n must be at least 4). Every application is checked again.
    pub fn finalize(&self, genesis_time_ms: u64) -> Result<Genesis, GenesisError> {
        for (index, application) in self.applications.iter().enumerate() {
            application.verify(&self.chain_id).map_err(|error| {
                GenesisError::Options(format!(
                    "application {index} (member `{}`): {error}",
                    application.body.member
                ))
            })?;
        }
        let mut genesis = Genesis {
            format_version: limits::FORMAT_VERSION,
            chain_id: self.chain_id.clone(),
            genesis_time_ms,
            consensus: self.consensus,
            validators: Vec::new(),
            members: Vec::new(),
            assets: Vec::new(),
            balances: Vec::new(),
            governance_threshold: self.governance_threshold,
        };
        for application in &self.applications {
            let body = &application.body;
            let http_listen: SocketAddr =
                validate::parse_http_listen(body.http_listen.as_str()).map_err(|message| {
                    GenesisError::Options(format!("member `{}`: http_listen: {message}", body.member))
                })?;
            genesis.validators.push(ValidatorEntry {
                name: body.validator_name.to_string(),
                member: body.member.clone(),
                consensus_key: body.consensus_key,
                network_key: body.network_key,
                p2p_listen: body.p2p_listen.to_string(),
                http_listen,
            });
            genesis.members.push(MemberEntry {
                id: body.member.clone(),
                name: body.member_name.to_string(),
                issuers: vec![body.issuer],
            });
            let asset = AssetId::new(body.asset_code.clone(), body.member.clone());
            if let Some(text) = &self.issuer_float {
                let amount = Amount::parse(text, body.asset_scale).map_err(|error| {
                    GenesisError::Options(format!(
                        "issuer float `{text}` in {} (scale {}): {error}",
                        asset, body.asset_scale
                    ))
                })?;
                genesis.balances.push(BalanceEntry { account: body.issuer, asset: asset.clone(), amount });
            }
            genesis.assets.push(AssetEntry {
                asset,
                scale: body.asset_scale,
                max_supply: None,
                flags: AssetFlags::default(),
            });
        }
        crate::init::revalidate(genesis)
    }

    /// Reads a draft file.
    pub fn load(path: &Path) -> Result<Draft, ApplicationError> {
        let draft: Draft = read_json(path, "Tally genesis draft")?;
        if draft.format != DRAFT_FORMAT {
            return Err(ApplicationError::Format { found: draft.format, expected: DRAFT_FORMAT });
        }
        Ok(draft)
    }

    /// Pretty JSON with a final newline.
    pub fn to_json_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a draft serializes");
        text.push('\n');
        text
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T, ApplicationError> {
    let shown = path.display().to_string();
    let read_error = |reason: String| ApplicationError::Read { path: shown.clone(), reason };
    let metadata = std::fs::metadata(path).map_err(|error| read_error(error.to_string()))?;
    if metadata.len() > FILE_BYTES_MAX {
        return Err(read_error(format!("{} bytes, more than the limit of {FILE_BYTES_MAX}", metadata.len())));
    }
    let text = std::fs::read_to_string(path).map_err(|error| read_error(error.to_string()))?;
    serde_json::from_str(&text).map_err(|error| ApplicationError::Syntax {
        path: shown.clone(),
        what,
        reason: error.to_string(),
    })
}

impl fmt::Display for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member `{}` with validator `{}`", self.body.member, self.body.validator_name)
    }
}

#[cfg(test)]
mod tests {
    use tally_types::{AssetCode, BoundedString};

    use super::*;

    fn chain() -> ChainId {
        ChainId::new("tally-formation").expect("valid")
    }

    struct Operator {
        consensus: SecretKey,
        network: SecretKey,
        issuer: SecretKey,
    }

    fn operator(index: u8) -> Operator {
        Operator {
            consensus: SecretKey::from_seed(&[index * 3 + 1; 32]),
            network: SecretKey::from_seed(&[index * 3 + 2; 32]),
            issuer: SecretKey::from_seed(&[index * 3 + 3; 32]),
        }
    }

    fn body(index: u8, keys: &Operator) -> ApplicationBody {
        let member = ["acme", "globex", "initech", "hooli", "umbrella"][usize::from(index)];
        ApplicationBody {
            chain_id: chain(),
            member: MemberId::new(member).expect("valid"),
            member_name: BoundedString::new(format!("{member} Inc.")).expect("short"),
            issuer: keys.issuer.public_key(),
            asset_code: AssetCode::new(member.to_uppercase()).expect("valid"),
            asset_scale: 2,
            validator_name: BoundedString::new(format!("{member}-0")).expect("short"),
            consensus_key: keys.consensus.public_key(),
            network_key: keys.network.public_key(),
            p2p_listen: BoundedString::new(format!("/ip4/10.0.0.{}/tcp/27000", index + 1)).expect("short"),
            http_listen: BoundedString::new(format!("10.0.0.{}:28000", index + 1)).expect("short"),
        }
    }

    fn signed(index: u8) -> Application {
        let keys = operator(index);
        let mut application =
            Application::new(body(index, &keys), &keys.consensus, &keys.network).expect("valid");
        application.sign_issuer(&keys.issuer).expect("issuer signs");
        application
    }

    fn draft() -> Draft {
        Draft::new(chain(), ConsensusParams::default(), Some("1000".into())).expect("valid draft")
    }

    #[test]
    fn four_applications_make_a_genesis_in_their_order() {
        let mut draft = draft();
        for index in 0..4 {
            // Through JSON, as the files travel between operators.
            let text = signed(index).to_json_pretty();
            let application: Application = serde_json::from_str(&text).expect("round trip");
            draft.add(application).expect("added");
        }
        let draft: Draft = serde_json::from_str(&draft.to_json_pretty()).expect("draft round trip");
        let genesis = draft.finalize(1_800_000_000_000).expect("a valid genesis");
        let names: Vec<&str> = genesis.validators().iter().map(|validator| validator.name.as_str()).collect();
        assert_eq!(names, ["acme-0", "globex-0", "initech-0", "hooli-0"]);
        assert_eq!(genesis.members()[1].issuers, vec![operator(1).issuer.public_key()]);
        assert_eq!(genesis.validators()[2].consensus_key, operator(2).consensus.public_key());
        assert_eq!(genesis.assets()[3].asset.to_string(), "HOOLI@hooli");
        assert_eq!(genesis.balances()[0].amount, Amount(100_000), "1000 at scale 2");
        // Every operator finalizing the same draft at the same time gets the same hash.
        assert_eq!(genesis.hash(), draft.finalize(1_800_000_000_000).expect("valid").hash());
    }

    #[test]
    fn a_changed_or_unsigned_application_is_refused_by_name() {
        let mut changed = signed(0);
        changed.body.http_listen = BoundedString::new("10.9.9.9:28000").expect("short");
        assert!(matches!(
            changed.verify(&chain()),
            Err(ApplicationError::Proof(ProofError::BadProof { key: "consensus" }))
        ));

        let mut network_forged = signed(0);
        network_forged.proofs.network = network_forged.proofs.consensus;
        assert!(matches!(
            network_forged.verify(&chain()),
            Err(ApplicationError::Proof(ProofError::BadProof { key: "network" }))
        ));

        let mut issuer_forged = signed(0);
        issuer_forged.proofs.issuer = Some(issuer_forged.proofs.consensus);
        assert!(matches!(
            issuer_forged.verify(&chain()),
            Err(ApplicationError::Proof(ProofError::BadProof { key: "issuer" }))
        ));

        let keys = operator(0);
        let unsigned = Application::new(body(0, &keys), &keys.consensus, &keys.network).expect("valid");
        assert!(matches!(
            unsigned.verify(&chain()),
            Err(ApplicationError::Proof(ProofError::IssuerUnsigned))
        ));
        let mut wrong_issuer = unsigned.clone();
        let error = wrong_issuer.sign_issuer(&operator(1).issuer).expect_err("not the named issuer");
        assert!(error.to_string().contains("the application names"), "{error}");

        let other_chain = ChainId::new("tally-elsewhere").expect("valid");
        let error = signed(0).verify(&other_chain).expect_err("another chain");
        assert!(error.to_string().contains("tally-formation"), "{error}");

        // Keys that do not match the body, and keys reused across roles.
        assert!(Application::new(body(0, &keys), &keys.network, &keys.network).is_err());
        let mut reused = body(0, &keys);
        reused.issuer = keys.consensus.public_key();
        let error = Application::new(reused, &keys.consensus, &keys.network).expect_err("reused key");
        assert!(error.to_string().contains("each role needs its own key"), "{error}");

        let mut bad_address = body(0, &keys);
        bad_address.p2p_listen = BoundedString::new("/ip4/010.0.0.1/tcp/27000").expect("short");
        let error = Application::new(bad_address, &keys.consensus, &keys.network).expect_err("not canonical");
        assert!(error.to_string().starts_with("p2p_listen"), "{error}");
    }

    #[test]
    fn a_draft_refuses_clashes_and_keeps_its_applications() {
        let mut draft = draft();
        draft.add(signed(0)).expect("first");
        let error = draft.add(signed(0)).expect_err("the same member twice");
        assert!(matches!(error, ApplicationError::Duplicate { what: "member", .. }), "{error}");

        // Another member reusing the first one's consensus key, or its address.
        let mut keys = operator(1);
        keys.consensus = operator(0).consensus;
        let mut copycat = Application::new(body(1, &keys), &keys.consensus, &keys.network).expect("valid");
        copycat.sign_issuer(&keys.issuer).expect("signs");
        let error = draft.add(copycat).expect_err("a consensus key in use");
        assert!(matches!(error, ApplicationError::Duplicate { what: "consensus key", .. }), "{error}");

        let keys = operator(1);
        let mut same_address = body(1, &keys);
        same_address.p2p_listen = BoundedString::new("/ip4/10.0.0.1/tcp/27000").expect("short");
        let mut same_address = Application::new(same_address, &keys.consensus, &keys.network).expect("valid");
        same_address.sign_issuer(&keys.issuer).expect("signs");
        let error = draft.add(same_address).expect_err("an address in use");
        assert!(error.to_string().contains("p2p address /ip4/10.0.0.1/tcp/27000"), "{error}");
        assert_eq!(draft.applications.len(), 1, "refused applications are not added");

        // Three validators are not a valid chain (n ≥ 4): finalize names the problem.
        draft.add(signed(1)).expect("second");
        draft.add(signed(2)).expect("third");
        let error = draft.finalize(1).expect_err("n = 3").to_string();
        assert!(error.contains("validators"), "{error}");
    }

    #[test]
    fn scale_size_and_names_are_bounded() {
        let keys = operator(0);
        let mut body = body(0, &keys);
        body.asset_scale = tally_types::limits::ASSET_SCALE_MAX;
        let application =
            Application::new(body.clone(), &keys.consensus, &keys.network).expect("the largest scale");
        assert_eq!(application.to_string(), "member `acme` with validator `acme-0`");
        body.asset_scale += 1;
        let error = Application::new(body, &keys.consensus, &keys.network).expect_err("scale too large");
        assert!(error.to_string().starts_with("asset_scale"), "{error}");

        // Files are read only up to FILE_BYTES_MAX (a sparse file: no disk used).
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("huge.json");
        let file = std::fs::File::create(&path).expect("create");
        file.set_len(FILE_BYTES_MAX + 1).expect("set_len");
        assert!(matches!(Application::load(&path), Err(ApplicationError::Read { .. })), "over the limit");
        file.set_len(FILE_BYTES_MAX).expect("set_len");
        assert!(
            matches!(Application::load(&path), Err(ApplicationError::Syntax { .. })),
            "at the limit: read"
        );
    }

    #[test]
    fn application_json_is_strict() {
        let text = signed(0).to_json_pretty();
        let extra = text.replacen('{', "{\n  \"admin\": true,", 1);
        assert!(serde_json::from_str::<Application>(&extra).is_err(), "unknown fields are refused");
        // A weak (small-order) consensus key cannot even be read.
        let weak = "0100000000000000000000000000000000000000000000000000000000000000";
        let weak_network = text.replace(&operator(0).network.public_key().to_hex(), weak);
        assert!(serde_json::from_str::<Application>(&weak_network).is_err());
        let mut future = signed(0);
        future.format = "tally-application/9".into();
        assert!(matches!(future.verify(&chain()), Err(ApplicationError::Format { .. })));
    }
}
