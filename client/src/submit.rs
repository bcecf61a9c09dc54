//! How every `tally` command that writes submits and reports: sign the ops at the account's
//! next seq, submit, wait for the commit when asked (`send`), and print one JSON shape, the
//! node's `GET /v1/txs/{id}` answer (`committed_json`, `report_sent`); ledger error codes in
//! words (`describe`).

use anyhow::{Context, bail};
use serde_json::json;
use tally_client::http::{Submitted, TxInclusion};
use tally_client::txbuild;
use tally_types::{ErrorCode, Op, PublicKey, SecretKey, TxOutcome};

use crate::{Session, SubmitArgs, passphrase, usage};

/// A ledger error code in words, for people.
// Not split: one arm per error code, a table read top to bottom.
pub(crate) fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NotIssuer => "the signer is not an issuer of the member the operation names",
        ErrorCode::UnknownMember => "no such member (provider)",
        ErrorCode::UnknownAsset => "no such asset",
        ErrorCode::AssetExists => "the asset already exists",
        ErrorCode::BadScale => "the scale is above 18",
        ErrorCode::BadFlags => "undefined asset flags",
        ErrorCode::ZeroAmount => "the amount must be greater than zero",
        ErrorCode::MaxSupplyExceeded => "the grant would take the supply above the asset's maximum",
        ErrorCode::AmountOverflow => "an amount would overflow",
        ErrorCode::InsufficientBalance => "not enough available (unlocked) balance",
        ErrorCode::DuplicateGrantId => "this grant id was used before",
        ErrorCode::SelfTransfer => "sender and receiver are the same account",
        ErrorCode::RewardReasonMissing => "a reward grant needs a reason",
        ErrorCode::ReasonNotAllowed => "only reward grants take a reason",
        ErrorCode::NotTransferable => "the asset may not be transferred between holders",
        ErrorCode::BadMaxSupply => "the maximum supply is zero or below the current supply",
        ErrorCode::OpNotSupported => "this ledger version does not execute the operation",
        ErrorCode::NoAuthorization => {
            "the holder has not authorized this provider for this asset, or the authorization expired"
        }
        ErrorCode::CapExceeded => "the hold exceeds what the holder's authorization still allows",
        ErrorCode::DuplicateHoldId => "this hold id was used before",
        ErrorCode::UnknownHold => "no such hold",
        ErrorCode::HoldClosed => "the hold was already settled, voided or released at expiry",
        ErrorCode::DuplicateBatchId => "this settlement batch id was used before; a batch settles once",
        ErrorCode::SettleExceedsHold => "the settlement is larger than the held amount",
        ErrorCode::HoldNotExpired => "the holder may void a hold only after it expires",
        ErrorCode::BadExpiry => "the expiry is not after the block time",
        ErrorCode::BadPrice => "the price has a zero part",
        ErrorCode::SameAsset => "an offer cannot sell and buy the same asset",
        ErrorCode::DuplicateOfferId => "this offer id was used before",
        ErrorCode::UnknownOffer => "no such open offer",
        ErrorCode::NotOfferOwner => "only the owner may cancel the offer",
        ErrorCode::SelfTrade => "the offer would trade with one of your own offers",
        ErrorCode::FillOrKillNotFilled => "the fill-or-kill offer could not be filled completely at once",
        ErrorCode::PassiveWouldCross => "the passive offer would trade at once",
        ErrorCode::TooManyFills => "matching would need more than 1,000 fills; place a smaller offer",
        ErrorCode::NotTradable => "the asset may not be traded on the book",
        ErrorCode::BadBadgeBatch => "the badge batch is empty or too large",
        ErrorCode::DuplicateBadgeRoot => "this badge root was anchored before",
        ErrorCode::BadgeAlreadyRevoked => "the badge was already revoked",
        ErrorCode::NotMember => "the signer is not the governance key of an active member",
        ErrorCode::DuplicateProposal => "this proposal id was used before",
        ErrorCode::BadProposalExpiry => {
            "the proposal's expiry must be after this height and at most PROPOSAL_TTL_BLOCKS_MAX later"
        }
        ErrorCode::UnknownProposal => "no such proposal",
        ErrorCode::ProposalClosed => "the proposal has been decided and takes no more votes",
        ErrorCode::ProposalExpired => "the proposal expired before this vote",
        ErrorCode::AlreadyVoted => "this member has already voted on the proposal",
        ErrorCode::ApplicationWrongChain => "the application is for another chain",
        ErrorCode::BadProofOfPossession => {
            "a proof of possession in the application does not verify, or the issuer has not signed it"
        }
        ErrorCode::MemberExists => "the member id is taken (ids of removed members are never reused)",
        ErrorCode::KeyInUse => "a key of the application already serves the consortium",
        ErrorCode::UnknownValidator => "no such validator in the validator set",
        ErrorCode::ValidatorCountOutOfRange => {
            "the change would leave fewer than 4 validators (no quorum), or exceed the validator or member limit"
        }
        ErrorCode::BadConsensusParams => "the consensus parameters are out of range",
        ErrorCode::BadThreshold => "the threshold must be at least one half and below one",
        ErrorCode::IssuerNotOfMember => "the application's issuer is not an issuer of the member it names",
        ErrorCode::BadApplication => {
            "a field of the application is not acceptable (empty name or address, reused key, scale above 18)"
        }
        ErrorCode::UnknownPlan => "the provider has no price plan of this id and version",
        ErrorCode::PlanRetired => "the price plan version was retired; agree to a current version",
        ErrorCode::PlanVersionExists => "this price plan version was published before; versions never change",
        ErrorCode::PlanVersionGap => "a new price plan version must follow the latest one (1 for a new plan)",
        ErrorCode::BadPlan => {
            "the price plan is malformed (no items, items or tiers out of order, a bounded last tier, an empty pack)"
        }
        ErrorCode::PlanAssetMismatch => "the price plan charges in another asset",
        ErrorCode::UnknownPlanItem => "a usage line names an item the hold's price plan does not price",
        ErrorCode::BadUsageLines => "usage lines must be sorted by item, each once, each with units",
        ErrorCode::SettleAmountMismatch => {
            "the settled amount is not what the hold's price plan gives for the usage lines"
        }
        ErrorCode::UnknownPack => "the price plan has no credit pack of this name",
        ErrorCode::PackMismatch => "a pack purchase must be a purchase grant of exactly the pack's credits",
        ErrorCode::BadAchievementList => {
            "the anchor's achievements must be named once each, in ascending order, each with a count of at least 1"
        }
        ErrorCode::AchievementCountMismatch => {
            "the anchor's achievement counts must add up to its number of badges"
        }
    }
}

/// What a submission gave: the signer, and the committed inclusion when `--wait` was given.
pub(crate) struct Sent {
    pub signer: PublicKey,
    pub tx_id: tally_types::TxId,
    pub inclusion: Option<Box<TxInclusion>>,
}

/// Loads the `--from` key, signs `ops` at the account's next seq (or `--seq`) and submits
/// them; waits for the commit with `--wait`. Does not print.
pub(crate) fn send(context: &Session, args: &SubmitArgs, ops: Vec<Op>) -> anyhow::Result<Sent> {
    let store = context.keystore()?;
    let passphrase = passphrase(false)?;
    let key: SecretKey = store.load(&args.from, &passphrase)?;
    send_with_key(context, &key, args, ops)
}

/// [`send`] with a key already loaded (`args.from` is not read), for commands that sign
/// something else with the same key first.
pub(crate) fn send_with_key(
    context: &Session,
    key: &SecretKey,
    args: &SubmitArgs,
    ops: Vec<Op>,
) -> anyhow::Result<Sent> {
    let client = context.client()?;
    let status = client.status().context("reading the node's status")?;
    let seq = match args.seq {
        Some(seq) => seq,
        None => {
            let account = client.account(&key.public_key()).context("reading the signer's account")?;
            account.seq.checked_add(1).context("the account's seq is exhausted")?
        }
    };
    let valid_until = txbuild::valid_until(status.committed_height, args.valid_for);
    let signed = txbuild::build_signed(key, &status.chain_id, seq, valid_until, ops, b"")
        .map_err(|error| usage(error.to_string()))?;
    let tx_id = signed.id();
    let inclusion = match client.submit(&signed, args.wait)? {
        Submitted::Admitted(admitted) => {
            if admitted != tx_id {
                bail!("the node admitted transaction {admitted} instead of {tx_id}");
            }
            None
        }
        Submitted::Committed(inclusion) => {
            // The answer is remote input: check it names what we sent.
            if inclusion.tx_id != tx_id {
                bail!("the node answered for transaction {} instead of {tx_id}", inclusion.tx_id);
            }
            Some(inclusion)
        }
    };
    Ok(Sent { signer: key.public_key(), tx_id, inclusion })
}

/// Fails with the receipt's error in words when the committed transaction failed.
pub(crate) fn check_outcome(inclusion: &TxInclusion, what: &str) -> anyhow::Result<()> {
    match &inclusion.receipt.outcome {
        TxOutcome::Success => Ok(()),
        TxOutcome::Failed { code, .. } => {
            let slug = serde_json::to_value(code)?.as_str().unwrap_or("unknown").to_owned();
            bail!(
                "{what} refused by the ledger: {} ({slug}); transaction {} at height {} changed nothing but its seq",
                describe(*code),
                inclusion.tx_id,
                inclusion.height
            )
        }
    }
}

/// Prints what `send` gave when there is nothing more to say, and fails on a failed receipt.
pub(crate) fn report_sent(
    context: &Session,
    sent: &Sent,
    what: &str,
    extra: serde_json::Value,
    human: impl FnOnce(),
) -> anyhow::Result<()> {
    let value = sent_json(sent, extra);
    match &sent.inclusion {
        None => {
            context.print(value, || {
                human();
                println!("submitted {} (not waiting; see `tally tx wait {}`)", sent.tx_id, sent.tx_id)
            });
            Ok(())
        }
        Some(inclusion) => {
            if context.json && inclusion.receipt.outcome != TxOutcome::Success {
                // The error below goes to stderr; the JSON document still says what happened.
                println!("{value}");
                return check_outcome(inclusion, what);
            }
            check_outcome(inclusion, what)?;
            context.print(value, || {
                human();
                println!("committed {} at height {}", inclusion.tx_id, inclusion.height)
            });
            Ok(())
        }
    }
}

/// The `--json` document of a submission: `{"tx_id", "committed": false}` when not waited
/// for, else [`committed_json`]; with the command's own fields (`extra`) added.
fn sent_json(sent: &Sent, extra: serde_json::Value) -> serde_json::Value {
    let mut value = match &sent.inclusion {
        None => json!({ "tx_id": sent.tx_id, "committed": false }),
        Some(inclusion) => committed_json(inclusion),
    };
    merge(&mut value, extra);
    value
}

/// A committed transaction as every command prints it with `--json`: the node's answer to
/// `GET /v1/txs/{id}` (tx id, height, index, block id, tx root, receipt, proof, tx bytes in
/// hex) with `"committed": true`, so `tally tx status` and the commands that submit agree.
pub(crate) fn committed_json(inclusion: &TxInclusion) -> serde_json::Value {
    let mut value = inclusion.raw.clone();
    merge(&mut value, json!({ "committed": true }));
    value
}

pub(crate) fn merge(value: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(target), serde_json::Value::Object(source)) = (value.as_object_mut(), extra) {
        target.extend(source);
    }
}

#[cfg(test)]
mod tests {
    use tally_types::{Height, Receipt, TxId};

    use super::*;

    #[test]
    fn a_committed_submission_prints_the_apis_transaction_with_the_commands_fields() {
        let tx_id = TxId(tally_types::Hash([5; 32]));
        let receipt = Receipt::success(tx_id);
        // What `GET /v1/txs/{id}` and `POST /v1/txs?wait=commit` answer.
        let answer = json!({
            "tx_id": tx_id,
            "height": 7,
            "index": 1,
            "block_id": "ab".repeat(32),
            "tx_root": "cd".repeat(32),
            "receipt": receipt,
            "proof": { "index": 1, "leaf_count": 2, "siblings": ["ef".repeat(32)] },
            "tx": "0102",
        });
        let inclusion = TxInclusion { tx_id, height: Height(7), index: 1, receipt, raw: answer.clone() };
        let sent = Sent {
            signer: SecretKey::from_seed(&[1; 32]).public_key(),
            tx_id,
            inclusion: Some(Box::new(inclusion)),
        };
        let mut expected = answer;
        expected["committed"] = json!(true);
        expected["hold_id"] = json!("00");
        assert_eq!(sent_json(&sent, json!({ "hold_id": "00" })), expected);

        let pending = Sent { inclusion: None, ..sent };
        assert_eq!(
            sent_json(&pending, json!({ "hold_id": "00" })),
            json!({ "tx_id": tx_id, "committed": false, "hold_id": "00" })
        );
    }
}
