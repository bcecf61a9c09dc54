//! The bridge to `tally-ledger`: the ledger's own genesis check and the initial state.
//! Kept in one place so that a change in the ledger's genesis API touches one file here.

use tally_ledger::MemState;
use tally_ledger::genesis::{GenesisError as LedgerGenesisError, genesis_writes};
use tally_types::Hash;

use crate::schema::Genesis;

/// Runs the ledger's genesis check (`genesis_writes`) over the document's ledger part.
pub(crate) fn check(genesis: &Genesis) -> Result<(), LedgerGenesisError> {
    genesis_writes(&genesis.ledger()).map(|_| ())
}

impl Genesis {
    /// The ledger state before block 1, in memory.
    pub fn initial_state(&self) -> MemState {
        MemState::from_genesis(&self.ledger())
            .expect("validation ran the ledger's genesis check on this document, and it is deterministic")
    }

    /// The state root before block 1: the root block 1 executes against.
    pub fn initial_state_root(&self) -> Hash {
        self.initial_state().root()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use tally_types::{Amount, ChainId, MemberId};

    use super::*;
    use crate::ConsensusParams;
    use crate::init::{TestnetSpec, build_testnet};
    use crate::keys::KeySource;

    fn genesis() -> Genesis {
        let chain_id = ChainId::new("tally-test").expect("valid chain id");
        let keys = KeySource::seeded(b"ledger", &chain_id).expect("valid seed");
        let spec = TestnetSpec {
            chain_id,
            validators: 4,
            members: vec![MemberId::new("acme").expect("valid id")],
            genesis_time_ms: 1,
            consensus: ConsensusParams::default(),
            listen_ip: IpAddr::from([127, 0, 0, 1]),
            base_port: 27_000,
            issuer_float: Some(Amount(10)),
        };
        build_testnet(&spec, &keys).expect("valid network").genesis
    }

    #[test]
    fn ledger_refusals_reach_the_caller() {
        let mut genesis = genesis();
        assert!(check(&genesis).is_ok());
        // Bypass validation (only this crate can) to check the safety net itself.
        genesis.balances[0].amount = Amount::ZERO;
        assert!(matches!(check(&genesis), Err(LedgerGenesisError::ZeroBalance { .. })));
    }

    #[test]
    fn initial_state_holds_the_opening_balance() {
        let genesis = genesis();
        let state = genesis.initial_state();
        let opening = &genesis.balances[0];
        assert!(opening.amount > Amount::ZERO, "the test network opens with a float");
        let key = tally_ledger::StateKey::balance(opening.account, opening.asset.clone());
        match state.value(&key) {
            Some(tally_ledger::StateValue::Balance(balance)) => {
                assert_eq!(balance.available, opening.amount);
                assert_eq!(balance.locked, Amount::ZERO);
            }
            other => panic!("the opening balance is not in the initial state: {other:?}"),
        }
        // The root commits to that state: another opening amount gives another root.
        let mut other = genesis.clone();
        other.balances[0].amount = Amount(opening.amount.0 + 1);
        assert_ne!(other.initial_state_root(), genesis.initial_state_root());
        state.check_invariants().expect("invariants hold at genesis");
    }
}
