//! What a run found: sections of per-operation figures with the resources
//! they cost, curves, and goals. Written as `results.json` (everything),
//! `results.md` (tables to paste into BENCHMARKS.md) and SVG charts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::Error;
use crate::procs::ResourceUse;
use crate::stats::Summary;
use crate::svg::{self, Series};

/// One measured step.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Section {
    /// Stable key, e.g. `prod.provisioning`.
    pub id: String,
    pub title: String,
    /// Per operation, plus `all`.
    pub ops: BTreeMap<String, Summary>,
    pub resources: Option<ResourceUse>,
    /// Key figures by name (numbers or text).
    pub facts: BTreeMap<String, Value>,
    pub notes: Vec<String>,
}

impl Section {
    pub fn new(id: &str, title: &str) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            ..Self::default()
        }
    }

    pub fn fact(&mut self, key: &str, v: impl Into<Value>) {
        self.facts.insert(key.to_owned(), v.into());
    }

    pub fn num(&self, key: &str) -> Option<f64> {
        self.facts.get(key)?.as_f64()
    }
}

/// A chart, kept as data too.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Curve {
    /// File name without `.svg`.
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// A goal of issue 7 or issue 3 and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub goal: String,
    pub measured: String,
    /// None when the run could not measure it.
    pub met: Option<bool>,
}

/// (file id, title, bars) of a bar chart.
pub type BarChart = (String, String, Vec<(String, f64)>);

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub command: String,
    pub started: String,
    pub seconds: f64,
    pub machine: BTreeMap<String, String>,
    pub sections: Vec<Section>,
    pub curves: Vec<Curve>,
    pub bars: Vec<BarChart>,
    pub goals: Vec<Goal>,
    pub failures: Vec<String>,
}

impl Report {
    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    pub fn push(&mut self, s: Section) {
        eprintln!("{}", section_markdown(&s));
        self.sections.push(s);
    }

    /// Draws the charts of a `results.json` again (after a change to the
    /// drawing) into `out`.
    pub fn render(results: &Path, out: &Path) -> Result<usize, Error> {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(results)?)?;
        let curves: Vec<Curve> = serde_json::from_value(v["curves"].clone())?;
        let bars: Vec<BarChart> = serde_json::from_value(v["bars"].clone())?;
        let report = Report {
            curves,
            bars,
            ..Report::default()
        };
        report.write_charts(out)?;
        Ok(report.curves.len() + report.bars.len())
    }

    fn write_charts(&self, out: &Path) -> Result<(), Error> {
        for c in &self.curves {
            let svg = svg::line_chart(&c.title, &c.x_label, &c.y_label, &c.series);
            std::fs::write(out.join(format!("{}.svg", c.id)), svg)?;
        }
        for (id, title, bars) in &self.bars {
            std::fs::write(
                out.join(format!("{id}.svg")),
                svg::bar_chart(title, "req/s", bars),
            )?;
        }
        Ok(())
    }

    /// Writes `results.json`, `results.md` and one SVG per curve into `out`.
    pub fn write(&self, out: &Path) -> Result<(), Error> {
        std::fs::create_dir_all(out)?;
        std::fs::write(
            out.join("results.json"),
            serde_json::to_string_pretty(self)?,
        )?;
        std::fs::write(out.join("results.md"), self.markdown())?;
        for c in &self.curves {
            let svg = svg::line_chart(&c.title, &c.x_label, &c.y_label, &c.series);
            std::fs::write(out.join(format!("{}.svg", c.id)), svg)?;
        }
        for (id, title, bars) in &self.bars {
            std::fs::write(
                out.join(format!("{id}.svg")),
                svg::bar_chart(title, "req/s", bars),
            )?;
        }
        Ok(())
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmark results\n");
        let _ = writeln!(md, "Command: `{}`  ", self.command);
        let _ = writeln!(
            md,
            "Started: {} — took {:.0} s  ",
            self.started, self.seconds
        );
        for (k, v) in &self.machine {
            let _ = writeln!(md, "{k}: {v}  ");
        }
        let _ = writeln!(
            md,
            "\n## Goals\n\n| goal | measured | met |\n| --- | --- | --- |"
        );
        for g in &self.goals {
            let met = match g.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            let _ = writeln!(md, "| {} | {} | {met} |", g.goal, g.measured);
        }
        for s in &self.sections {
            md.push('\n');
            md.push_str(&section_markdown(s));
        }
        if !self.failures.is_empty() {
            let _ = writeln!(md, "\n## Failures\n");
            for f in &self.failures {
                let _ = writeln!(md, "- {f}");
            }
        }
        md
    }
}

/// A section as markdown: facts, then a table per operation, then costs.
pub fn section_markdown(s: &Section) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "### {} (`{}`)\n", s.title, s.id);
    for (k, v) in &s.facts {
        let v = match v {
            Value::Number(n) => n.as_f64().map_or(n.to_string(), fmt_num),
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        let _ = writeln!(md, "- {k}: {v}");
    }
    if !s.ops.is_empty() {
        let _ = writeln!(
            md,
            "\n| operation | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for (op, x) in &s.ops {
            let errors = if x.errors == 0 {
                "0".to_owned()
            } else {
                let by: Vec<String> = x
                    .error_statuses
                    .iter()
                    .map(|(k, v)| format!("{v}×{k}"))
                    .collect();
                format!("{} ({})", x.errors, by.join(", "))
            };
            let _ = writeln!(
                md,
                "| {op} | {} | {errors} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} |",
                x.count, x.throughput, x.p50_ms, x.p95_ms, x.p99_ms, x.max_ms
            );
        }
    }
    if let Some(r) = &s.resources {
        let _ = writeln!(
            md,
            "\n| process | CPU s | CPU s / 1k req | peak RSS MiB |\n| --- | ---: | ---: | ---: |"
        );
        for (name, cpu) in &r.cpu_s {
            let per = r.cpu_s_per_1k.get(name).copied().unwrap_or(0.0);
            let rss = r
                .peak_rss_mib
                .get(name)
                .map_or("-".to_owned(), |m| format!("{m:.1}"));
            let _ = writeln!(md, "| {name} | {cpu:.2} | {per:.3} | {rss} |");
        }
        let _ = writeln!(md, "\nload average at the end: {}", r.loadavg);
    }
    for n in &s.notes {
        let _ = writeln!(md, "\n> {n}");
    }
    md
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
