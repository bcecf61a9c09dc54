//! `tally`: the command-line client (docs/ARCHITECTURE.md "Client"): keys, accounts, assets, grants, transfers,
//! burns and transaction status, against one node's HTTP API.
//!
//! Exit codes: 0 on success, 1 when the node or the ledger refused (the problem's `detail` or
//! the receipt's error is printed), 2 on a usage error (bad flags, amounts, addresses).

mod cmd_audit;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use tally_client::http::{NodeClient, TxInclusion};
use tally_client::keystore::Keystore;
use tally_client::txbuild::{self, GrantDetails, VALID_FOR_BLOCKS_DEFAULT};
use tally_types::{AssetCode, AssetId, Op, OpId, PublicKey, SecretKey, TxId, TxOutcome};
use zeroize::Zeroizing;

mod cmd_award;
mod cmd_badge;
mod cmd_figures;
mod cmd_gov;
mod cmd_grant;
mod cmd_market;
mod cmd_price;
mod cmd_spend;
mod cmd_verify;
mod submit;

const NODE_DEFAULT: &str = "http://127.0.0.1:28000";
/// Longest a secret read from a file or stdin may be: a hex seed is 64 characters.
const SECRET_INPUT_BYTES_MAX: u64 = 1024;
/// How often `tx wait` asks the node.
const POLL_INTERVAL_MS: u64 = 500;
/// Assets per `GET /v1/assets` page for `asset list`, and the most pages it walks.
const ASSET_PAGE: usize = 1_000;
const ASSET_PAGES_MAX: usize = 100;

#[derive(Parser)]
#[command(name = "tally", version, about = "Tally client: keys, credits and transactions")]
struct Cli {
    /// The node's HTTP API.
    #[arg(long, global = true, env = "TALLY_NODE", default_value = NODE_DEFAULT)]
    node: String,
    /// The keystore directory (default ~/.tally/keys).
    #[arg(long, global = true, env = "TALLY_KEYSTORE")]
    keystore: Option<PathBuf>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the encrypted keystore.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show an account's seq and balances (ADDR is an address or a key name).
    Account { address: String },
    /// Issue or list assets.
    #[command(subcommand)]
    Asset(AssetCommand),
    /// Mint credits to an account, or to many from a CSV with --csv (issuer only).
    Grant(GrantArgs),
    /// Move available credits to another account.
    Transfer(TransferArgs),
    /// Return credits to the issuer; supply falls.
    Burn(BurnArgs),
    /// Look up a transaction.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Place, cancel and list offers; show a market's book.
    #[command(subcommand)]
    Offer(cmd_market::OfferCommand),
    /// Authorize a provider to hold and settle your credits for metered usage.
    #[command(subcommand)]
    Spend(cmd_spend::SpendCommand),
    /// Lock a holder's credits for metered usage (provider issuer; prints the hold id).
    Hold(cmd_spend::HoldArgs),
    /// Capture a hold for a batch of metered calls from a usage CSV; the rest is released.
    Settle(cmd_spend::SettleArgs),
    /// Release a hold in full.
    Void(cmd_spend::VoidArgs),
    /// Verify the whole chain from the genesis file: certificates, signatures, re-execution,
    /// state roots, invariants. Exit code 0 only when everything verifies.
    Audit(cmd_audit::AuditArgs),
    /// Anchor, verify, revoke Open Badges; show receipts.
    #[command(subcommand)]
    Badge(cmd_badge::BadgeCommand),
    /// Check one transaction or state proof against a finalized header.
    #[command(subcommand)]
    Verify(cmd_verify::VerifyCommand),
    /// Sign or check an application to join a consortium (at genesis or by vote).
    #[command(subcommand)]
    Application(ApplicationCommand),
    /// Consortium governance: propose changes, vote, list and show proposals and the consortium.
    #[command(subcommand)]
    Gov(cmd_gov::GovCommand),
    /// Price plans: list, show and quote every provider's prices; publish and retire your own.
    #[command(subcommand)]
    Price(cmd_price::PriceCommand),
    /// List the equivocation evidence the node stored: validators that signed two conflicting
    /// messages, with both messages.
    Evidence,
}

#[derive(Subcommand)]
enum ApplicationCommand {
    /// Add the member issuer's proof of possession to an application from `tally-node apply`
    /// (the file is rewritten in place; the key never leaves the keystore).
    Sign {
        /// The application file.
        file: PathBuf,
        /// The issuer key's name in the keystore.
        #[arg(long)]
        key: String,
    },
    /// Check an application's fields and its three proofs for CHAIN_ID.
    Check {
        file: PathBuf,
        #[arg(long)]
        chain_id: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a new key.
    New { name: String },
    /// List keys (no passphrase needed).
    List,
    /// Show a key's address.
    Show { name: String },
    /// Import a hex seed from FILE, or from stdin when no --file is given.
    Import {
        name: String,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Print a key's hex seed (handle with care).
    Export { name: String },
}

#[derive(Subcommand)]
enum AssetCommand {
    /// Issue a new asset CODE@<your member>.
    Issue {
        #[arg(long)]
        code: String,
        #[arg(long)]
        scale: u8,
        /// In human units at --scale.
        #[arg(long)]
        max_supply: Option<String>,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// List assets.
    List,
}

#[derive(Subcommand)]
enum TxCommand {
    /// Show a transaction's receipt if it is committed.
    Status { id: String },
    /// Wait until a transaction is committed, then show its receipt.
    Wait {
        id: String,
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: u64,
    },
}

#[derive(Args)]
struct SubmitArgs {
    /// The signing key's name in the keystore.
    #[arg(long)]
    from: String,
    /// Wait for the commit and show the receipt.
    #[arg(long)]
    wait: bool,
    /// Blocks from the current height the transaction stays valid for.
    #[arg(long, default_value_t = VALID_FOR_BLOCKS_DEFAULT)]
    valid_for: u64,
    /// The seq to sign with; default: the committed account seq + 1. Set it to send several
    /// transactions back to back without --wait (the node's account view is committed state).
    #[arg(long)]
    seq: Option<u64>,
}

#[derive(Args)]
struct GrantArgs {
    #[arg(long)]
    asset: String,
    #[arg(long, required_unless_present = "csv")]
    to: Option<String>,
    #[arg(long, required_unless_present = "csv")]
    amount: Option<String>,
    /// purchase, reward or promo.
    #[arg(long, required_unless_present = "csv")]
    kind: Option<String>,
    /// For rewards: client-library, how-to-guide, forum-support, published-application, other:TEXT.
    #[arg(long)]
    reason: Option<String>,
    /// Your own reference (order, invoice).
    #[arg(long = "ref", default_value = "")]
    external_ref: String,
    /// The grant id (32 hex); random when absent. Reuse it to make a retry idempotent.
    #[arg(long)]
    id: Option<String>,
    /// For purchases: the credit pack of your price plan the purchase fulfils, PLAN@VERSION/PACK
    /// (e.g. standard@1/starter); the ledger then requires exactly the pack's credits.
    #[arg(long)]
    pack: Option<String>,
    /// Many grants of --asset from a CSV file, one transaction each, signed with consecutive
    /// seqs and sent in batches; one result per row. Header `to,amount,kind,reason`, optionally
    /// `,grant_id` then `,external_ref`; no quoting; reason empty unless kind is reward;
    /// grant_id empty for a random one. Every row is checked first: bad rows are named by line
    /// and nothing is sent.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["to", "amount", "kind", "reason", "id", "external_ref", "pack"]
    )]
    csv: Option<PathBuf>,
    #[command(flatten)]
    submit: SubmitArgs,
}

#[derive(Args)]
struct TransferArgs {
    #[arg(long)]
    asset: String,
    #[arg(long)]
    to: String,
    #[arg(long)]
    amount: String,
    #[command(flatten)]
    submit: SubmitArgs,
}

#[derive(Args)]
struct BurnArgs {
    #[arg(long)]
    asset: String,
    #[arg(long)]
    amount: String,
    #[command(flatten)]
    submit: SubmitArgs,
}

/// An error in what the user typed: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            if error.downcast_ref::<UsageError>().is_some() { ExitCode::from(2) } else { ExitCode::from(1) }
        }
    }
}

struct Session {
    node: String,
    keystore: Option<PathBuf>,
    json: bool,
}

impl Session {
    fn client(&self) -> anyhow::Result<NodeClient> {
        NodeClient::new(&self.node).map_err(|error| usage(error.to_string()))
    }

    fn keystore(&self) -> anyhow::Result<Keystore> {
        let dir = match &self.keystore {
            Some(dir) => dir.clone(),
            None => {
                let home = std::env::var_os("HOME").context("HOME is not set; pass --keystore DIR")?;
                Path::new(&home).join(".tally").join("keys")
            }
        };
        Ok(Keystore::open(&dir)?)
    }

    fn print(&self, value: serde_json::Value, human: impl FnOnce()) {
        if self.json {
            println!("{value}");
        } else {
            human();
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let context = Session { node: cli.node, keystore: cli.keystore, json: cli.json };
    match cli.command {
        Command::Keys(command) => keys(&context, command),
        Command::Application(command) => application(&context, command),
        Command::Gov(command) => cmd_gov::run(&context, command),
        Command::Price(command) => cmd_price::run(&context, command),
        Command::Audit(args) => cmd_audit::run(&context, args),
        Command::Badge(command) => cmd_badge::run(&context, command),
        Command::Verify(command) => cmd_verify::run(&context, command),
        Command::Account { address } => account(&context, &address),
        Command::Evidence => evidence(&context),
        Command::Asset(AssetCommand::List) => asset_list(&context),
        Command::Asset(AssetCommand::Issue { code, scale, max_supply, submit }) => {
            let code: AssetCode = code.parse().map_err(|error| usage(format!("--code: {error}")))?;
            if scale > tally_types::limits::ASSET_SCALE_MAX {
                return Err(usage(format!(
                    "--scale {scale} is above the maximum of {}",
                    tally_types::limits::ASSET_SCALE_MAX
                )));
            }
            let max_supply = match max_supply {
                Some(text) => Some(
                    txbuild::parse_positive_amount(&text, scale)
                        .map_err(|error| usage(format!("--max-supply: {error}")))?,
                ),
                None => None,
            };
            submit_ops(&context, &submit, vec![txbuild::issue_asset_op(code, scale, max_supply)])
        }
        Command::Grant(args) => grant(&context, args),
        Command::Transfer(args) => {
            let client = context.client()?;
            let to = resolve_address(&context, &args.to, "--to")?;
            let (asset, amount) = asset_amount(&client, &args.asset, &args.amount)?;
            submit_ops(&context, &args.submit, vec![txbuild::transfer_op(asset, to, amount)])
        }
        Command::Burn(args) => {
            let client = context.client()?;
            let (asset, amount) = asset_amount(&client, &args.asset, &args.amount)?;
            submit_ops(&context, &args.submit, vec![txbuild::burn_op(asset, amount)])
        }
        Command::Tx(TxCommand::Status { id }) => tx_status(&context, &id),
        Command::Tx(TxCommand::Wait { id, timeout_ms }) => tx_wait(&context, &id, timeout_ms),
        Command::Offer(command) => cmd_market::run(&context, command),
        Command::Spend(command) => cmd_spend::authorize(&context, command),
        Command::Hold(args) => cmd_spend::hold(&context, args),
        Command::Settle(args) => cmd_spend::settle(&context, args),
        Command::Void(args) => cmd_spend::void(&context, args),
    }
}

/// The passphrase from `TALLY_PASSPHRASE`, else a prompt without echo (twice when `confirm`).
fn passphrase(confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Some(value) = std::env::var_os("TALLY_PASSPHRASE") {
        let value = value.into_string().map_err(|_| usage("TALLY_PASSPHRASE is not valid UTF-8"))?;
        return Ok(Zeroizing::new(value));
    }
    let first = Zeroizing::new(rpassword::prompt_password("Passphrase: ").context("reading the passphrase")?);
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("Repeat passphrase: ").context("reading the passphrase")?,
        );
        if *first != *second {
            bail!("the passphrases differ");
        }
    }
    Ok(first)
}

/// Reads a hex seed from `file` or stdin, bounded and trimmed.
fn read_secret(file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    use std::io::Read;
    let mut text = Zeroizing::new(String::new());
    match file {
        Some(path) => {
            let handle = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            handle
                .take(SECRET_INPUT_BYTES_MAX)
                .read_to_string(&mut text)
                .with_context(|| format!("reading {}", path.display()))?;
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("Paste the hex seed, then press Enter:");
            }
            std::io::stdin()
                .lock()
                .take(SECRET_INPUT_BYTES_MAX)
                .read_line(&mut text)
                .context("reading the seed from stdin")?;
        }
    }
    Ok(Zeroizing::new(text.trim().to_owned()))
}

fn keys(context: &Session, command: KeysCommand) -> anyhow::Result<()> {
    let store = context.keystore()?;
    match command {
        KeysCommand::New { name } => {
            let passphrase = passphrase(true)?;
            let address = store.create(&name, &passphrase)?;
            context.print(json!({ "name": name, "address": address }), || println!("{name}  {address}"));
        }
        KeysCommand::Import { name, file } => {
            let secret = read_secret(file.as_deref())?;
            let passphrase = passphrase(true)?;
            let address = store.import(&name, &secret, &passphrase)?;
            context.print(json!({ "name": name, "address": address }), || println!("{name}  {address}"));
        }
        KeysCommand::List => {
            let keys = store.list()?;
            let list: Vec<_> =
                keys.iter().map(|key| json!({ "name": key.name, "address": key.address })).collect();
            context.print(json!({ "keys": list }), || {
                for key in &keys {
                    println!("{}  {}", key.name, key.address);
                }
            });
        }
        KeysCommand::Show { name } => {
            let key = store.show(&name)?;
            context.print(json!({ "name": key.name, "address": key.address }), || {
                println!("{}  {}", key.name, key.address)
            });
        }
        KeysCommand::Export { name } => {
            let passphrase = passphrase(false)?;
            let secret = store.export(&name, &passphrase)?;
            let address = store.show(&name)?.address;
            context.print(json!({ "name": name, "address": address, "secret": secret.as_str() }), || {
                println!("{}", secret.as_str())
            });
        }
    }
    Ok(())
}

fn application(context: &Session, command: ApplicationCommand) -> anyhow::Result<()> {
    use tally_genesis::application::Application;
    match command {
        ApplicationCommand::Sign { file, key } => {
            let mut application = Application::load(&file)?;
            let secret: SecretKey = context.keystore()?.load(&key, &passphrase(false)?)?;
            application.sign_issuer(&secret).with_context(|| format!("signing {}", file.display()))?;
            application.verify(&application.body.chain_id.clone())?;
            tally_genesis::init::write_file_atomically(
                &file,
                application.to_json_pretty().as_bytes(),
                0o644,
            )?;
            context.print(json!({ "file": file, "signed_by": secret.public_key() }), || {
                println!("signed {} ({application}) as issuer {}", file.display(), secret.public_key())
            });
        }
        ApplicationCommand::Check { file, chain_id } => {
            let application = Application::load(&file)?;
            let chain_id = tally_types::ChainId::new(chain_id).context("--chain-id")?;
            application
                .verify(&chain_id)
                .with_context(|| format!("{} ({application}) is refused", file.display()))?;
            context.print(json!({ "file": file, "valid": true }), || {
                println!("{}: valid ({application}; all three proofs verify)", file.display())
            });
        }
    }
    Ok(())
}

/// An address (bech32m or hex), or else the name of a key in the keystore.
fn resolve_address(context: &Session, text: &str, flag: &str) -> anyhow::Result<PublicKey> {
    match text.parse::<PublicKey>() {
        Ok(key) => Ok(key),
        Err(error) => {
            let named = if text.starts_with("tally1") { None } else { context.keystore()?.show(text).ok() };
            named.map(|info| info.address).ok_or_else(|| {
                usage(format!("{flag} `{text}` is neither an address ({error}) nor a key name"))
            })
        }
    }
}

/// Parses `--asset` and `--amount`, with the scale read from the node.
fn asset_amount(
    client: &NodeClient,
    asset: &str,
    amount: &str,
) -> anyhow::Result<(AssetId, tally_types::Amount)> {
    let asset: AssetId = asset.parse().map_err(|error| usage(format!("--asset: {error}")))?;
    let info = client.asset(&asset).with_context(|| format!("looking up asset {asset}"))?;
    let amount = txbuild::parse_positive_amount(amount, info.scale)
        .map_err(|error| usage(format!("--amount: {error}")))?;
    Ok((asset, amount))
}

fn account(context: &Session, text: &str) -> anyhow::Result<()> {
    let client = context.client()?;
    let address = resolve_address(context, text, "ADDR")?;
    let info = client.account(&address)?;
    context.print(serde_json::to_value(&info)?, || {
        println!("address  {}", info.address);
        println!("seq      {}", info.seq);
        println!("height   {}", info.height);
        if info.balances.is_empty() {
            println!("no balances");
        }
        for balance in &info.balances {
            println!("{:>24} {}  (locked {})", balance.available, balance.asset, balance.locked);
        }
    });
    Ok(())
}

fn evidence(context: &Session) -> anyhow::Result<()> {
    let records = context.client()?.all_evidence()?;
    context.print(serde_json::to_value(&records)?, || {
        if records.is_empty() {
            println!("no evidence");
        }
        for record in &records {
            println!(
                "view {} (epoch {}): validator {} signed {} — {} / {}",
                record.view, record.epoch, record.signer, record.kind, record.first, record.second
            );
        }
    });
    Ok(())
}

fn asset_list(context: &Session) -> anyhow::Result<()> {
    let client = context.client()?;
    let mut assets = Vec::new();
    let mut after = None;
    for _ in 0..ASSET_PAGES_MAX {
        let page = client.assets(after.as_ref(), ASSET_PAGE)?;
        assets.extend(page.assets);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    context.print(json!({ "assets": assets }), || {
        for asset in &assets {
            let max = asset.max_supply.as_deref().unwrap_or("unlimited");
            println!("{}  scale {}  supply {}  max {}", asset.asset, asset.scale, asset.supply, max);
        }
    });
    Ok(())
}

fn grant(context: &Session, args: GrantArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.csv {
        return cmd_grant::grant_csv(context, &args.asset, path, &args.submit);
    }
    // clap requires these without --csv.
    let required = |value: &Option<String>, flag: &str| {
        value.clone().ok_or_else(|| usage(format!("{flag} is required (or --csv FILE)")))
    };
    let (to, amount, kind) =
        (required(&args.to, "--to")?, required(&args.amount, "--amount")?, required(&args.kind, "--kind")?);
    let client = context.client()?;
    let to = resolve_address(context, &to, "--to")?;
    let kind = txbuild::parse_grant_kind(&kind).map_err(|error| usage(format!("--kind: {error}")))?;
    let reason = match &args.reason {
        Some(text) => {
            Some(txbuild::parse_reward_reason(text).map_err(|error| usage(format!("--reason: {error}")))?)
        }
        None => None,
    };
    let grant_id = match &args.id {
        Some(text) => text.parse::<OpId>().map_err(|error| usage(format!("--id: {error}")))?,
        None => txbuild::random_op_id()?,
    };
    let (asset, amount) = asset_amount(&client, &args.asset, &amount)?;
    let pack = match &args.pack {
        Some(text) => Some(text.parse().map_err(|error| usage(format!("--pack: {error}")))?),
        None => None,
    };
    let details = GrantDetails { grant_id, kind, reason, external_ref: args.external_ref, pack };
    let op = txbuild::grant_op(asset, to, amount, details).map_err(|error| usage(error.to_string()))?;
    if !context.json {
        eprintln!("grant id {grant_id}");
    }
    submit_ops(context, &args.submit, vec![op])
}

/// Signs `ops` with the `--from` key at the account's next seq (or `--seq`), submits them,
/// and prints the admission or, with `--wait`, the committed receipt.
fn submit_ops(context: &Session, args: &SubmitArgs, ops: Vec<Op>) -> anyhow::Result<()> {
    let sent = submit::send(context, args, ops)?;
    match sent.inclusion {
        None => {
            let id = sent.tx_id;
            context.print(json!({ "tx_id": id, "committed": false }), || println!("submitted {id}"));
            Ok(())
        }
        Some(inclusion) => report_inclusion(context, &inclusion),
    }
}

/// Prints a committed transaction; a failed receipt is an error (exit 1).
fn report_inclusion(context: &Session, inclusion: &TxInclusion) -> anyhow::Result<()> {
    context.print(submit::committed_json(inclusion), || {
        println!("committed {} at height {} (index {})", inclusion.tx_id, inclusion.height, inclusion.index)
    });
    match &inclusion.receipt.outcome {
        TxOutcome::Success => Ok(()),
        TxOutcome::Failed { op_index, code } => {
            let code = serde_json::to_value(code)?;
            let code = code.as_str().unwrap_or("unknown").to_owned();
            bail!("transaction {} failed at op {op_index}: {code}", inclusion.tx_id)
        }
    }
}

fn parse_tx_id(text: &str) -> anyhow::Result<TxId> {
    text.parse::<TxId>().map_err(|error| usage(format!("`{text}` is not a tx id: {error}")))
}

fn tx_status(context: &Session, text: &str) -> anyhow::Result<()> {
    let id = parse_tx_id(text)?;
    match context.client()?.tx(&id)? {
        Some(inclusion) => report_inclusion(context, &inclusion),
        None => {
            context.print(json!({ "tx_id": id, "committed": false }), || {
                println!("{id} is not in a committed block (pending, expired or unknown)")
            });
            Ok(())
        }
    }
}

fn tx_wait(context: &Session, text: &str, timeout_ms: u64) -> anyhow::Result<()> {
    let id = parse_tx_id(text)?;
    let client = context.client()?;
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        if let Some(inclusion) = client.tx(&id)? {
            return report_inclusion(context, &inclusion);
        }
        if Instant::now() >= deadline {
            bail!("{id} was not committed within {timeout_ms} ms");
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}
