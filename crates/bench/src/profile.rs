//! CPU profiles of the services under load with `perf record` (software
//! clock sampling: this kernel has no hardware counters), reduced to flat
//! per-symbol reports written next to the results.

use std::path::{Path, PathBuf};

use tokio::process::Child;

use crate::Error;

/// Running `perf record` processes, one per service.
pub struct Profiling {
    runs: Vec<(String, PathBuf, Child)>,
}

/// Starts sampling each `(name, pid)` at 499 Hz for `seconds`.
pub fn start(pids: &[(String, u32)], seconds: u64, work: &Path) -> Profiling {
    let mut runs = Vec::new();
    for (name, pid) in pids {
        let data = work.join(format!("perf-{name}.data"));
        let child = tokio::process::Command::new("perf")
            .args(["record", "-F", "499", "-g", "-p", &pid.to_string(), "-o"])
            .arg(&data)
            .args(["--", "sleep", &seconds.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        if let Ok(c) = child {
            runs.push((name.clone(), data, c));
        }
    }
    Profiling { runs }
}

/// Waits for the recordings and writes `profile-<service>.txt` (top
/// symbols by self time) into `out`; returns the file names.
pub async fn finish(p: Profiling, _work: &Path, out: &Path) -> Result<Vec<String>, Error> {
    std::fs::create_dir_all(out)?;
    let mut files = Vec::new();
    for (name, data, mut child) in p.runs {
        let _ = child.wait().await;
        let report = tokio::process::Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--percent-limit",
                "0.7",
                "--sort",
                "dso,symbol",
                "-i",
            ])
            .arg(&data)
            .output()
            .await?;
        let text: String = String::from_utf8_lossy(&report.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(80)
            .collect::<Vec<_>>()
            .join("\n");
        let file = format!("profile-{name}.txt");
        std::fs::write(out.join(&file), text + "\n")?;
        files.push(file);
    }
    Ok(files)
}
