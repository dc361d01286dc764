//! A minimal aligned-column table for human output: a header row, columns
//! separated by two spaces, no trailing spaces. Widths count `char`s, which
//! is right for the ids, names and timestamps shown here (not for wide CJK).

use std::io::{self, Write};

/// Rows of cells under a header; written with every column padded to its widest cell.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles and no rows.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row. Control characters are escaped, so data from an IdP
    /// cannot break the layout or send escape sequences to the terminal; an
    /// empty cell shows as `-`.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| sanitize(c)).collect());
    }

    /// Writes the header and the rows.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().take(columns).enumerate() {
                if i + 1 == columns {
                    line.push_str(cell);
                } else {
                    let pad = widths[i] - cell.chars().count();
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// `cell` with control characters escaped; `-` when empty.
pub fn sanitize(cell: &str) -> String {
    if cell.is_empty() {
        return "-".to_owned();
    }
    let mut clean = String::with_capacity(cell.len());
    for c in cell.chars() {
        if c.is_control() {
            clean.extend(c.escape_debug());
        } else {
            clean.push(c);
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn render(table: &Table) -> String {
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_align_to_the_widest_cell() {
        let mut t = Table::new(&["ID", "NAME", "CREATED"]);
        t.row(vec![
            "acme".into(),
            "Acme Corporation".into(),
            "2025".into(),
        ]);
        t.row(vec!["b".into(), String::new(), "2026".into()]);
        assert_eq!(
            render(&t),
            "ID    NAME              CREATED\n\
             acme  Acme Corporation  2025\n\
             b     -                 2026\n"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut t = Table::new(&["NAME"]);
        t.row(vec!["a\nb\u{1b}[31m".into()]);
        assert_eq!(render(&t), "NAME\na\\nb\\u{1b}[31m\n");
    }

    #[test]
    fn a_table_without_rows_is_its_header() {
        assert_eq!(render(&Table::new(&["ID", "NAME"])), "ID  NAME\n");
    }
}
