//! `jolt list`: the containers under --root, as runc's table or JSON.

use anyhow::Result;
use jolt_runtime::{container, state::Root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print only the IDs
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn exec(root: &Root, args: &Args) -> Result<()> {
    let states = container::list(root)?;
    if args.quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(());
    }
    match args.format {
        // runc prints null, not [], when there is nothing.
        Format::Json if states.is_empty() => println!("null"),
        Format::Json => println!("{}", serde_json::to_string(&states)?),
        Format::Table => {
            let mut rows =
                vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for s in &states {
                rows.push([
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            print!("{}", table(&rows));
        }
    }
    Ok(())
}

/// Columns as Go's tabwriter lays out runc's: at least 12 wide, 3 spaces
/// of padding.
fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [12usize; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len() + 3);
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_pads_columns() {
        let rows = [
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from),
            ["web", "42", "running", "/b", "2026-01-01T00:00:00Z", "root"].map(String::from),
        ];
        let t = super::table(&rows);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(
            lines[0],
            "ID          PID         STATUS      BUNDLE      CREATED                OWNER"
        );
        assert_eq!(
            lines[1],
            "web         42          running     /b          2026-01-01T00:00:00Z   root"
        );
    }
}
