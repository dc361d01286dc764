//! Child processes under test, and what they cost: CPU seconds from
//! `/proc/<pid>/stat` (utime + stime) and peak resident memory from
//! `/proc/<pid>/status` (`VmHWM`).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::{Child, Command};

use crate::Error;

/// A free loopback port: bound, read, released (the tiny race is acceptable
/// for a benchmark that owns the machine's loopback ports it picks).
pub fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' field 3 (state) is index 0: utime is field 14, stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// Peak resident set size in MiB (`VmHWM`), and the current one (`VmRSS`).
pub fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((kib("VmHWM:")? / 1024.0, kib("VmRSS:")? / 1024.0))
}

/// The Postgres server's processes (postmaster and every backend): their
/// CPU is the database's cost. Other users of the same server add noise.
pub fn postgres_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == "postgres")
                .unwrap_or(false)
        })
        .collect()
}

/// A process the bench started; killed when dropped.
pub struct Service {
    pub name: String,
    child: Child,
    pub pid: u32,
    pub log: PathBuf,
}

impl Service {
    /// Starts `program args` with `env`, stdout and stderr to `<logs>/<name>.log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, String)],
        logs: &Path,
        cwd: Option<&Path>,
    ) -> Result<Self, Error> {
        // Two processes of one name (two gateways) get two logs.
        let mut log = logs.join(format!("{name}.log"));
        let mut n = 2;
        while log.exists() {
            log = logs.join(format!("{name}-{n}.log"));
            n += 1;
        }
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let pid = child.id().ok_or("child exited at once")?;
        Ok(Self {
            name: name.to_owned(),
            child,
            pid,
            log,
        })
    }

    /// Fails when the process has already exited (with the end of its log).
    pub fn check_alive(&mut self) -> Result<(), Error> {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(format!("{} exited ({status}):\n{tail}", self.name).into());
        }
        Ok(())
    }

    /// SIGTERM-free stop: the bench does not test draining.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Waits until `addr` accepts TCP connections, or fails after `within`.
pub async fn wait_for_port(
    svc: &mut Service,
    addr: SocketAddr,
    within: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + within;
    loop {
        svc.check_alive()?;
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{} did not listen on {addr} in time", svc.name).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resource use of a set of processes between two instants.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceUse {
    /// CPU seconds per 1,000 requests, per process (or process group).
    pub cpu_s_per_1k: BTreeMap<String, f64>,
    /// CPU seconds used in the window, per process.
    pub cpu_s: BTreeMap<String, f64>,
    /// Peak RSS (VmHWM, MiB) so far, per process.
    pub peak_rss_mib: BTreeMap<String, f64>,
    /// The load average when the window closed (other builds add noise).
    pub loadavg: String,
}

/// A CPU reading of named pid sets, to diff against a later one.
#[derive(Debug, Clone)]
pub struct CpuMark {
    cpu: BTreeMap<String, f64>,
}

/// The processes whose cost a run reports: name → pids (a group such as
/// Postgres sums its processes).
#[derive(Debug, Clone, Default)]
pub struct Watched {
    pub groups: Vec<(String, Vec<u32>)>,
    /// Re-read the Postgres backends at each mark (they come and go).
    pub postgres: bool,
}

impl Watched {
    fn current(&self) -> Vec<(String, Vec<u32>)> {
        let mut groups = self.groups.clone();
        if self.postgres {
            groups.push(("postgres".to_owned(), postgres_pids()));
        }
        groups
    }

    pub fn mark(&self, ticks: f64) -> CpuMark {
        let cpu = self
            .current()
            .into_iter()
            .map(|(name, pids)| {
                let s = pids.iter().filter_map(|p| cpu_seconds(*p, ticks)).sum();
                (name, s)
            })
            .collect();
        CpuMark { cpu }
    }

    /// What happened since `before`, for `requests` requests.
    pub fn since(&self, before: &CpuMark, ticks: f64, requests: u64) -> ResourceUse {
        let after = self.mark(ticks);
        let mut cpu_s = BTreeMap::new();
        let mut per_1k = BTreeMap::new();
        for (name, now) in &after.cpu {
            // Postgres backends that exited in the window lose their time:
            // the figure is a lower bound for that group.
            let used = (now - before.cpu.get(name).copied().unwrap_or(0.0)).max(0.0);
            cpu_s.insert(name.clone(), used);
            if requests > 0 {
                per_1k.insert(name.clone(), used * 1000.0 / requests as f64);
            }
        }
        let mut peak = BTreeMap::new();
        for (name, pids) in &self.groups {
            let hwm: f64 = pids
                .iter()
                .filter_map(|p| memory_mib(*p).map(|m| m.0))
                .sum();
            peak.insert(name.clone(), hwm);
        }
        ResourceUse {
            cpu_s_per_1k: per_1k,
            cpu_s,
            peak_rss_mib: peak,
            loadavg: loadavg(),
        }
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_and_memory() {
        let pid = std::process::id();
        let ticks = clock_ticks();
        assert!(cpu_seconds(pid, ticks).is_some());
        let (hwm, rss) = memory_mib(pid).unwrap_or_default();
        assert!(hwm > 0.0 && rss > 0.0);
    }
}
