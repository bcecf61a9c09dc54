//! The ledger part of genesis: members, assets and opening balances, validated and turned into
//! the initial state's write set.
//!
//! `tally-genesis` owns the genesis document (JSON schema, validator set, hash); it hands the
//! ledger part to [`genesis_writes`], which refuses anything the ledger could not uphold later:
//! each problem has its own error naming the item at fault, so an operator can fix the file.
//! The result does not depend on the order of the input lists (the write set is sorted), but
//! the first problem reported does.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tally_types::codec::{BoundedString, BoundedVec};
use tally_types::tx::AssetFlags;
use tally_types::{Amount, AssetId, KeyError, MemberId, PublicKey, limits};

use tally_types::Height;
use tally_types::governance::{ConsensusParams, Threshold};

use crate::state::{
    AssetState, BalanceState, EpochConfig, EpochsState, GovernanceState, GovernorState, IssuerState,
    MemberState, StateKey, StateValue, ValidatorState, WriteSet,
};

/// The ledger's initial contents.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct GenesisLedger {
    pub members: Vec<GenesisMember>,
    pub assets: Vec<GenesisAsset>,
    pub balances: Vec<GenesisBalance>,
    /// The validators of epoch 0, in leader-rotation order. Empty only in tests of the ledger
    /// alone: a chain's genesis always has them (`tally-genesis` checks n ≥ 4).
    pub validators: Vec<GenesisValidator>,
    /// The consensus parameters of epoch 0.
    pub params: ConsensusParams,
    /// The share of members whose votes pass a proposal.
    pub threshold: Threshold,
}

/// A validator at genesis.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GenesisValidator {
    pub member: MemberId,
    pub name: String,
    pub consensus_key: PublicKey,
    pub network_key: PublicKey,
    pub p2p_listen: String,
    pub http_listen: String,
}

/// A consortium member and its issuer accounts.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GenesisMember {
    pub id: MemberId,
    /// Display name, 1..=`MEMBER_NAME_BYTES_MAX` bytes.
    pub name: String,
    /// 1..=`MEMBER_ISSUERS_MAX` keys; each valid, not weak, and an issuer of no other member.
    pub issuers: Vec<PublicKey>,
}

/// A credit asset that exists from the start. Its issuer is the member named in its id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GenesisAsset {
    pub asset: AssetId,
    pub scale: u8,
    pub max_supply: Option<Amount>,
    pub flags: AssetFlags,
}

/// An opening balance, in minor units. Counts as minted.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GenesisBalance {
    pub account: PublicKey,
    pub asset: AssetId,
    pub amount: Amount,
}

/// Why the genesis ledger was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("member `{member}` is listed twice")]
    DuplicateMember { member: MemberId },
    #[error("member `{member}` has no issuer accounts; it needs at least one")]
    MemberWithoutIssuers { member: MemberId },
    #[error("member `{member}` has {count} issuer accounts, more than the limit of {max}", max = limits::MEMBER_ISSUERS_MAX)]
    TooManyIssuers { member: MemberId, count: usize },
    #[error("member `{member}` name is {len} bytes; it must be 1..={max} bytes", max = limits::MEMBER_NAME_BYTES_MAX)]
    BadMemberName { member: MemberId, len: usize },
    #[error("member `{member}` issuer key {key} is refused: {reason}")]
    BadIssuerKey { member: MemberId, key: PublicKey, reason: KeyError },
    #[error(
        "issuer key {key} is listed for member `{member}` and again for member `{other_member}`; an account is an issuer of at most one member, once"
    )]
    DuplicateIssuer { key: PublicKey, member: MemberId, other_member: MemberId },
    #[error("asset `{asset}` names member `{member}`, which is not a genesis member")]
    UnknownMember { asset: AssetId, member: MemberId },
    #[error("asset `{asset}` is listed twice")]
    DuplicateAsset { asset: AssetId },
    #[error("asset `{asset}` has scale {scale}, above the maximum of {max}", max = limits::ASSET_SCALE_MAX)]
    BadScale { asset: AssetId, scale: u8 },
    #[error("asset `{asset}` has unknown flag bits {flags:#x}")]
    BadFlags { asset: AssetId, flags: u32 },
    #[error("asset `{asset}` has a max supply of zero; omit it for no cap")]
    ZeroMaxSupply { asset: AssetId },
    #[error("balance of account {account} is in asset `{asset}`, which is not a genesis asset")]
    UnknownAsset { account: PublicKey, asset: AssetId },
    #[error("balance account {account} is refused: {reason}")]
    BadAccountKey { account: PublicKey, reason: KeyError },
    #[error("balance of account {account} in `{asset}` is zero; leave it out instead")]
    ZeroBalance { account: PublicKey, asset: AssetId },
    #[error("account {account} has two balances in `{asset}`")]
    DuplicateBalance { account: PublicKey, asset: AssetId },
    #[error("balances of asset `{asset}` add up to more than 2^128 - 1 minor units")]
    SupplyOverflow { asset: AssetId },
    #[error("balances of asset `{asset}` reach {supply} minor units, above its max supply of {max_supply}")]
    AboveMaxSupply { asset: AssetId, supply: Amount, max_supply: Amount },
    #[error("validator `{name}` names member `{member}`, which is not a genesis member")]
    ValidatorOfUnknownMember { name: String, member: MemberId },
    #[error("validator `{name}`: {problem}")]
    BadValidator { name: String, problem: String },
    #[error("the governance threshold is not usable: {problem}")]
    BadThreshold { problem: String },
    #[error("consensus parameter {field}: {problem}")]
    BadParams { field: &'static str, problem: String },
    #[error("{count} members, more than the limit of {max}", max = limits::MEMBERS_MAX)]
    TooManyMembers { count: usize },
}

/// Validates the genesis ledger and returns the writes that create it from an empty state.
pub fn genesis_writes(genesis: &GenesisLedger) -> Result<WriteSet, GenesisError> {
    let mut writes = WriteSet::new();
    let members = member_writes(genesis, &mut writes)?;
    if genesis.members.len() > limits::MEMBERS_MAX {
        return Err(GenesisError::TooManyMembers { count: genesis.members.len() });
    }
    if let Some(problem) = genesis.threshold.problem() {
        return Err(GenesisError::BadThreshold { problem });
    }
    if let Some((field, problem)) = genesis.params.problems().into_iter().next() {
        return Err(GenesisError::BadParams { field, problem });
    }
    if !genesis.members.is_empty() {
        let active_members = genesis.members.len() as u32;
        let governance = GovernanceState { threshold: genesis.threshold, active_members };
        writes.insert(StateKey::Governance, Some(StateValue::Governance(governance)));
    }
    validator_writes(genesis, &members, &mut writes)?;
    let mut assets = asset_states(genesis, &members)?;
    balance_writes(genesis, &mut assets, &mut writes)?;
    for (id, mut state) in assets {
        // Opening balances count as minted, so that minted - burned = supply from block 1 on.
        state.minted = state.supply;
        writes.insert(StateKey::Asset { asset: id.clone() }, Some(StateValue::Asset(state)));
    }
    Ok(writes)
}

/// Each member's entry, its issuers' index entries and its governor entry; returns the member
/// ids. Member ids and issuer keys are unique, names and issuer lists within their limits.
fn member_writes<'a>(
    genesis: &'a GenesisLedger,
    writes: &mut WriteSet,
) -> Result<BTreeSet<&'a MemberId>, GenesisError> {
    let mut members: BTreeSet<&MemberId> = BTreeSet::new();
    let mut issuer_of: BTreeMap<PublicKey, &MemberId> = BTreeMap::new();
    for member in &genesis.members {
        let id = &member.id;
        if !members.insert(id) {
            return Err(GenesisError::DuplicateMember { member: id.clone() });
        }
        let name = BoundedString::new(member.name.as_str())
            .ok()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| GenesisError::BadMemberName { member: id.clone(), len: member.name.len() })?;
        if member.issuers.is_empty() {
            return Err(GenesisError::MemberWithoutIssuers { member: id.clone() });
        }
        if member.issuers.len() > limits::MEMBER_ISSUERS_MAX {
            return Err(GenesisError::TooManyIssuers { member: id.clone(), count: member.issuers.len() });
        }
        for key in &member.issuers {
            key.validate().map_err(|reason| GenesisError::BadIssuerKey {
                member: id.clone(),
                key: *key,
                reason,
            })?;
            if let Some(other) = issuer_of.insert(*key, id) {
                return Err(GenesisError::DuplicateIssuer {
                    key: *key,
                    member: other.clone(),
                    other_member: id.clone(),
                });
            }
            writes.insert(
                StateKey::Issuer { account: *key },
                Some(StateValue::Issuer(IssuerState { member: id.clone() })),
            );
        }
        // Sorted, so the stored entry does not depend on the order the file lists the keys in.
        let mut issuers = member.issuers.clone();
        issuers.sort();
        let issuers = BoundedVec::new(issuers).expect("issuer count was checked against the limit above");
        // The member's smallest issuer key proposes and votes for it (the smallest, so that the
        // state does not depend on the order the file lists the keys in).
        let governance_key = issuers[0];
        writes.insert(
            StateKey::Member { member: id.clone() },
            Some(StateValue::Member(MemberState {
                name,
                issuers: issuers.clone(),
                governance_key,
                removed_at: None,
            })),
        );
        writes.insert(
            StateKey::Governor { account: governance_key },
            Some(StateValue::Governor(GovernorState { member: id.clone() })),
        );
    }
    Ok(members)
}

/// Each asset's state before the opening balances (supply zero): a known issuing member,
/// a valid scale, known flags, a max supply above zero, each asset once.
fn asset_states<'a>(
    genesis: &'a GenesisLedger,
    members: &BTreeSet<&MemberId>,
) -> Result<BTreeMap<&'a AssetId, AssetState>, GenesisError> {
    let mut assets: BTreeMap<&AssetId, AssetState> = BTreeMap::new();
    for asset in &genesis.assets {
        let id = &asset.asset;
        if !members.contains(&id.issuer) {
            return Err(GenesisError::UnknownMember { asset: id.clone(), member: id.issuer.clone() });
        }
        if asset.scale > limits::ASSET_SCALE_MAX {
            return Err(GenesisError::BadScale { asset: id.clone(), scale: asset.scale });
        }
        if !asset.flags.is_known() {
            return Err(GenesisError::BadFlags { asset: id.clone(), flags: asset.flags.0 });
        }
        if asset.max_supply == Some(Amount::ZERO) {
            return Err(GenesisError::ZeroMaxSupply { asset: id.clone() });
        }
        let state = AssetState {
            scale: asset.scale,
            max_supply: asset.max_supply,
            flags: asset.flags,
            supply: Amount::ZERO,
            minted: Amount::ZERO,
            burned: Amount::ZERO,
        };
        if assets.insert(id, state).is_some() {
            return Err(GenesisError::DuplicateAsset { asset: id.clone() });
        }
    }
    Ok(assets)
}

/// The opening balances, each added to its asset's supply (within its max supply): a known
/// asset, a key that can sign, above zero, one per (account, asset).
fn balance_writes(
    genesis: &GenesisLedger,
    assets: &mut BTreeMap<&AssetId, AssetState>,
    writes: &mut WriteSet,
) -> Result<(), GenesisError> {
    for balance in &genesis.balances {
        let (account, asset) = (balance.account, &balance.asset);
        let Some(state) = assets.get_mut(asset) else {
            return Err(GenesisError::UnknownAsset { account, asset: asset.clone() });
        };
        // Credits sent to a key that can never sign would be lost for good.
        account.validate().map_err(|reason| GenesisError::BadAccountKey { account, reason })?;
        if balance.amount.is_zero() {
            return Err(GenesisError::ZeroBalance { account, asset: asset.clone() });
        }
        state.supply = state
            .supply
            .checked_add(balance.amount)
            .ok_or_else(|| GenesisError::SupplyOverflow { asset: asset.clone() })?;
        if let Some(max_supply) = state.max_supply
            && state.supply > max_supply
        {
            return Err(GenesisError::AboveMaxSupply {
                asset: asset.clone(),
                supply: state.supply,
                max_supply,
            });
        }
        let key = StateKey::balance(account, asset.clone());
        if writes.get(&key).is_some() {
            return Err(GenesisError::DuplicateBalance { account, asset: asset.clone() });
        }
        let value = BalanceState { available: balance.amount, locked: Amount::ZERO };
        writes.insert(key, Some(StateValue::Balance(value)));
    }
    Ok(())
}

/// The validators' entries and epoch 0. Duplicate keys and n ≥ 4 are `tally-genesis`'s
/// checks (through `ValidatorSet`); this refuses what the ledger itself could not hold.
fn validator_writes(
    genesis: &GenesisLedger,
    members: &BTreeSet<&MemberId>,
    writes: &mut WriteSet,
) -> Result<(), GenesisError> {
    if genesis.validators.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::new();
    for validator in &genesis.validators {
        let bad = |problem: String| GenesisError::BadValidator { name: validator.name.clone(), problem };
        if !members.contains(&validator.member) {
            return Err(GenesisError::ValidatorOfUnknownMember {
                name: validator.name.clone(),
                member: validator.member.clone(),
            });
        }
        let state = ValidatorState {
            member: validator.member.clone(),
            name: BoundedString::new(validator.name.as_str()).map_err(|_| bad("name is too long".into()))?,
            network_key: validator.network_key,
            p2p_listen: BoundedString::new(validator.p2p_listen.as_str())
                .map_err(|_| bad("p2p address is too long".into()))?,
            http_listen: BoundedString::new(validator.http_listen.as_str())
                .map_err(|_| bad("http address is too long".into()))?,
        };
        let key = StateKey::Validator { consensus_key: validator.consensus_key };
        if writes.get(&key).is_some() {
            return Err(bad("its consensus key is listed twice".into()));
        }
        writes.insert(key, Some(StateValue::Validator(state)));
        keys.push(validator.consensus_key);
    }
    let count = keys.len();
    let validators = BoundedVec::new(keys).map_err(|_| GenesisError::BadValidator {
        name: format!("{count} validators"),
        problem: format!("more than the limit of {}", limits::VALIDATORS_MAX),
    })?;
    let epoch = EpochConfig { number: 0, start_height: Height(1), validators, params: genesis.params };
    let epochs = EpochsState { current: epoch, pending: BoundedVec::empty() };
    writes.insert(StateKey::Epochs, Some(StateValue::Epochs(epochs)));
    Ok(())
}
