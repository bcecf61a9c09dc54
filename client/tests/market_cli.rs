//! Runs the real `tally` binary's market and metered-usage commands on bad input: each is
//! refused as a usage error (exit 2) that names the problem, before any node is contacted
//! (TALLY_NODE points at a port nobody serves, so a command that reached the network would
//! fail with exit 1 instead).

use std::process::{Command, Stdio};

fn run(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .env("TALLY_KEYSTORE", dir.path().join("keys"))
        .env("TALLY_PASSPHRASE", "pass")
        .env("TALLY_NODE", "http://127.0.0.1:1")
        .stdin(Stdio::null())
        .output()
        .expect("the tally binary runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

// Not split: a table of cases checked in one loop; split up, the table would be scattered.
#[test]
fn bad_market_and_usage_input_is_a_usage_error_naming_the_problem() {
    let id = "ab".repeat(16);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["offer", "place", "--sell", "10", "--buy", "GLOBEX@globex", "--price", "1", "--from", "k"],
            "--sell",
        ),
        (
            vec![
                "offer",
                "place",
                "--sell",
                "10",
                "ACME@acme",
                "--buy",
                "X@globex",
                "--price",
                "1",
                "--from",
                "k",
            ],
            "--buy",
        ),
        (
            vec![
                "offer",
                "place",
                "--sell",
                "10",
                "ACME@acme",
                "--buy",
                "GLOBEX@globex",
                "--price",
                "1",
                "--ioc",
                "--fok",
                "--from",
                "k",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "offer",
                "place",
                "--sell",
                "10",
                "ACME@acme",
                "--buy",
                "ACME@acme",
                "--price",
                "1",
                "--from",
                "k",
            ],
            "both ACME@acme",
        ),
        (vec!["offer", "cancel", "xyz", "--from", "k"], "32 hex"),
        (vec!["offer", "book", "ACME", "GLOBEX@globex"], "BASE"),
        (vec!["offer", "book", "ACME@acme", "GLOBEX@globex", "--limit", "0"], "--limit 0"),
        (vec!["offer", "list", "nobody"], "neither an address"),
        (
            vec![
                "spend",
                "authorize",
                "--provider",
                "Globex",
                "--asset",
                "GLOBEX@globex",
                "--cap",
                "1",
                "--expires",
                "1d",
                "--from",
                "k",
            ],
            "--provider",
        ),
        (vec!["settle", "--hold", "12", "--batch", &id, "--usage", "u.csv", "--from", "k"], "--hold"),
        (vec!["settle", "--hold", &id, "--batch", "nope", "--usage", "u.csv", "--from", "k"], "--batch"),
        (vec!["void", "zz", "--from", "k"], "HOLD"),
        (
            vec![
                "hold",
                "--holder",
                "nobody",
                "--asset",
                "A@b",
                "--amount",
                "1",
                "--expires",
                "1d",
                "--from",
                "k",
            ],
            "--holder",
        ),
    ];
    for (args, needle) in cases {
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: stderr does not mention `{needle}`: {stderr}");
    }
}

#[test]
fn a_command_that_needs_the_node_fails_with_exit_1_when_none_answers() {
    let (code, stderr) = run(&["offer", "book", "ACME@acme", "GLOBEX@globex"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
}
