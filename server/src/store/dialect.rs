//! Where SQLite and PostgreSQL differ, in one place. Every query is written once, in SQL both
//! understand (`$1` placeholders, `ON CONFLICT`, `RETURNING`); what cannot be written once is
//! asked of the [`Dialect`].

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded: one writer connection, a few read-only readers, WAL snapshots.
    Sqlite,
    /// Shared: one pool, writers ordered by a row lock on their collection.
    Postgres,
}

impl Dialect {
    /// Which database this is, as `/metrics` and backups name it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
        }
    }

    /// An empty byte string, for listings that leave `data` out.
    pub fn empty_blob(self) -> &'static str {
        match self {
            Dialect::Sqlite => "x''",
            Dialect::Postgres => "''::bytea",
        }
    }

    /// The larger of two numbers in one row.
    pub fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "MAX",
            Dialect::Postgres => "GREATEST",
        }
    }

    /// A condition: the JSON text in `column` has `true` at `path`.
    pub fn json_is_true(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}') = 1", path.join(".")),
            Dialect::Postgres => {
                format!("({column}::jsonb #>> '{{{}}}') = 'true'", path.join(","))
            }
        }
    }

    /// PostgreSQL text cannot hold NUL, which SQLite's can. Kith's key for a card without a UID
    /// starts with one ([`super::effective_uid`]), and card text may carry one into a UID or an
    /// index value; PostgreSQL stores them with U+0001 in its place, turned back on the way out.
    pub fn text_in(self, s: &str) -> String {
        match self {
            Dialect::Postgres if s.contains('\0') => s.replace('\0', "\u{1}"),
            _ => s.to_string(),
        }
    }

    pub fn text_out(self, s: String) -> String {
        match self {
            Dialect::Postgres if s.contains('\u{1}') => s.replace('\u{1}', "\0"),
            _ => s,
        }
    }

    /// Orders writers of one collection. On PostgreSQL the collection's row is locked for the
    /// transaction, so change stamps commit in the order they are handed out across instances
    /// and a precondition checked under the lock cannot be raced. SQLite has one writer
    /// connection, which already orders them.
    pub async fn lock_collection(self, tx: &mut AnyConnection, id: i64) -> sqlx::Result<()> {
        if self == Dialect::Postgres {
            sqlx::query("SELECT 1 FROM collections WHERE id = $1 FOR UPDATE")
                .bind(id)
                .execute(tx)
                .await?;
        }
        Ok(())
    }

    /// Makes a read transaction one snapshot, so the reads of a version rewind agree.
    /// A SQLite read transaction is one already.
    pub async fn snapshot(self, tx: &mut Transaction<'_, Any>) -> sqlx::Result<()> {
        if self == Dialect::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// A boolean column: BOOLEAN on PostgreSQL, an integer on SQLite.
pub fn flag(r: &AnyRow, column: &str) -> bool {
    r.try_get::<bool, _>(column)
        .or_else(|_| r.try_get::<i64, _>(column).map(|v| v != 0))
        .unwrap_or(false)
}

/// Rows per multi-row statement. sqlx binds each SQLite parameter by looking its name up among
/// all of the statement's, so one statement costs the square of its parameters: 1,000 rows of
/// 12 columns spent 85% of a 10,000-event pull there. Two dozen rows keep that negligible and
/// still save most round trips (each is a call into SQLite, not a network trip).
pub const BATCH: usize = 25;

/// `($1, $2, …), (…)`: `rows` groups of `cols` numbered placeholders from `$first`.
pub fn placeholders(rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * cols + c).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …`: a list of `n` placeholders, for `IN (…)`.
pub fn list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes LIKE wildcards in a needle (used with `ESCAPE '\'`).
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_groups() {
        assert_eq!(placeholders(2, 2, 3), "($3, $4), ($5, $6)");
        assert_eq!(list(3, 2), "$2, $3, $4");
    }

    #[test]
    fn nul_only_changes_on_postgres() {
        assert_eq!(Dialect::Postgres.text_in("\0name:a"), "\u{1}name:a");
        assert_eq!(Dialect::Postgres.text_out("\u{1}name:a".into()), "\0name:a");
        assert_eq!(Dialect::Sqlite.text_in("\0name:a"), "\0name:a");
    }

    #[test]
    fn json_conditions() {
        assert_eq!(
            Dialect::Sqlite.json_is_true("rules", &["schedule", "auto"]),
            "json_extract(rules, '$.schedule.auto') = 1"
        );
        assert_eq!(
            Dialect::Postgres.json_is_true("rules", &["schedule", "auto"]),
            "(rules::jsonb #>> '{schedule,auto}') = 'true'"
        );
    }

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
