//! Tally's protocol types: ids, keys, amounts, transactions and ops, blocks, votes and
//! certificates, with the canonical codec, domain-separated hashing and signing, and Merkle
//! trees and proofs that every other crate shares, and the messages validators exchange
//! besides consensus ([`wire`]).
//!
//! Invariants this crate keeps:
//! - No I/O, no clock, no async, and no randomness except the coefficients of batch signature
//!   verification ([`keys::verify_batch`]), drawn from the OS, which cannot change a verdict:
//!   every function is a pure computation of its inputs.
//! - Untrusted bytes enter only through [`codec::decode`], which is bounded, strict and
//!   canonical; every size limit is in [`limits`].
//! - Every hash has its own domain ([`hash::Domain`]), every signature its own namespace
//!   ([`keys::Namespace`]) and the chain id.
//! - Signature validity is ZIP-215 with weak keys refused ([`keys`]); a batch check gives every
//!   signature the verdict the single check gives it.
//! - Consensus types hold no `HashMap` and no floats.

pub mod address;
pub mod amount;
pub mod archive;
pub mod block;
pub mod calendar;
pub mod codec;
pub mod consensus;
pub mod governance;
pub mod hash;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod merkle;
pub mod pricing;
pub mod receipt;
pub mod smt;
pub mod tx;
pub mod wire;

pub use amount::{Amount, AmountError, Price};
pub use block::{Block, BlockId, ChildError, Header, ParentLink};
pub use codec::{Bounded, BoundedBytes, BoundedString, BoundedVec, DecodeError, decode, encode};
pub use consensus::{Certificate, CertificateError, Proposal, Subject, ValidatorSet, Vote};
pub use hash::{Domain, Hash};
pub use ids::{
    AchievementId, AppId, AssetCode, AssetId, ChainId, Currency, Height, IdError, ItemName, MemberId, OpId,
    PlanId, VIEW_EPOCH_SHIFT, ValidatorIndex, View,
};
pub use keys::{KeyError, Namespace, PublicKey, SecretKey, Signature, SignatureItem, verify_batch};
pub use receipt::{ErrorCode, Fill, Receipt, TxOutcome};
pub use tx::{Op, SignedTransaction, Transaction, TxId};
