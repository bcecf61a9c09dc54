//! Shared fixture for the ledger's integration tests: a small consortium, transaction builders,
//! and a chain driver that checks every invariant after every block.

#![allow(dead_code)] // Each test binary uses a different part of the fixture.

use tally_ledger::{
    AssetState, BalanceState, BlockContext, CommitBlockError, CommittedBlock, GenesisAsset, GenesisBalance,
    GenesisLedger, GenesisMember, History, MemState, StateKey, StateValue,
};
use tally_types::codec::{BoundedBytes, BoundedVec};
use tally_types::receipt::{Receipt, TxOutcome};
use tally_types::tx::{AssetFlags, Burn, Grant, GrantKind, IssueAsset, RewardReason, Transaction, Transfer};
use tally_types::{
    Amount, AssetCode, AssetId, ChainId, ErrorCode, Height, MemberId, Op, OpId, PublicKey, SecretKey,
    SignedTransaction,
};

pub const CHAIN: &str = "tally-test";

pub fn chain() -> ChainId {
    ChainId::new(CHAIN).expect("valid chain id")
}

/// A deterministic key from a one-byte seed.
pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

pub fn member(id: &str) -> MemberId {
    MemberId::new(id).expect("valid member id")
}

pub fn asset(text: &str) -> AssetId {
    text.parse().expect("valid asset id")
}

pub fn code(text: &str) -> AssetCode {
    AssetCode::new(text).expect("valid asset code")
}

pub fn op_id(n: u8) -> OpId {
    OpId([n; 16])
}

/// The consortium every test starts from.
pub struct Actors {
    /// Issuer of member `acme`.
    pub acme: SecretKey,
    /// Second issuer of member `acme`.
    pub acme2: SecretKey,
    /// Issuer of member `globex`.
    pub globex: SecretKey,
    pub alice: SecretKey,
    pub bob: SecretKey,
    pub carol: SecretKey,
}

pub fn actors() -> Actors {
    Actors { acme: key(1), acme2: key(2), globex: key(3), alice: key(10), bob: key(11), carol: key(12) }
}

/// Members `acme` (two issuers) and `globex`; assets `ACME@acme` (scale 2, max supply
/// 1,000,000), `PROMO@acme` (non-transferable), `GLX@globex` (no cap); alice holds 1,000 ACME
/// and 100 PROMO, bob 500 ACME.
pub fn genesis() -> GenesisLedger {
    let a = actors();
    GenesisLedger {
        members: vec![
            GenesisMember {
                id: member("acme"),
                name: "Acme APIs".into(),
                issuers: vec![a.acme.public_key(), a.acme2.public_key()],
            },
            GenesisMember {
                id: member("globex"),
                name: "Globex".into(),
                issuers: vec![a.globex.public_key()],
            },
        ],
        assets: vec![
            GenesisAsset {
                asset: asset("ACME@acme"),
                scale: 2,
                max_supply: Some(Amount(1_000_000)),
                flags: AssetFlags::default(),
            },
            GenesisAsset {
                asset: asset("PROMO@acme"),
                scale: 0,
                max_supply: None,
                flags: AssetFlags(AssetFlags::NON_TRANSFERABLE),
            },
            GenesisAsset {
                asset: asset("GLX@globex"),
                scale: 6,
                max_supply: None,
                flags: AssetFlags::default(),
            },
        ],
        balances: vec![
            GenesisBalance {
                account: a.alice.public_key(),
                asset: asset("ACME@acme"),
                amount: Amount(1_000),
            },
            GenesisBalance { account: a.bob.public_key(), asset: asset("ACME@acme"), amount: Amount(500) },
            GenesisBalance { account: a.alice.public_key(), asset: asset("PROMO@acme"), amount: Amount(100) },
        ],
        ..Default::default()
    }
}

pub fn transfer(asset_id: &str, to: &SecretKey, amount: u128) -> Op {
    Op::Transfer(Transfer { asset: asset(asset_id), to: to.public_key(), amount: Amount(amount) })
}

pub fn burn(asset_id: &str, amount: u128) -> Op {
    Op::Burn(Burn { asset: asset(asset_id), amount: Amount(amount) })
}

pub fn grant(id: u8, asset_id: &str, to: &SecretKey, amount: u128) -> Op {
    grant_with(id, asset_id, to.public_key(), amount, GrantKind::Purchase, None)
}

pub fn grant_with(
    id: u8,
    asset_id: &str,
    to: PublicKey,
    amount: u128,
    kind: GrantKind,
    reason: Option<RewardReason>,
) -> Op {
    Op::Grant(Grant {
        grant_id: op_id(id),
        asset: asset(asset_id),
        to,
        amount: Amount(amount),
        kind,
        reason,
        external_ref: Default::default(),
        pack: None,
    })
}

pub fn issue(code_text: &str, scale: u8, max_supply: Option<u128>, flags: u32) -> Op {
    Op::IssueAsset(IssueAsset {
        code: code(code_text),
        scale,
        max_supply: max_supply.map(Amount),
        flags: AssetFlags(flags),
    })
}

/// A signed transaction valid until height 1,000.
pub fn signed(signer: &SecretKey, seq: u64, ops: Vec<Op>) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        signer: signer.public_key(),
        seq,
        valid_until_height: Height(1_000),
        ops: BoundedVec::new(ops).expect("at most 16 ops"),
        memo: BoundedBytes::empty(),
    }
    .sign(signer)
}

/// A chain under test: state, height, and a history checker fed every block.
pub struct Chain {
    pub state: MemState,
    pub height: Height,
    pub history: History,
    pub time_ms: u64,
}

impl Chain {
    pub fn new() -> Self {
        Self::from_genesis(&genesis())
    }

    pub fn from_genesis(genesis: &GenesisLedger) -> Self {
        let state = MemState::from_genesis(genesis).expect("test genesis is valid");
        state.check_invariants().expect("genesis state keeps the invariants");
        Chain { state, height: Height(0), history: History::new(), time_ms: 1_700_000_000_000 }
    }

    /// The context of the next block.
    pub fn next_context(&self) -> BlockContext {
        BlockContext { chain_id: chain(), height: self.height.next(), time_ms: self.time_ms + 1_000 }
    }

    /// Executes and commits the next block. On success, checks every state and history
    /// invariant; on failure, checks that nothing changed.
    pub fn block(&mut self, txs: &[SignedTransaction]) -> Result<CommittedBlock, CommitBlockError> {
        let context = self.next_context();
        let root_before = self.state.root();
        let result = self.state.execute_and_commit(&context, txs);
        match &result {
            Ok(committed) => {
                self.height = context.height;
                self.time_ms = context.time_ms;
                assert_eq!(committed.state_root, self.state.root());
                self.state.check_invariants().expect("state invariants hold after every block");
                self.history
                    .observe_block(context.height, txs, &committed.output.receipts)
                    .expect("history invariants hold after every block");
                self.history
                    .check_facts(self.state.entries())
                    .expect("the ledger facts equal what the history implies after every block");
            }
            Err(_) => assert_eq!(self.state.root(), root_before, "a refused block changed the state"),
        }
        result
    }

    /// The seq `signer`'s next transaction must carry.
    pub fn next_seq(&self, signer: &SecretKey) -> u64 {
        match self.state.value(&StateKey::Account { account: signer.public_key() }) {
            Some(StateValue::Account(account)) => account.seq + 1,
            None => 1,
            Some(other) => panic!("account entry holds {other:?}"),
        }
    }

    /// Signs a transaction with the signer's next seq.
    pub fn tx(&self, signer: &SecretKey, ops: Vec<Op>) -> SignedTransaction {
        signed(signer, self.next_seq(signer), ops)
    }

    /// Runs one transaction in its own block and returns its receipt.
    pub fn run(&mut self, signer: &SecretKey, ops: Vec<Op>) -> Receipt {
        let tx = self.tx(signer, ops);
        let mut committed = self.block(std::slice::from_ref(&tx)).expect("the transaction is includable");
        assert_eq!(committed.output.receipts.len(), 1);
        committed.output.receipts.remove(0)
    }

    /// Runs one transaction that must succeed.
    pub fn ok(&mut self, signer: &SecretKey, ops: Vec<Op>) {
        let receipt = self.run(signer, ops);
        assert_eq!(receipt.outcome, TxOutcome::Success, "{receipt:?}");
    }

    /// Runs one transaction that must fail at `op_index` with `code`, and checks that nothing
    /// but the signer's seq changed.
    pub fn fails(&mut self, signer: &SecretKey, ops: Vec<Op>, op_index: u8, code: ErrorCode) {
        let before: Vec<(StateKey, StateValue)> = self.without_account(signer);
        let receipt = self.run(signer, ops);
        assert_eq!(receipt.outcome, TxOutcome::Failed { op_index, code }, "{receipt:?}");
        assert_eq!(self.without_account(signer), before, "a failed transaction left a trace");
    }

    fn without_account(&self, signer: &SecretKey) -> Vec<(StateKey, StateValue)> {
        let account = StateKey::Account { account: signer.public_key() };
        self.state
            .entries()
            .filter(|(key, _)| **key != account)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn balance(&self, holder: &SecretKey, asset_id: &str) -> BalanceState {
        match self.state.value(&StateKey::balance(holder.public_key(), asset(asset_id))) {
            Some(StateValue::Balance(balance)) => *balance,
            None => BalanceState::default(),
            Some(other) => panic!("balance entry holds {other:?}"),
        }
    }

    pub fn available(&self, holder: &SecretKey, asset_id: &str) -> u128 {
        self.balance(holder, asset_id).available.0
    }

    pub fn asset(&self, asset_id: &str) -> Option<AssetState> {
        match self.state.value(&StateKey::Asset { asset: asset(asset_id) }) {
            Some(StateValue::Asset(state)) => Some(*state),
            None => None,
            Some(other) => panic!("asset entry holds {other:?}"),
        }
    }

    pub fn supply(&self, asset_id: &str) -> u128 {
        self.asset(asset_id).expect("asset exists").supply.0
    }
}
