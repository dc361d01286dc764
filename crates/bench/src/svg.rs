//! Hand-written SVG charts: a line chart with a logarithmic x axis (scale
//! curves) and a horizontal bar chart (throughput side by side). No
//! plotting service, no dependency.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Series {
    pub name: String,
    /// (x, y) points, x > 0.
    pub points: Vec<(f64, f64)>,
}

const COLOURS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A rounded axis maximum: 1, 2 or 5 times a power of ten.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn header(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
"##,
        W / 2.0,
        esc(title)
    );
}

/// A line chart of `series` over a log10 x axis and a linear y axis from 0.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut out = String::new();
    header(&mut out, title);
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| *x > 0.0)
        .collect();
    let (xmin, xmax) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    let (lx0, lx1) = if xs.is_empty() {
        (0.0, 1.0)
    } else {
        (
            xmin.log10().floor(),
            xmax.log10().ceil().max(xmin.log10().floor() + 1.0),
        )
    };
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| *y > 0.0)
        .collect();
    let (ymin, ymax_raw) = ys
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), y| (a.min(*y), b.max(*y)));
    // Values spanning more than ~1.5 decades get a log10 y axis, so that a
    // slow curve does not flatten the fast ones.
    let log_y = !ys.is_empty() && ymax_raw / ymin > 30.0;
    let (ly0, ly1) = if log_y {
        (ymin.log10().floor(), ymax_raw.log10().ceil())
    } else {
        (0.0, 1.0)
    };
    let ymax = nice_max(ymax_raw * 1.05);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + (x.log10() - lx0) / (lx1 - lx0) * pw;
    let py = |y: f64| {
        if log_y {
            TOP + ph - (y.max(1e-9).log10() - ly0) / (ly1 - ly0) * ph
        } else {
            TOP + ph - y / ymax * ph
        }
    };
    let yticks: Vec<f64> = if log_y {
        (ly0 as i32..=ly1 as i32).map(|e| 10f64.powi(e)).collect()
    } else {
        (0..=5).map(|i| ymax * f64::from(i) / 5.0).collect()
    };
    // Axes, grid and ticks.
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for y in yticks {
        let yy = py(y);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            trim(y)
        );
    }
    let mut e = lx0;
    while e <= lx1 + 1e-9 {
        let x = px(10f64.powf(e));
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            human(10f64.powf(e))
        );
        e += 1.0;
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" text-anchor="middle">{}</text>"##,
        LEFT + pw / 2.0,
        H - 18.0,
        esc(x_label)
    );
    let y_label = if log_y {
        format!("{y_label} (log scale)")
    } else {
        y_label.to_owned()
    };
    let _ = writeln!(
        out,
        r##"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle">{}</text>"##,
        TOP + ph / 2.0,
        esc(&y_label)
    );
    for (k, s) in series.iter().enumerate() {
        let c = COLOURS[k % COLOURS.len()];
        let dash = if s.name.contains("p99") {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let pts: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.0 > 0.0)
            .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
            .collect();
        let _ = writeln!(
            out,
            r##"<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{}"/>"##,
            pts.join(" ")
        );
        for p in s.points.iter().filter(|p| p.0 > 0.0) {
            let _ = writeln!(
                out,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"/>"##,
                px(p.0),
                py(p.1)
            );
        }
        let ly = TOP + 14.0 + 18.0 * k as f64;
        let lx = LEFT + pw + 12.0;
        let _ = writeln!(
            out,
            r##"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"##,
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            esc(&s.name)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Horizontal bars, one per (label, value).
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)]) -> String {
    let mut out = String::new();
    header(&mut out, title);
    let max = nice_max(bars.iter().map(|b| b.1).fold(0.0, f64::max));
    let left = 180.0;
    let pw = W - left - 80.0;
    let bh = ((H - TOP - 30.0) / bars.len().max(1) as f64).min(36.0);
    for (k, (label, v)) in bars.iter().enumerate() {
        let y = TOP + 10.0 + bh * k as f64;
        let w = v / max * pw;
        let c = COLOURS[k % COLOURS.len()];
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{:.1}" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{c}"/><text x="{:.1}" y="{:.1}">{} {}</text>"##,
            left - 8.0,
            y + bh * 0.6,
            esc(label),
            bh * 0.75,
            left + w + 6.0,
            y + bh * 0.6,
            trim(*v),
            esc(unit)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn trim(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_svg() {
        let s = vec![Series {
            name: "filter p99".into(),
            points: vec![(1e4, 1.0), (1e5, 1.2), (1e6, 1.4)],
        }];
        let svg = line_chart("t <1>", "users", "ms", &s);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("t &lt;1&gt;"));
        assert_eq!(svg.matches("<circle").count(), 3);
        let bars = bar_chart("b", "req/s", &[("a".into(), 3.0), ("b".into(), 7.0)]);
        assert_eq!(bars.matches("<rect").count(), 3);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(1.5), 2.0);
    }
}
