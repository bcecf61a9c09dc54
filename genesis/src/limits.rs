//! Limits on a genesis document and its consensus parameters. Protocol-wide limits (validator
//! count, block sizes, id lengths) are in `tally_types::limits`; these are the ones only a
//! genesis document has. The `const` assertions at the bottom pin how they relate.

use tally_types::limits as protocol;
pub use tally_types::limits::{
    BLOCK_BYTES_MAX_FLOOR, MEMBERS_MAX, TIMEOUT_MS_MAX, TIMEOUT_MS_MIN, VALIDATOR_NAME_BYTES_MAX,
};

/// The genesis format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Largest genesis file read, in bytes. The largest valid document (every list at its limit,
/// pretty-printed) is well under this; anything bigger is refused before it is parsed.
pub const GENESIS_FILE_BYTES_MAX: u64 = 32 * 1024 * 1024;

/// Assets created at genesis.
pub const ASSETS_MAX: usize = 1_024;
/// Initial balances.
pub const BALANCES_MAX: usize = 65_536;
pub use tally_types::address::DNS_NAME_BYTES_MAX;

/// Largest time a genesis document may carry: 2^53 − 1 ms, the largest integer every JSON
/// reader (JavaScript included) holds exactly. That is some 285,000 years from 1970.
pub const GENESIS_TIME_MS_MAX: u64 = (1 << 53) - 1;

// Validator count and key pools must fit u16 indices and the pooled duplicate check.
const _: () = assert!(protocol::VALIDATORS_MAX <= u16::MAX as usize);
const _: () = assert!(MEMBERS_MAX * protocol::MEMBER_ISSUERS_MAX <= 1 << 16);
