//! The Tally client library: what the `tally` binary, the load generator and API gateways use
//! to hold keys, build and sign transactions, talk to a node, and verify badges.
//!
//! Invariants:
//! - Secret keys never touch the disk unencrypted: the keystore seals each one with a key
//!   derived from a passphrase (Argon2id) under XChaCha20-Poly1305, in a file of mode 0600.
//! - Secrets in memory are wiped on drop (`zeroize`).
//! - Input is checked before anything is sent: amounts against the asset's scale, ops and
//!   memo against the protocol limits (`txbuild`); every node answer is size- and time-bounded
//!   (`http`).
//!
//! # Example: a gateway pays a developer
//!
//! Keys live in a keystore (sealed with a passphrase); [`txbuild`] builds and signs ops at
//! the account's next seq; [`http::NodeClient`] submits and waits for the commit; [`proofs`]
//! checks what the node said against the genesis file alone.
//!
//! ```
//! use tally_client::{keystore::Keystore, txbuild};
//! use tally_types::{Amount, ChainId, Height, SecretKey};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! // A keystore directory of the gateway's own (created 0700 if missing, files 0600).
//! let keys = Keystore::open(&dir.path().join("keys"))?;
//! let gateway = keys.create("gateway", "a long passphrase")?;
//! let key = keys.load("gateway", "a long passphrase")?;
//! assert_eq!(key.public_key(), gateway);
//!
//! // Ten credits (scale 2: 1000 minor units) of ACME@acme to a developer, signed at seq 1.
//! let developer = SecretKey::from_seed(&[7; 32]).public_key();
//! let asset = "ACME@acme".parse()?;
//! let amount: Amount = txbuild::parse_positive_amount("10", 2)?;
//! let op = txbuild::transfer_op(asset, developer, amount);
//! let chain: ChainId = "tally-demo".parse()?;
//! let tx = txbuild::build_signed(&key, &chain, 1, txbuild::valid_until(Height(40), 100), vec![op], b"")?;
//! assert_eq!(tx.tx.signer, gateway);
//! # Ok(())
//! # }
//! ```
//!
//! Submitting it and proving the commit needs a node (and, for the proof, the genesis file):
//!
//! ```no_run
//! use tally_client::http::{NodeClient, Submitted};
//! use tally_client::proofs::{ChainSource, NodeSource, Trust, finalized_block, verify_tx_inclusion};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tx: tally_types::SignedTransaction = unimplemented!();
//! let node = NodeClient::new("http://127.0.0.1:8080")?;
//! if let Submitted::Committed(inclusion) = node.submit(&tx, true)? {
//!     println!("{} committed at height {}", inclusion.tx_id, inclusion.height);
//! }
//! // Trust nothing the node says: the epochs from the genesis file, the block's finality
//! // certificate, the tx and receipt roots.
//! let genesis = tally_genesis::Genesis::load("genesis.json")?;
//! let mut trust = Trust::from_genesis(&genesis);
//! let mut source = NodeSource::new(node);
//! trust.follow_epochs(&source.epochs()?)?;
//! let evidence = source.tx(&tx.id())?.ok_or("not committed")?;
//! let (block, finalized) = finalized_block(&mut source, &trust, evidence.height)?;
//! let included = verify_tx_inclusion(&block.header, &tx.id(), &evidence)?;
//! println!("at height {}, finalized by {} signatures", included.height, finalized.signers);
//! # Ok(())
//! # }
//! ```

pub mod audit;
pub mod badge;
pub mod epochs;
pub mod http;
pub mod jcs;
pub mod keystore;
pub mod market;
pub mod ob3;
pub mod pricing;
pub mod proofs;
#[cfg(test)]
mod test_net;
pub mod txbuild;
pub mod usage;
