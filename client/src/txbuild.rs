//! Builds and signs transactions from ops, and parses what people type for them (amounts,
//! grant kinds, reward reasons) into protocol types, refusing bad input before anything is sent.
//!
//! Everything here is pure: seq, height and chain id come from the caller (who reads them from
//! a node), so the load generator can build many transactions per account without a round trip.

use tally_types::limits;
use tally_types::tx::{Burn, Grant, GrantKind, IssueAsset, RewardReason, Transfer};
use tally_types::{
    Amount, AmountError, AssetId, BoundedBytes, BoundedString, BoundedVec, ChainId, Height, Op, OpId,
    PublicKey, SecretKey, SignedTransaction, encode,
};

/// How many blocks a transaction stays valid for when the caller does not say.
pub const VALID_FOR_BLOCKS_DEFAULT: u64 = 100;

/// Why a transaction could not be built, or an input could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxBuildError {
    #[error("a transaction needs 1 to {max} ops, got {0}", max = limits::TX_OPS_MAX)]
    OpCount(usize),
    #[error("memo is {0} bytes; the limit is {max}", max = limits::TX_MEMO_BYTES_MAX)]
    MemoTooLong(usize),
    #[error("seq must be at least 1")]
    ZeroSeq,
    #[error("the signed transaction is {0} bytes; the limit is {max}", max = limits::TX_BYTES_MAX)]
    TooLarge(usize),
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("grant kind `{0}` must be purchase, reward or promo")]
    GrantKind(String),
    #[error(
        "reason `{0}` must be client-library, how-to-guide, forum-support, published-application or other:TEXT"
    )]
    Reason(String),
    #[error("{what} is {len} bytes; the limit is {max}")]
    TextTooLong { what: &'static str, len: usize, max: usize },
    #[error("a reward grant needs --reason")]
    ReasonMissing,
    #[error("only reward grants take a reason")]
    ReasonNotAllowed,
    #[error("operating-system randomness failed: {0}")]
    Random(String),
}

/// Builds the transaction `{chain_id, signer, seq, valid_until_height, ops, memo}` and signs it
/// with `key` (whose public key is the signer).
pub fn build_signed(
    key: &SecretKey,
    chain_id: &ChainId,
    seq: u64,
    valid_until_height: Height,
    ops: Vec<Op>,
    memo: &[u8],
) -> Result<SignedTransaction, TxBuildError> {
    if seq == 0 {
        return Err(TxBuildError::ZeroSeq);
    }
    let count = ops.len();
    if count == 0 {
        return Err(TxBuildError::OpCount(0));
    }
    let ops = BoundedVec::new(ops).map_err(|ops| TxBuildError::OpCount(ops.len()))?;
    let memo = BoundedBytes::new(memo.to_vec()).map_err(|memo| TxBuildError::MemoTooLong(memo.len()))?;
    let tx = tally_types::Transaction {
        chain_id: chain_id.clone(),
        signer: key.public_key(),
        seq,
        valid_until_height,
        ops,
        memo,
    };
    let signed = tx.sign(key);
    // Checked here so the caller hears about it before a node refuses the bytes.
    let size = encode(&signed).len();
    if size > limits::TX_BYTES_MAX {
        return Err(TxBuildError::TooLarge(size));
    }
    Ok(signed)
}

/// The last height a transaction may be included at: `current + valid_for`, saturating.
pub fn valid_until(current: Height, valid_for_blocks: u64) -> Height {
    Height(current.0.saturating_add(valid_for_blocks))
}

/// Parses a human amount at `scale` decimals; zero is refused (no op moves nothing).
pub fn parse_positive_amount(text: &str, scale: u8) -> Result<Amount, TxBuildError> {
    let amount = Amount::parse(text, scale)?;
    if amount.is_zero() {
        return Err(TxBuildError::ZeroAmount);
    }
    Ok(amount)
}

/// Parses `purchase`, `reward` or `promo`.
pub fn parse_grant_kind(text: &str) -> Result<GrantKind, TxBuildError> {
    match text {
        "purchase" => Ok(GrantKind::Purchase),
        "reward" => Ok(GrantKind::Reward),
        "promo" => Ok(GrantKind::Promo),
        other => Err(TxBuildError::GrantKind(other.to_owned())),
    }
}

/// Parses a reward reason: `client-library`, `how-to-guide`, `forum-support`,
/// `published-application` or `other:TEXT` (TEXT non-empty, at most 64 bytes).
pub fn parse_reward_reason(text: &str) -> Result<RewardReason, TxBuildError> {
    match text {
        "client-library" => Ok(RewardReason::ClientLibrary),
        "how-to-guide" => Ok(RewardReason::HowToGuide),
        "forum-support" => Ok(RewardReason::ForumSupport),
        "published-application" => Ok(RewardReason::PublishedApplication),
        other => match other.strip_prefix("other:") {
            Some(free) if !free.trim().is_empty() => {
                BoundedString::new(free).map(RewardReason::Other).map_err(|free| TxBuildError::TextTooLong {
                    what: "reason text",
                    len: free.len(),
                    max: limits::REWARD_REASON_BYTES_MAX,
                })
            }
            _ => Err(TxBuildError::Reason(other.to_owned())),
        },
    }
}

/// A fresh random op id (for grants, holds, offers, batches).
pub fn random_op_id() -> Result<OpId, TxBuildError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| TxBuildError::Random(error.to_string()))?;
    Ok(OpId(bytes))
}

/// What a grant needs besides the asset, recipient and amount.
#[derive(Clone, Debug)]
pub struct GrantDetails {
    pub grant_id: OpId,
    pub kind: GrantKind,
    pub reason: Option<RewardReason>,
    pub external_ref: String,
}

/// A `Grant` op. Checks the kind/reason pairing the ledger enforces (a reward needs a reason,
/// other kinds take none), so the mistake is caught before a seq is spent on it.
pub fn grant_op(
    asset: AssetId,
    to: PublicKey,
    amount: Amount,
    details: GrantDetails,
) -> Result<Op, TxBuildError> {
    match (details.kind, &details.reason) {
        (GrantKind::Reward, None) => return Err(TxBuildError::ReasonMissing),
        (GrantKind::Purchase | GrantKind::Promo, Some(_)) => return Err(TxBuildError::ReasonNotAllowed),
        _ => {}
    }
    let external_ref =
        BoundedString::new(details.external_ref).map_err(|text| TxBuildError::TextTooLong {
            what: "external reference",
            len: text.len(),
            max: limits::GRANT_EXTERNAL_REF_BYTES_MAX,
        })?;
    Ok(Op::Grant(Grant {
        grant_id: details.grant_id,
        asset,
        to,
        amount,
        kind: details.kind,
        reason: details.reason,
        external_ref,
    }))
}

/// A `Transfer` op.
pub fn transfer_op(asset: AssetId, to: PublicKey, amount: Amount) -> Op {
    Op::Transfer(Transfer { asset, to, amount })
}

/// A `Burn` op.
pub fn burn_op(asset: AssetId, amount: Amount) -> Op {
    Op::Burn(Burn { asset, amount })
}

/// An `IssueAsset` op with no flags.
pub fn issue_asset_op(code: tally_types::AssetCode, scale: u8, max_supply: Option<Amount>) -> Op {
    Op::IssueAsset(IssueAsset { code, scale, max_supply, flags: tally_types::tx::AssetFlags::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_seed(&[7u8; 32])
    }

    fn chain() -> ChainId {
        ChainId::new("tally-test").expect("valid chain id")
    }

    fn asset() -> AssetId {
        "ACME@acme".parse().expect("valid asset")
    }

    #[test]
    fn amounts_respect_the_asset_scale() {
        assert_eq!(parse_positive_amount("12.5", 2), Ok(Amount(1250)));
        assert_eq!(parse_positive_amount("12.50", 1), Ok(Amount(125)));
        assert_eq!(parse_positive_amount("100", 0), Ok(Amount(100)));
        assert!(matches!(
            parse_positive_amount("12.345", 2),
            Err(TxBuildError::Amount(AmountError::TooManyDecimals { given: 3, scale: 2, .. }))
        ));
        assert_eq!(parse_positive_amount("0", 2), Err(TxBuildError::ZeroAmount));
        assert_eq!(parse_positive_amount("0.00", 2), Err(TxBuildError::ZeroAmount));
        assert!(matches!(
            parse_positive_amount("-1", 2),
            Err(TxBuildError::Amount(AmountError::Negative(_)))
        ));
        assert!(matches!(
            parse_positive_amount("1e3", 2),
            Err(TxBuildError::Amount(AmountError::NotANumber(_)))
        ));
    }

    #[test]
    fn grant_kinds_and_reasons_parse_exactly() {
        assert_eq!(parse_grant_kind("purchase"), Ok(GrantKind::Purchase));
        assert_eq!(parse_grant_kind("reward"), Ok(GrantKind::Reward));
        assert_eq!(parse_grant_kind("promo"), Ok(GrantKind::Promo));
        assert!(parse_grant_kind("Purchase").is_err());
        assert_eq!(parse_reward_reason("client-library"), Ok(RewardReason::ClientLibrary));
        assert_eq!(parse_reward_reason("how-to-guide"), Ok(RewardReason::HowToGuide));
        assert_eq!(parse_reward_reason("forum-support"), Ok(RewardReason::ForumSupport));
        assert_eq!(parse_reward_reason("published-application"), Ok(RewardReason::PublishedApplication));
        assert_eq!(
            parse_reward_reason("other:meetup talk"),
            Ok(RewardReason::Other(BoundedString::new("meetup talk").expect("short")))
        );
        assert!(matches!(parse_reward_reason("other:"), Err(TxBuildError::Reason(_))));
        assert!(matches!(parse_reward_reason("bug-bounty"), Err(TxBuildError::Reason(_))));
        let long = format!("other:{}", "x".repeat(limits::REWARD_REASON_BYTES_MAX + 1));
        assert!(matches!(parse_reward_reason(&long), Err(TxBuildError::TextTooLong { .. })));
    }

    #[test]
    fn grants_need_a_reason_exactly_when_they_are_rewards() {
        let details = |kind, reason| GrantDetails {
            grant_id: OpId([1; 16]),
            kind,
            reason,
            external_ref: "order-1".into(),
        };
        let to = SecretKey::from_seed(&[9u8; 32]).public_key();
        assert_eq!(
            grant_op(asset(), to, Amount(1), details(GrantKind::Reward, None)),
            Err(TxBuildError::ReasonMissing)
        );
        assert_eq!(
            grant_op(asset(), to, Amount(1), details(GrantKind::Promo, Some(RewardReason::HowToGuide))),
            Err(TxBuildError::ReasonNotAllowed)
        );
        assert!(
            grant_op(asset(), to, Amount(1), details(GrantKind::Reward, Some(RewardReason::HowToGuide)))
                .is_ok()
        );
        assert!(grant_op(asset(), to, Amount(1), details(GrantKind::Purchase, None)).is_ok());
        let mut long_ref = details(GrantKind::Purchase, None);
        long_ref.external_ref = "r".repeat(limits::GRANT_EXTERNAL_REF_BYTES_MAX + 1);
        assert!(matches!(grant_op(asset(), to, Amount(1), long_ref), Err(TxBuildError::TextTooLong { .. })));
    }

    #[test]
    fn built_transactions_verify_and_round_trip() {
        let to = SecretKey::from_seed(&[9u8; 32]).public_key();
        let signed =
            build_signed(&key(), &chain(), 3, Height(110), vec![transfer_op(asset(), to, Amount(5))], b"hi")
                .expect("valid transaction");
        assert_eq!(signed.tx.signer, key().public_key());
        assert_eq!(signed.tx.seq, 3);
        assert_eq!(signed.tx.valid_until_height, Height(110));
        signed.check_form_and_signature().expect("signature verifies");
        let decoded: SignedTransaction = tally_types::decode(&encode(&signed)).expect("decodes");
        assert_eq!(decoded, signed);
    }

    #[test]
    fn malformed_transactions_are_refused_before_signing() {
        let op = || burn_op(asset(), Amount(1));
        assert_eq!(build_signed(&key(), &chain(), 0, Height(1), vec![op()], b""), Err(TxBuildError::ZeroSeq));
        assert_eq!(build_signed(&key(), &chain(), 1, Height(1), vec![], b""), Err(TxBuildError::OpCount(0)));
        let too_many = (0..=limits::TX_OPS_MAX).map(|_| op()).collect();
        assert_eq!(
            build_signed(&key(), &chain(), 1, Height(1), too_many, b""),
            Err(TxBuildError::OpCount(limits::TX_OPS_MAX + 1))
        );
        let memo = vec![0u8; limits::TX_MEMO_BYTES_MAX + 1];
        assert_eq!(
            build_signed(&key(), &chain(), 1, Height(1), vec![op()], &memo),
            Err(TxBuildError::MemoTooLong(limits::TX_MEMO_BYTES_MAX + 1))
        );
    }

    #[test]
    fn validity_window_saturates() {
        assert_eq!(valid_until(Height(5), VALID_FOR_BLOCKS_DEFAULT), Height(105));
        assert_eq!(valid_until(Height(u64::MAX - 1), 100), Height(u64::MAX));
    }

    #[test]
    fn random_op_ids_differ() {
        assert_ne!(random_op_id().expect("randomness"), random_op_id().expect("randomness"));
    }
}
