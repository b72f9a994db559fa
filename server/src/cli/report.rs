//! Plans and runs as people read them in a terminal.

use crate::store::sources::{Run, RunKind, RunStatus};
use crate::sync::Summary;
use kith_connectors::plan::{Change, ChangeKind, Op};
use std::fmt::Write;

const ROWS: [&str; 9] = [
    "create", "update", "link", "unlink", "delete", "propose", "refresh", "skip", "ignore",
];

/// The summary table every run ends with.
pub fn summary(out: &mut String, run_id: i64, status: RunStatus, s: &Summary) {
    let _ = writeln!(out, "Run {run_id} of source {}: {status}", s.source);
    if let Some(f) = &s.file {
        let label = if s.events { "account" } else { "file" };
        let _ = writeln!(out, "  {label:<11} {f}");
    }
    let _ = writeln!(
        out,
        "  read        {} {}, {} failed rows",
        s.seen,
        if s.events { "events" } else { "contacts" },
        s.failed_rows
    );
    for a in ROWS {
        let n = s.count(a);
        if n > 0 || matches!(a, "create" | "update" | "unlink" | "delete") {
            let _ = writeln!(out, "  {a:<11} {n}");
        }
    }
    for (a, n) in &s.counts {
        if !ROWS.contains(&a.as_str()) {
            let _ = writeln!(out, "  {a:<11} {n}");
        }
    }
    let _ = writeln!(out, "  unchanged   {}", s.unchanged);
    let _ = writeln!(out, "  conflicts   {}", s.conflicts);
    if !s.errors.is_empty() {
        let _ = writeln!(out, "Rows not imported:");
        for e in &s.errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    if !s.refused.is_empty() {
        let _ = writeln!(out, "Refused by the source (kept in Kith only):");
        for r in &s.refused {
            let _ = writeln!(out, "  {r}");
        }
    }
    for t in &s.trips {
        let _ = writeln!(out, "Guard {}: {}", t.guard.as_str(), t.message);
    }
}

fn change(c: &Change) -> String {
    let q = |v: &Option<String>| format!("{:?}", v.as_deref().unwrap_or(""));
    match c.kind {
        ChangeKind::Set => format!("{}: {} → {}", c.field.as_str(), q(&c.before), q(&c.after)),
        ChangeKind::Clear => format!("{}: {} removed", c.field.as_str(), q(&c.before)),
        ChangeKind::Add => format!("{}: + {}", c.field.as_str(), q(&c.after)),
        ChangeKind::Remove => format!("{}: − {}", c.field.as_str(), q(&c.before)),
    }
}

/// Every operation under `title`, with its field changes and reasons; at most `limit`.
pub fn ops(out: &mut String, title: &str, ops: &[Op], limit: usize) {
    let shown: Vec<&Op> = ops.iter().take(limit).collect();
    if shown.is_empty() {
        let _ = writeln!(out, "Nothing to change.");
        return;
    }
    let _ = writeln!(out, "{title}:");
    for op in shown {
        let card = op
            .card
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {:<8} {}{card}", op.action.as_str(), op.name);
        for c in &op.changes {
            let _ = writeln!(out, "           {}", change(c));
        }
        if let Some(p) = &op.push {
            let _ = writeln!(out, "           {} in the source:", p.kind.as_str());
            for c in &p.changes {
                let _ = writeln!(out, "             {}", change(c));
            }
        }
        for n in &op.notes {
            let _ = writeln!(out, "           why: {n}");
        }
    }
    if ops.len() > limit {
        let _ = writeln!(
            out,
            "  … and {} more (see them all with `kith sync show RUN --all`)",
            ops.len() - limit
        );
    }
}

pub fn time(ms: i64) -> String {
    crate::time::readable(ms)
}

/// One line of `kith sync history`.
pub fn history_line(out: &mut String, run: &Run) {
    let s: Summary = serde_json::from_str(&run.summary).unwrap_or_default();
    let counts: Vec<String> = s
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(a, n)| format!("{a} {n}"))
        .collect();
    let what = if run.kind == RunKind::Undo {
        format!("undo of run {}", run.undo_of.unwrap_or(0))
    } else {
        run.trigger.to_string()
    };
    let _ = writeln!(
        out,
        "{:>5}  {}  {:<12} {:<9} {:<14} {}{}",
        run.id,
        time(run.created_at),
        s.source,
        run.status,
        what,
        if counts.is_empty() {
            "no changes".to_string()
        } else {
            counts.join(", ")
        },
        if s.trips.is_empty() {
            String::new()
        } else {
            format!(
                "  [guard: {}]",
                s.trips
                    .iter()
                    .map(|t| t.guard.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
}
