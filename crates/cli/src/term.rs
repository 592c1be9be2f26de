//! Terminal output: tables, and colour only on a terminal that wants it.

use std::io::IsTerminal;

/// Colour when stdout is a terminal and `NO_COLOR` is unset.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub fn paint(text: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Left-aligned columns, widths from the content (by characters, before
/// colour is applied by `style`).
pub fn table(
    header: &[&str],
    rows: &[Vec<String>],
    style: impl Fn(usize, &str) -> String,
) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, raw: Vec<usize>| {
        let mut s = String::new();
        for (i, (cell, len)) in cells.iter().zip(raw).enumerate() {
            s.push_str(cell);
            if i + 1 < widths.len() {
                s.push_str(&" ".repeat(widths[i] - len + 2));
            }
        }
        s.trim_end().to_owned()
    };
    out.push_str(&line(
        header.iter().map(|h| h.to_string()).collect(),
        header.iter().map(|h| h.chars().count()).collect(),
    ));
    out.push('\n');
    for row in rows {
        let styled = row.iter().enumerate().map(|(i, c)| style(i, c)).collect();
        out.push_str(&line(
            styled,
            row.iter().map(|c| c.chars().count()).collect(),
        ));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let rows = vec![
            vec!["ollama".to_owned(), "down".to_owned()],
            vec!["open-webui".to_owned(), "up".to_owned()],
        ];
        let text = table(&["TARGET", "STATE"], &rows, |_, c| c.to_owned());
        assert_eq!(
            text,
            "TARGET      STATE\nollama      down\nopen-webui  up\n"
        );
    }
}
