//! The rules file and the dashboard as text: their PromQL expressions, the
//! metric names those use, and the rules with time compressed for a test.

use std::collections::BTreeSet;

/// The rules, the one copy the chart renders too.
pub const RULES: &str = include_str!("../../../deploy/helm/scim-platform/prometheus/rules.yml");
/// The chart's Grafana dashboard.
pub const DASHBOARD: &str =
    include_str!("../../../deploy/helm/scim-platform/dashboards/scim-platform.json");

// === Expressions ===

/// The `expr:` values of `rules` (block scalars `expr: |` or one line).
pub fn rule_exprs(rules: &str) -> Vec<String> {
    let lines: Vec<&str> = rules.lines().collect();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        i += 1;
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let value = value.trim();
        if value != "|" && value != "|-" {
            exprs.push(value.to_owned());
            continue;
        }
        let mut block = String::new();
        while i < lines.len() {
            let next = lines[i];
            let next_indent = next.len() - next.trim_start().len();
            if !next.trim().is_empty() && next_indent <= indent {
                break;
            }
            block.push_str(next.trim());
            block.push('\n');
            i += 1;
        }
        exprs.push(block);
    }
    exprs
}

/// The names the rules record (`record:`).
pub fn recorded_names(rules: &str) -> BTreeSet<String> {
    rules
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- record:"))
        .map(|n| n.trim().to_owned())
        .collect()
}

/// Every PromQL expression of the dashboard: the panels' targets and the
/// templating queries (`label_values(metric, label)`).
pub fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                exprs.push(expr.to_owned());
            }
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(query) = var["query"].as_str()
            && let Some(inner) = query.strip_prefix("label_values(")
        {
            exprs.push(inner.split(',').next().unwrap_or_default().to_owned());
        }
    }
    exprs
}

/// The metric names `expr` selects: identifiers outside strings, label
/// matchers, ranges and label lists (`by (…)`, `on (…)`, …), that are not
/// functions, keywords or numbers.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    const LABEL_LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan"];
    // Aggregations, which may be followed by `by (…)` before their `(`.
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    // Blank out strings, {…} and […].
    let mut plain = String::with_capacity(expr.len());
    let (mut quote, mut braces, mut brackets) = (None, 0u32, 0u32);
    let mut escaped = false;
    for c in expr.chars() {
        let keep = match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                false
            }
            (Some(q), c) if c == q && !escaped => {
                quote = None;
                false
            }
            (Some(_), _) => false,
            (None, '"' | '\'' | '`') => {
                quote = Some(c);
                false
            }
            (None, '{') => {
                braces += 1;
                false
            }
            (None, '}') => {
                braces = braces.saturating_sub(1);
                false
            }
            (None, '[') => {
                brackets += 1;
                false
            }
            (None, ']') => {
                brackets = brackets.saturating_sub(1);
                false
            }
            _ => braces == 0 && brackets == 0,
        };
        if c != '\\' {
            escaped = false;
        }
        plain.push(if keep { c } else { ' ' });
    }
    let chars: Vec<char> = plain.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < chars.len() {
        let c = chars[i];
        if skip_group && c == '(' {
            // A label list: skip to its closing parenthesis.
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            skip_group = false;
            i += 1;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            if !c.is_whitespace() {
                skip_group = false;
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
        {
            i += 1;
        }
        // A number's exponent or a unit glued to digits is not a name.
        if start > 0 && (chars[start - 1].is_ascii_digit() || chars[start - 1] == '.') {
            continue;
        }
        let word: String = chars[start..i].iter().collect();
        let next = chars[i..].iter().find(|c| !c.is_whitespace());
        if LABEL_LISTS.contains(&word.as_str()) {
            skip_group = true;
        } else if next == Some(&'(')
            || KEYWORDS.contains(&word.to_lowercase().as_str())
            || AGGREGATIONS.contains(&word.as_str())
        {
            // A function or an aggregation, or a keyword.
        } else {
            names.insert(word);
        }
    }
    names
}

// === Time compression ===

/// `rules` with every duration (ranges `[5m]`, `for:` and group
/// `interval:`) divided by `factor`, so a test sees in seconds what takes
/// minutes, with the expressions otherwise unchanged. Panics on a duration
/// it cannot read, so a new form cannot slip through uncompressed.
pub fn compress(rules: &str, factor: u64) -> String {
    let scale = |d: &str| -> String {
        let ms = duration_ms(d).unwrap_or_else(|| panic!("a duration the test cannot read: {d:?}"));
        format!("{}ms", (ms / factor).max(1))
    };
    let mut out = String::with_capacity(rules.len());
    for line in rules.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(d) = trimmed.strip_prefix("for: ") {
            out.push_str(&format!("{indent}for: {}\n", scale(d.trim())));
            continue;
        }
        if let Some(d) = trimmed.strip_prefix("interval: ") {
            out.push_str(&format!("{indent}interval: {}\n", scale(d.trim())));
            continue;
        }
        if trimmed.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut rest = line;
        while let Some(open) = rest.find('[') {
            let Some(close) = rest[open..].find(']') else {
                break;
            };
            let inside = &rest[open + 1..open + close];
            out.push_str(&rest[..=open]);
            if duration_ms(inside).is_some() {
                out.push_str(&scale(inside));
            } else {
                out.push_str(inside);
            }
            out.push(']');
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// A Prometheus duration of one unit (`90s`, `5m`, `30d`) in milliseconds.
fn duration_ms(d: &str) -> Option<u64> {
    let digits = d.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = d.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    Some(n * ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_selected_metrics_only() {
        let expr = r#"sum by (namespace, le) (rate(a_seconds_bucket{route=~"/x/\\{id\\}", le="0.5"}[5m]))
            / ignoring (state) b_total unless on (pool) histogram_quantile(0.99, c:rec:ratio_rate5m) > 1e3
            and max(d_gauge offset 5m) > 14.4 * 0.001 - time()"#;
        let names: Vec<String> = metric_names(expr).into_iter().collect();
        assert_eq!(
            names,
            [
                "a_seconds_bucket",
                "b_total",
                "c:rec:ratio_rate5m",
                "d_gauge"
            ]
        );
    }

    #[test]
    fn every_expression_of_the_rules_is_read() {
        let exprs = rule_exprs(RULES);
        let rules = RULES.matches("expr:").count();
        assert_eq!(exprs.len(), rules);
        assert!(exprs.iter().all(|e| !e.trim().is_empty()));
        assert!(
            exprs
                .iter()
                .any(|e| e.contains("identity_changes_recorded_total") && e.contains("unless"))
        );
    }

    #[test]
    fn compression_divides_every_duration() {
        let rules = "      - alert: X\n        expr: |\n          rate(a[5m]) > 0 and b{x=\"[y]\"}\n        for: 10m\n    interval: 5m\n";
        assert_eq!(
            compress(rules, 20),
            "      - alert: X\n        expr: |\n          rate(a[15000ms]) > 0 and b{x=\"[y]\"}\n        for: 30000ms\n    interval: 15000ms\n"
        );
        let compressed = compress(RULES, 20);
        assert!(!compressed.contains("[5m]") && !compressed.contains("for: 3m"));
        assert_eq!(rule_exprs(&compressed).len(), rule_exprs(RULES).len());
    }
}
