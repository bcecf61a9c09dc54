//! Every protocol size limit, in one place.
//!
//! Decoding untrusted bytes always goes through [`crate::codec::decode`], which refuses any
//! input longer than the type's [`crate::codec::Bounded::MAX_ENCODED_SIZE`]; the bounded
//! collection types refuse any length above their own limit. The constants here are those
//! limits. The `const` assertions at the bottom pin how they relate, so that a change to one
//! cannot silently make another unreachable or unsafe.

/// Longest chain id, in bytes. Chain ids are printable ASCII: `[a-z0-9-]`.
pub const CHAIN_ID_BYTES_MAX: usize = 64;
/// Shortest chain id, in bytes.
pub const CHAIN_ID_BYTES_MIN: usize = 3;
/// Operations in one transaction.
pub const TX_OPS_MAX: usize = 16;
/// Memo bytes in one transaction.
pub const TX_MEMO_BYTES_MAX: usize = 256;
/// Longest member id (`acme`), in bytes: `[a-z0-9-]{2,32}`.
pub const MEMBER_ID_BYTES_MAX: usize = 32;
/// Shortest member id, in bytes.
pub const MEMBER_ID_BYTES_MIN: usize = 2;
/// Longest asset code (`ACME`): `[A-Z0-9]{2,12}`.
pub const ASSET_CODE_BYTES_MAX: usize = 12;
/// Shortest asset code.
pub const ASSET_CODE_BYTES_MIN: usize = 2;
/// Largest asset scale (decimal places of the minor unit).
pub const ASSET_SCALE_MAX: u8 = 18;
/// A grant's external reference (an invoice or order number at the provider).
pub const GRANT_EXTERNAL_REF_BYTES_MAX: usize = 128;
/// The free-text part of a reward reason (`Other`).
pub const REWARD_REASON_BYTES_MAX: usize = 64;
/// A badge anchor's metadata URI.
pub const BADGE_METADATA_URI_BYTES_MAX: usize = 256;
/// A badge revocation reason.
pub const BADGE_REVOCATION_REASON_BYTES_MAX: usize = 128;
/// Badges in one anchored batch.
pub const BADGE_BATCH_LEAVES_MAX: u32 = 1 << 20;
/// The longest achievement id an anchor names (`tally_types::AchievementId`, an OB 3.0
/// achievement's URI). Published achievement URLs are well under 100 bytes; 128 leaves room
/// and keeps a (member, achievement) figures key within [`STATE_KEY_BYTES_MAX`].
pub const ACHIEVEMENT_ID_BYTES_MAX: usize = 128;
/// Achievements one anchor names (`Op::AnchorAchievements`). One issuing run covers a few
/// achievements (the client anchors one per batch); 32 of the longest ids with their counts
/// fit one transaction beside the anchor's own fields.
pub const ANCHOR_ACHIEVEMENTS_MAX: usize = 32;

/// Validators in one chain (f = ⌊(n − 1)/3⌋ ≤ 33).
pub const VALIDATORS_MAX: usize = 100;
/// Fewest validators: f = ⌊(n − 1)/3⌋ ≥ 1.
pub const VALIDATORS_MIN: usize = 4;
/// Transactions in one block.
pub const BLOCK_TXS_MAX: usize = 10_000;
/// Encoded size of one signed transaction.
pub const TX_BYTES_MAX: usize = 8 * 1024;
/// Encoded size of one block (header + transactions).
pub const BLOCK_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Encoded size of a header.
pub const HEADER_BYTES_MAX: usize = 512;
/// Encoded size of one certificate.
pub const CERTIFICATE_BYTES_MAX: usize = 16 * 1024;
/// Fills made by one PlaceOffer op (docs/ARCHITECTURE.md "Ledger": at most 1,000 fills per op).
pub const OFFER_FILLS_MAX: usize = 1_000;
/// Fills recorded in one receipt: every op of a transaction may be a PlaceOffer.
pub const RECEIPT_FILLS_MAX: usize = OFFER_FILLS_MAX * TX_OPS_MAX;
/// Expired holds one block releases in its prologue, earliest expiry first. Bounded so that a
/// block's work does not depend on how many holds happen to expire at once (an issuer could
/// place a hundred thousand holds with one expiry); the rest wait for the next blocks, and a
/// hold past its expiry already counts as expired for Settle and Void while it waits.
pub const HOLD_EXPIRIES_PER_BLOCK_MAX: usize = 1_000;
/// Encoded size of one receipt.
pub const RECEIPT_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Transactions in one `POST /v1/txs` request (a JSON array or a borsh
/// `Vec<SignedTransaction>`). Equal to the mempool's default per-account queue
/// (`mempool.per_account_max`) and seq window (`mempool.seq_ahead_max`), so one request can
/// carry a full window of one account's consecutive seqs (a larger batch from one account
/// could not be admitted whole). The node's HTTP body limit (`http.body_bytes_max`, 1 MiB by
/// default) must hold the request too: 1,000 one-op transfers or grants (at most 509 bytes
/// each; 548 for a purchase naming the longest pack) fit it as borsh, and all but the pack
/// purchases as JSON hex (which doubles the size); a batch of larger transactions needs a
/// larger body limit or fewer per request (`submit_batch` splits by bytes).
pub const TX_SUBMIT_BATCH_MAX: usize = 1_000;
/// Sibling hashes in a binary Merkle inclusion proof (trees of up to 2^64 leaves).
pub const MERKLE_PROOF_SIBLINGS_MAX: usize = 64;
/// Sibling hashes in a sparse Merkle proof (256-bit keys).
pub const SMT_PROOF_SIBLINGS_MAX: usize = 256;
/// Encoded size of one sparse Merkle proof.
pub const SMT_PROOF_BYTES_MAX: usize = 16 * 1024;
/// Encoded size of one value stored in the ledger state.
pub const STATE_VALUE_BYTES_MAX: usize = 64 * 1024;
/// Encoded size of one ledger state key (the largest, a book entry, is 1 + 2 · (4 + 12 + 4 + 32) + 24 + 17).
pub const STATE_KEY_BYTES_MAX: usize = 192;
/// A member's display name (the provider's name), in bytes.
pub const MEMBER_NAME_BYTES_MAX: usize = 64;
/// Issuer accounts of one member.
pub const MEMBER_ISSUERS_MAX: usize = 16;
/// A validator's name (`validator-0`), in bytes.
pub const VALIDATOR_NAME_BYTES_MAX: usize = 64;
/// A validator's public address (a multiaddr, or `IP:PORT`), in bytes: room for a DNS name of
/// 253 bytes with its protocol and port parts.
pub const ADDRESS_BYTES_MAX: usize = 320;
/// Members of the consortium, at genesis and after any number of admissions.
pub const MEMBERS_MAX: usize = 256;
/// How far ahead of its own height a proposal may set its expiry (about a week at 5 blocks a
/// second): long enough for members in every time zone to vote, short enough that a forgotten
/// proposal does not pass by surprise months later.
pub const PROPOSAL_TTL_BLOCKS_MAX: u64 = 3_024_000;
/// Shortest consensus timeout. Below this a loaded machine nullifies views it could have
/// completed, and the chain makes no progress.
pub const TIMEOUT_MS_MIN: u64 = 10;
/// Longest consensus timeout (10 minutes): a larger value only hides a stalled network.
pub const TIMEOUT_MS_MAX: u64 = 600_000;
/// Smallest allowed `block_bytes_max`: a header plus one transaction of the largest size, so
/// that every transaction the mempool admits fits some block.
pub const BLOCK_BYTES_MAX_FLOOR: u64 = (HEADER_BYTES_MAX + TX_BYTES_MAX) as u64;
/// Encoded size of a validator set.
pub const VALIDATOR_SET_BYTES_MAX: usize = 64 * 1024;
/// Transactions in one gossip message ([`crate::wire::TxBatch`]).
pub const TX_GOSSIP_BATCH_MAX: usize = 256;
/// Committed blocks in one sync answer ([`crate::wire::BlockResponse::Range`]): enough that a
/// node catching up pays one round trip per many blocks, few enough that one answer does not
/// hold a peer's serving slot for long.
pub const SYNC_RANGE_BLOCKS_MAX: usize = 64;
/// Encoded size of one sync answer. Full blocks reach this before [`SYNC_RANGE_BLOCKS_MAX`]:
/// a server stops before the block that would pass it, so an answer may hold fewer blocks.
pub const SYNC_RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Longest price plan id (`standard`), in bytes: `[a-z0-9-]{2,32}`, starting with a letter.
pub const PLAN_ID_BYTES_MAX: usize = 32;
/// Shortest price plan id, in bytes.
pub const PLAN_ID_BYTES_MIN: usize = 2;
/// Longest metered item or credit pack name (`search.query`), in bytes.
pub const ITEM_NAME_BYTES_MAX: usize = 64;
/// A price plan's title.
pub const PLAN_TITLE_BYTES_MAX: usize = 64;
/// Metered items in one price plan version. A settlement has at most one usage line per item,
/// so this is also the most lines a settlement carries ([`SETTLE_LINES_MAX`]). A plan must
/// also fit one transaction ([`TX_BYTES_MAX`]): 64 items fit with short names and a few tiers
/// each (about 80 bytes an item of two tiers), not with 8 tiers each.
pub const PLAN_ITEMS_MAX: usize = 64;
/// Volume tiers of one metered item.
pub const PLAN_TIERS_MAX: usize = 8;
/// Credit packs in one price plan version.
pub const PLAN_PACKS_MAX: usize = 16;
/// Usage lines in one settlement (one per metered item at most).
pub const SETTLE_LINES_MAX: usize = PLAN_ITEMS_MAX;
/// The longest application id a settlement names (`tally_types::AppId`).
pub const APP_ID_BYTES_MAX: usize = 64;
/// Decimal places of a unit price: prices are minor units of the asset per unit, exact to a
/// billionth (`1.5` is stored as 1,500,000,000 billionths).
pub const UNIT_PRICE_SCALE: u8 = 9;
/// Decimal places of a credit pack's price in its reference currency.
pub const REFERENCE_PRICE_SCALE_MAX: u8 = 4;

const _: () = assert!(VALIDATORS_MIN == 4, "f = (n - 1) / 3 >= 1");
const _: () = assert!(CHAIN_ID_BYTES_MIN <= CHAIN_ID_BYTES_MAX);
const _: () = assert!(MEMBER_ID_BYTES_MIN <= MEMBER_ID_BYTES_MAX);
const _: () = assert!(ASSET_CODE_BYTES_MIN <= ASSET_CODE_BYTES_MAX);
const _: () = assert!(PLAN_ID_BYTES_MIN <= PLAN_ID_BYTES_MAX);
// The largest price plan usage key: a tag, the holder, the member, the plan id and a version.
const _: () = assert!(1 + 32 + 4 + MEMBER_ID_BYTES_MAX + 4 + PLAN_ID_BYTES_MAX + 8 <= STATE_KEY_BYTES_MAX);
// A settlement with its most usage lines (each a name and a count) fits a transaction.
const _: () = assert!(SETTLE_LINES_MAX * (4 + ITEM_NAME_BYTES_MAX + 8) + 512 <= TX_BYTES_MAX);
// A full block of the largest transactions must fit the block limit, so that a proposer can
// always include what its mempool admitted, up to the count limit or the byte limit.
const _: () = assert!(TX_BYTES_MAX * 16 <= BLOCK_BYTES_MAX);
// One submitted batch fits one block, so a batch is never larger than what a block can take.
const _: () = assert!(TX_SUBMIT_BATCH_MAX <= BLOCK_TXS_MAX);
// The largest transaction: 16 ops of at most ~400 bytes each plus envelope and memo.
const _: () = assert!(TX_OPS_MAX * 450 + TX_MEMO_BYTES_MAX + 256 <= TX_BYTES_MAX);
// A certificate holds at most one signature (64 B) per validator plus a bitmap.
const _: () = assert!(VALIDATORS_MAX * 64 + VALIDATORS_MAX / 8 + 128 <= CERTIFICATE_BYTES_MAX);
// Every fill (op index, two ids, two keys, two amounts, price) encodes to 145 bytes.
const _: () = assert!(RECEIPT_FILLS_MAX * 145 + 1024 <= RECEIPT_BYTES_MAX);
const _: () = assert!(SMT_PROOF_SIBLINGS_MAX * 32 + 256 <= SMT_PROOF_BYTES_MAX);
// A state key holds at most a tag, an account key and an asset id.
const _: () = assert!(1 + 32 + 4 + ASSET_CODE_BYTES_MAX + 4 + MEMBER_ID_BYTES_MAX <= STATE_KEY_BYTES_MAX);
// The widest fact keys: (holder, provider, asset) spent and (holder, provider, app) usage.
const _: () = assert!(
    1 + 32 + 4 + MEMBER_ID_BYTES_MAX + 4 + ASSET_CODE_BYTES_MAX + 4 + MEMBER_ID_BYTES_MAX
        <= STATE_KEY_BYTES_MAX
);
const _: () = assert!(1 + 32 + 4 + MEMBER_ID_BYTES_MAX + 4 + APP_ID_BYTES_MAX <= STATE_KEY_BYTES_MAX);
// The badge figures key: a tag, the member and the achievement id.
const _: () = assert!(1 + 4 + MEMBER_ID_BYTES_MAX + 4 + ACHIEVEMENT_ID_BYTES_MAX <= STATE_KEY_BYTES_MAX);
// An anchor naming the most achievements (each an id and a count) with the longest metadata
// URI fits one transaction with its envelope (chain id, signer, seq, expiry, memo, signature).
const _: () = assert!(
    ANCHOR_ACHIEVEMENTS_MAX * (4 + ACHIEVEMENT_ID_BYTES_MAX + 4)
        + 32
        + 4
        + 2
        + 5
        + BADGE_METADATA_URI_BYTES_MAX
        + 1024
        <= TX_BYTES_MAX
);
// The largest key: a book entry (two asset ids, a 24-byte price rank, a 17-byte stamp).
const _: () =
    assert!(1 + 2 * (4 + ASSET_CODE_BYTES_MAX + 4 + MEMBER_ID_BYTES_MAX) + 24 + 17 <= STATE_KEY_BYTES_MAX);
// A member entry (name, issuer keys) must fit one state value.
const _: () = assert!(4 + MEMBER_NAME_BYTES_MAX + 4 + 32 * MEMBER_ISSUERS_MAX + 16 <= STATE_VALUE_BYTES_MAX);
// A gossip batch of the largest transactions is never larger than a block, the largest message
// the network already carries.
const _: () = assert!(TX_GOSSIP_BATCH_MAX * TX_BYTES_MAX <= BLOCK_BYTES_MAX);
// A sync range asks for at least one block, and its count travels as a u32.
const _: () = assert!(SYNC_RANGE_BLOCKS_MAX >= 1 && SYNC_RANGE_BLOCKS_MAX <= u32::MAX as usize);
// One committed block of the largest size (block + certificate) fits a sync answer with its
// variant tag and list length, so a range always makes progress, whatever the blocks hold.
const _: () = assert!(1 + 4 + BLOCK_BYTES_MAX + CERTIFICATE_BYTES_MAX <= SYNC_RESPONSE_BYTES_MAX);
const _: () = assert!(TIMEOUT_MS_MIN < TIMEOUT_MS_MAX);
const _: () = assert!(BLOCK_BYTES_MAX_FLOOR <= BLOCK_BYTES_MAX as u64);
// A proposal holds its action (an application is about 1.2 KB) and one vote per member.
const _: () = assert!(4 * 1024 + MEMBERS_MAX * (MEMBER_ID_BYTES_MAX + 8) <= STATE_VALUE_BYTES_MAX);
