//! The nemesis: faults drawn from a seeded PRNG, each injected, held, healed, and followed by a
//! measurement of how long the network took to commit again.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::history::{Event, FaultRecord, HistoryWriter, now_ms};
use crate::net::run;
use crate::rng::Rng;

/// Every fault the harness knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    KillOne,
    KillF,
    KillAll,
    Pause,
    IsolateLeader,
    MajorityMinority,
    Bridge,
    OneWay,
    Flapping,
    Loss,
    Delay,
    Duplicate,
    Reorder,
    DiskFull,
    ClockSkew,
    OldBinary,
}

pub const ALL_FAULTS: [Fault; 16] = [
    Fault::KillOne,
    Fault::KillF,
    Fault::KillAll,
    Fault::Pause,
    Fault::IsolateLeader,
    Fault::MajorityMinority,
    Fault::Bridge,
    Fault::OneWay,
    Fault::Flapping,
    Fault::Loss,
    Fault::Delay,
    Fault::Duplicate,
    Fault::Reorder,
    Fault::DiskFull,
    Fault::ClockSkew,
    Fault::OldBinary,
];

/// What the environment allows.
#[derive(Clone, Debug)]
pub struct Capabilities {
    pub netns: bool,
    pub netem: bool,
    pub tmpfs: bool,
    pub faketime: bool,
    pub old_binary: bool,
}

impl Fault {
    /// Parses a fault's name as `name` writes it (`kill_one`, `old_binary`, ...).
    pub fn parse(text: &str) -> Result<Fault, String> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
            let names: Vec<String> = ALL_FAULTS.iter().map(|fault| fault.name()).collect();
            format!("unknown fault `{text}`; the faults are {}", names.join(", "))
        })
    }

    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// Why this fault cannot run here, if it cannot.
    pub fn unavailable(self, caps: &Capabilities) -> Option<&'static str> {
        match self {
            Fault::IsolateLeader
            | Fault::MajorityMinority
            | Fault::Bridge
            | Fault::OneWay
            | Fault::Flapping
            | Fault::Loss
                if !caps.netns =>
            {
                Some("needs network namespaces (loopback-only mode)")
            }
            Fault::Delay | Fault::Duplicate | Fault::Reorder if !caps.netem => {
                Some("needs tc netem (this kernel has no sch_netem, or no namespaces)")
            }
            Fault::DiskFull if !caps.tmpfs => Some("needs a tmpfs per data directory (root)"),
            Fault::ClockSkew if !caps.faketime => Some("needs libfaketime (apt-get install faketime)"),
            Fault::OldBinary if !caps.old_binary => Some("needs --old-bin DIR"),
            _ => None,
        }
    }
}

pub struct Nemesis<'a> {
    pub cluster: &'a mut Cluster,
    pub rng: Rng,
    pub history: HistoryWriter,
    pub caps: Capabilities,
    /// How long to wait for a commit after a heal before giving up on it.
    pub recovery_wait: Duration,
    /// The highest committed height seen so far: the base a heal's first commit must pass
    /// (right after a restart of every node nobody answers, so "now" would be no base).
    pub high_water: u64,
    /// Draw only these faults (empty: all available).
    pub only: Vec<Fault>,
}

fn sleep_s(seconds: u64) {
    std::thread::sleep(Duration::from_secs(seconds));
}

impl Nemesis<'_> {
    /// Runs faults until `deadline` or `max_faults`, whichever first; returns how many ran.
    pub fn run(&mut self, deadline: Instant, max_faults: Option<usize>) -> usize {
        let available: Vec<Fault> = ALL_FAULTS
            .iter()
            .copied()
            .filter(|f| {
                f.unavailable(&self.caps).is_none() && (self.only.is_empty() || self.only.contains(f))
            })
            .collect();
        let mut count = 0;
        while Instant::now() < deadline && max_faults.is_none_or(|max| count < max) {
            let fault = *self.rng.pick(&available);
            let hold = self.rng.range(3, 10);
            self.one(fault, hold);
            count += 1;
            sleep_s(self.rng.range(2, 5));
        }
        count
    }

    fn observe(&mut self) -> u64 {
        self.high_water = self.high_water.max(self.cluster.max_height().unwrap_or(0));
        self.high_water
    }

    fn one(&mut self, fault: Fault, hold_s: u64) {
        self.observe();
        let start_ms = now_ms();
        eprintln!("chaos: fault {} for {hold_s}s", fault.name());
        let detail = match self.inject_hold_heal(fault, hold_s) {
            Ok(detail) => detail,
            Err(error) => {
                // A fault that could not be set up is healed anyway and reported, not hidden.
                let _ = self.heal_all();
                format!("could not inject: {error}")
            }
        };
        let heal_ms = now_ms();
        let (resume_ms, caught_up_ms) = self.measure_recovery();
        eprintln!(
            "chaos:   {detail}; first commit after heal {resume_ms:?} ms, all caught up {caught_up_ms:?} ms"
        );
        let record = FaultRecord { name: fault.name(), detail, start_ms, heal_ms, resume_ms, caught_up_ms };
        self.history.record(Event::Fault(record));
    }

    /// Heals every kind of fault: rules and qdiscs gone, every node continued, on the current
    /// binary and the real clock, and running.
    pub fn heal_all(&mut self) -> Result<(), String> {
        if let Some(netns) = &self.cluster.netns {
            netns.heal()?;
        }
        for k in 0..self.cluster.len() {
            let _ = self.cluster.signal(k, "CONT");
            let _ = std::fs::remove_file(self.cluster.data_dir(k).join("chaos-filler"));
            if self.cluster.variants[k] != Default::default() {
                self.cluster.variants[k] = Default::default();
                self.cluster.restart(k)?;
            }
            self.cluster.start(k)?;
        }
        Ok(())
    }

    /// Time from now (the heal) to the first block any node commits, and until every node has
    /// that block.
    fn measure_recovery(&mut self) -> (Option<u64>, Option<u64>) {
        let start = Instant::now();
        let base = self.observe();
        let mut resume = None;
        while start.elapsed() < self.recovery_wait {
            if self.observe() > base {
                resume = Some(start.elapsed().as_millis() as u64);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if resume.is_none() {
            return (None, None);
        }
        let left = self.recovery_wait.saturating_sub(start.elapsed());
        let caught_up =
            self.cluster.wait_all(base + 1, left).ok().map(|()| start.elapsed().as_millis() as u64);
        (resume, caught_up)
    }

    fn f(&self) -> usize {
        (self.cluster.len() - 1) / 3
    }

    /// The proposer of the newest block any node serves.
    fn leader(&self) -> usize {
        for k in 0..self.cluster.len() {
            let client = self.cluster.client(k);
            let Ok(status) = client.status() else { continue };
            let path = format!("/v1/blocks/{}", status.committed_height.0);
            if let Ok(block) = client.get_json(&path)
                && let Some(proposer) = block["block"]["header"]["proposer"].as_u64()
            {
                return proposer as usize % self.cluster.len();
            }
        }
        0
    }

    fn netns(&self) -> Result<&crate::net::Netns, String> {
        self.cluster.netns.as_ref().ok_or_else(|| "no network namespaces".to_owned())
    }

    fn inject_hold_heal(&mut self, fault: Fault, hold_s: u64) -> Result<String, String> {
        let n = self.cluster.len();
        let order = self.rng.permutation(n);
        let victim = order[0];
        let detail = match fault {
            Fault::KillOne | Fault::KillF | Fault::KillAll => {
                let count = match fault {
                    Fault::KillOne => 1,
                    Fault::KillF => self.f().max(1),
                    _ => n,
                };
                for &k in &order[..count] {
                    self.cluster.kill(k);
                }
                sleep_s(hold_s);
                format!("SIGKILL to nodes {:?}, restarted after {hold_s}s", &order[..count])
            }
            Fault::Pause => {
                self.cluster.signal(victim, "STOP")?;
                sleep_s(hold_s);
                format!("SIGSTOP node {victim} for {hold_s}s, then SIGCONT")
            }
            Fault::DiskFull => self.disk_full(victim, hold_s)?,
            Fault::ClockSkew => {
                let magnitude = self.rng.range(5, 90) as i64;
                let skew = if self.rng.chance(50) { magnitude } else { -magnitude };
                self.cluster.variants[victim].clock_skew_s = Some(skew);
                self.cluster.restart(victim)?;
                sleep_s(hold_s);
                format!("node {victim} restarted with its clock {skew:+}s off for {hold_s}s")
            }
            Fault::OldBinary => {
                self.cluster.variants[victim].old_binary = true;
                self.cluster.restart(victim)?;
                sleep_s(hold_s);
                format!("node {victim} ran the old binary for {hold_s}s")
            }
            _ => self.network_fault(fault, &order, hold_s)?,
        };
        // The height reached under the fault: the first commit after the heal must pass it.
        self.observe();
        self.heal_all()?;
        Ok(detail)
    }

    fn network_fault(&mut self, fault: Fault, order: &[usize], hold_s: u64) -> Result<String, String> {
        let n = order.len();
        let minority = self.f().max(1);
        let percent = self.rng.range(10, 40);
        let netns = self.netns()?;
        let detail = match fault {
            Fault::IsolateLeader => {
                let leader = self.leader();
                let rest: Vec<usize> = (0..n).filter(|k| *k != leader).collect();
                netns.partition(&[vec![leader], rest])?;
                format!("leader {leader} isolated for {hold_s}s")
            }
            Fault::MajorityMinority => {
                let (small, large) = order.split_at(minority);
                netns.partition(&[small.to_vec(), large.to_vec()])?;
                format!("partition {small:?} | {large:?} for {hold_s}s")
            }
            Fault::Bridge => {
                // Two halves that meet in one node: the bridge talks to both, the halves not to
                // each other.
                let bridge = order[0];
                let half = (n - 1) / 2;
                let mut left = order[1..=half].to_vec();
                let mut right = order[half + 1..].to_vec();
                left.push(bridge);
                right.push(bridge);
                netns.partition(&[left.clone(), right.clone()])?;
                format!("bridge partition {left:?} | {right:?} through {bridge} for {hold_s}s")
            }
            Fault::OneWay => {
                let deaf = order[0];
                for k in 0..n {
                    if k != deaf {
                        netns.cut(deaf, k, true)?;
                    }
                }
                format!("node {deaf} receives nothing from its peers (but sends) for {hold_s}s")
            }
            Fault::Flapping => return self.flapping(order, hold_s),
            Fault::Loss => {
                let detail = if netns.netem {
                    for k in 0..n {
                        netns.netem(k, &["loss", &format!("{percent}%")])?;
                    }
                    format!("netem loss {percent}% on every node for {hold_s}s")
                } else {
                    let probability = format!("0.{percent:02}");
                    for k in 0..n {
                        netns.iptables_loss(k, &probability)?;
                    }
                    format!("iptables random loss {percent}% on every node (no netem here) for {hold_s}s")
                };
                sleep_s(hold_s);
                return Ok(detail);
            }
            _ => return self.netem_fault(fault, hold_s),
        };
        sleep_s(hold_s);
        Ok(detail)
    }

    fn netem_fault(&mut self, fault: Fault, hold_s: u64) -> Result<String, String> {
        let delay = format!("{}ms", self.rng.range(20, 300));
        let percent = format!("{}%", self.rng.range(10, 40));
        let spec: Vec<&str> = match fault {
            Fault::Delay => vec!["delay", &delay, "20ms", "distribution", "normal"],
            Fault::Duplicate => vec!["duplicate", &percent],
            Fault::Reorder => vec!["delay", "10ms", "reorder", &percent, "50%"],
            other => return Err(format!("{other:?} is not a netem fault")),
        };
        let netns = self.netns()?;
        for k in 0..self.cluster.len() {
            netns.netem(k, &spec)?;
        }
        sleep_s(hold_s);
        Ok(format!("netem {} on every node for {hold_s}s", spec.join(" ")))
    }

    fn flapping(&mut self, order: &[usize], hold_s: u64) -> Result<String, String> {
        let minority = self.f().max(1);
        let (small, large) = order.split_at(minority);
        let end = Instant::now() + Duration::from_secs(hold_s);
        let mut flips = 0;
        while Instant::now() < end {
            let pause = Duration::from_millis(self.rng.range(300, 1500));
            let netns = self.netns()?;
            if flips % 2 == 0 {
                netns.partition(&[small.to_vec(), large.to_vec()])?;
            } else {
                netns.heal()?;
            }
            flips += 1;
            std::thread::sleep(pause);
        }
        Ok(format!("partition {small:?} | {large:?} flapping ({flips} flips) for {hold_s}s"))
    }

    /// Fills node `k`'s data tmpfs, holds, frees it. The node may stop (then it must have said
    /// why and must restart cleanly) or keep running; corruption shows in the final checks.
    fn disk_full(&mut self, k: usize, hold_s: u64) -> Result<String, String> {
        let data = self.cluster.data_dir(k);
        let data_text = data.to_string_lossy().into_owned();
        let avail: u64 = run("df", &["-B1", "--output=avail", &data_text])?
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .ok_or("df gave no free space figure")?;
        let filler = data.join("chaos-filler");
        let filler_text = filler.to_string_lossy().into_owned();
        // Every byte if tmpfs allows it, else all but 64 KiB (room for the file's own pages).
        run("fallocate", &["-l", &avail.to_string(), &filler_text]).or_else(|_| {
            run("fallocate", &["-l", &avail.saturating_sub(65_536).to_string(), &filler_text])
        })?;
        sleep_s(hold_s);
        let running = self.cluster.is_running(k);
        let state = if running {
            "kept running".to_owned()
        } else {
            let last = self.cluster.log_tail(k, 1);
            format!("stopped; its last log line: {last}")
        };
        std::fs::remove_file(&filler).map_err(|e| format!("remove {}: {e}", filler.display()))?;
        Ok(format!("node {k}'s data tmpfs filled ({avail} bytes) for {hold_s}s: {state}; freed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_parses_from_its_name_and_unknown_names_list_the_faults() {
        for fault in ALL_FAULTS {
            assert_eq!(Fault::parse(&fault.name()), Ok(fault));
        }
        let error = Fault::parse("kill-one").expect_err("the name is kill_one");
        assert!(error.starts_with("unknown fault `kill-one`; the faults are kill_one, kill_f,"), "{error}");
    }
}
