//! Network namespaces: each node gets its own namespace, with a veth pair whose host end is
//! enslaved to a bridge the harness owns, and its own address on a /24 of its own. Everything
//! is named after the harness's PID (`tch<pid>…`), so parallel runs never collide, and a
//! leftover of a crashed run (its PID gone) is removed by the next run.
//!
//! Faults here: iptables rules inside a node's namespace (partitions, one-way cuts, random
//! loss) and `tc` qdiscs on its veth (netem loss, delay, duplication, reordering, where the
//! kernel has netem).

use std::net::Ipv4Addr;
use std::process::Command;

/// Runs a command; its stderr (or the spawn error) in the error.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("{program} {}: {error}", args.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Whether process `pid` exists and is not a zombie (a killed harness whose parent has not
/// reaped it still has a /proc entry).
fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // `pid (comm) state ...`; comm may hold spaces and parentheses, so split at the last `)`.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// The prefix of every name a harness run creates.
pub const PREFIX: &str = "tch";

/// One node's namespace.
#[derive(Clone, Debug)]
pub struct Slot {
    pub ns: String,
    pub veth_host: String,
    pub veth_ns: String,
    pub ip: Ipv4Addr,
}

/// The namespaces and bridge of one run; removed on drop.
#[derive(Debug)]
pub struct Netns {
    pub bridge: String,
    pub host_ip: Ipv4Addr,
    pub slots: Vec<Slot>,
    /// Whether the kernel has `sch_netem` (probed at setup).
    pub netem: bool,
}

fn subnet_for(pid: u32) -> (u8, u8) {
    // 10.X.Y.0/24 from the PID; 10.0.0.0/16 and 10.255.0.0/16 are left alone.
    let x = 1 + ((pid >> 8) % 254) as u8;
    (x, (pid & 0xff) as u8)
}

impl Netns {
    /// Removes namespaces, veths and bridges named by a previous run whose PID is gone.
    pub fn remove_stale() -> Vec<String> {
        let mut removed = Vec::new();
        let alive = |name: &str| -> bool {
            let digits: String = name[PREFIX.len()..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().is_ok_and(process_alive)
        };
        if let Ok(list) = run("ip", &["netns", "list"]) {
            for name in list.lines().filter_map(|line| line.split_whitespace().next()) {
                if name.starts_with(PREFIX) && !alive(name) && run("ip", &["netns", "del", name]).is_ok() {
                    removed.push(name.to_owned());
                }
            }
        }
        if let Ok(links) = run("ip", &["-o", "link", "show"]) {
            for line in links.lines() {
                let Some(name) = line.split(": ").nth(1).map(|n| n.split('@').next().unwrap_or(n)) else {
                    continue;
                };
                if name.starts_with(PREFIX) && !alive(name) && run("ip", &["link", "del", name]).is_ok() {
                    removed.push(name.to_owned());
                }
            }
        }
        removed
    }

    /// Creates `n` namespaces on a fresh bridge. On error, whatever was made is removed.
    pub fn create(n: usize) -> Result<Netns, String> {
        let pid = std::process::id();
        let (x, y) = subnet_for(pid);
        let taken = run("ip", &["-o", "-4", "addr", "show"])?;
        if taken.contains(&format!(" 10.{x}.{y}.")) {
            return Err(format!("subnet 10.{x}.{y}.0/24 is already in use on this host"));
        }
        let mut netns = Netns {
            bridge: format!("{PREFIX}{pid}br"),
            host_ip: Ipv4Addr::new(10, x, y, 254),
            slots: Vec::new(),
            netem: false,
        };
        // On error `netns` drops here and removes what exists.
        netns.build(pid, n, x, y)?;
        netns.netem = netns.probe_netem();
        Ok(netns)
    }

    fn build(&mut self, pid: u32, n: usize, x: u8, y: u8) -> Result<(), String> {
        let bridge = self.bridge.clone();
        run("ip", &["link", "add", &bridge, "type", "bridge"])?;
        run("ip", &["addr", "add", &format!("{}/24", self.host_ip), "dev", &bridge])?;
        run("ip", &["link", "set", &bridge, "up"])?;
        for k in 0..n {
            let slot = Slot {
                ns: format!("{PREFIX}{pid}n{k}"),
                veth_host: format!("{PREFIX}{pid}h{k}"),
                veth_ns: format!("{PREFIX}{pid}v{k}"),
                ip: Ipv4Addr::new(10, x, y, k as u8 + 1),
            };
            run("ip", &["netns", "add", &slot.ns])?;
            self.slots.push(slot.clone());
            run("ip", &["link", "add", &slot.veth_host, "type", "veth", "peer", "name", &slot.veth_ns])?;
            run("ip", &["link", "set", &slot.veth_ns, "netns", &slot.ns])?;
            run("ip", &["link", "set", &slot.veth_host, "master", &bridge])?;
            run("ip", &["link", "set", &slot.veth_host, "up"])?;
            self.exec(k, &["ip", "addr", "add", &format!("{}/24", slot.ip), "dev", &slot.veth_ns])?;
            self.exec(k, &["ip", "link", "set", &slot.veth_ns, "up"])?;
            self.exec(k, &["ip", "link", "set", "lo", "up"])?;
            // The iptables rules the faults add must work here; find out now, not mid-run.
            self.exec(k, &["iptables", "-L", "INPUT", "-n"])?;
        }
        Ok(())
    }

    fn probe_netem(&self) -> bool {
        let Some(slot) = self.slots.first() else { return false };
        let added = self
            .exec(0, &["tc", "qdisc", "add", "dev", &slot.veth_ns, "root", "netem", "delay", "1ms"])
            .is_ok();
        if added {
            let _ = self.exec(0, &["tc", "qdisc", "del", "dev", &slot.veth_ns, "root"]);
        }
        added
    }

    /// Runs a command inside node `k`'s namespace.
    pub fn exec(&self, k: usize, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["netns", "exec", self.slots[k].ns.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Node `k` drops what it receives from node `from` (and, unless `one_way`, what it sends
    /// to it).
    pub fn cut(&self, k: usize, from: usize, one_way: bool) -> Result<(), String> {
        let peer = self.slots[from].ip.to_string();
        self.exec(k, &["iptables", "-A", "INPUT", "-s", &peer, "-j", "DROP"])?;
        if !one_way {
            self.exec(k, &["iptables", "-A", "OUTPUT", "-d", &peer, "-j", "DROP"])?;
        }
        Ok(())
    }

    /// Splits the nodes into `groups`: no traffic between nodes of different groups (a node
    /// in two groups, a bridge, talks to both).
    pub fn partition(&self, groups: &[Vec<usize>]) -> Result<(), String> {
        for a in 0..self.slots.len() {
            for b in 0..self.slots.len() {
                let together = groups.iter().any(|group| group.contains(&a) && group.contains(&b));
                if a != b && !together {
                    self.cut(a, b, false)?;
                }
            }
        }
        Ok(())
    }

    /// Netem on node `k`'s interface, e.g. `["loss", "20%"]`.
    pub fn netem(&self, k: usize, spec: &[&str]) -> Result<(), String> {
        let dev = self.slots[k].veth_ns.clone();
        let mut args = vec!["tc", "qdisc", "replace", "dev", dev.as_str(), "root", "netem"];
        args.extend_from_slice(spec);
        self.exec(k, &args).map(drop)
    }

    /// Random loss with iptables (`statistic` match), for kernels without netem.
    pub fn iptables_loss(&self, k: usize, probability: &str) -> Result<(), String> {
        let dev = self.slots[k].veth_ns.clone();
        for (chain, flag) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
            self.exec(
                k,
                &[
                    "iptables",
                    "-A",
                    chain,
                    flag,
                    &dev,
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    probability,
                    "-j",
                    "DROP",
                ],
            )?;
        }
        Ok(())
    }

    /// Removes every rule and qdisc the faults added.
    pub fn heal(&self) -> Result<(), String> {
        for (k, slot) in self.slots.iter().enumerate() {
            self.exec(k, &["iptables", "-F"])?;
            // No qdisc to delete is the normal case.
            let _ = self.exec(k, &["tc", "qdisc", "del", "dev", &slot.veth_ns, "root"]);
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for slot in &self.slots {
            let _ = run("ip", &["netns", "del", &slot.ns]);
            // Deleting the namespace deletes its veth end and so the pair; this covers a pair
            // whose namespace end never moved.
            let _ = run("ip", &["link", "del", &slot.veth_host]);
        }
        let _ = run("ip", &["link", "del", &self.bridge]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_is_alive_and_a_free_pid_is_not() {
        assert!(super::process_alive(std::process::id()));
        assert!(!super::process_alive(u32::MAX));
    }
}
