//! Statement text for both backends: placeholders and the parameter budget
//! of multi-row statements.

use crate::Backend;
use sqlx::AssertSqlSafe;

/// Builds a statement with the backend's placeholders (`?` on SQLite, whose
/// numbered-parameter lookup is a linear scan; `$N` on PostgreSQL), so binds
/// go in textual order.
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    n: usize,
}

impl Sql {
    pub(crate) fn new(backend: Backend, head: &str) -> Self {
        Self {
            backend,
            text: head.to_owned(),
            n: 0,
        }
    }

    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub(crate) fn param(&mut self) -> &mut Self {
        self.n += 1;
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.n.to_string());
            }
        }
        self
    }

    /// `(?,?,…)` with `n` parameters.
    pub(crate) fn list(&mut self, n: usize) -> &mut Self {
        self.text.push('(');
        for i in 0..n {
            if i > 0 {
                self.text.push(',');
            }
            self.param();
        }
        self.text.push(')');
        self
    }

    /// `(…),(…)`: `rows` tuples of `cols` parameters.
    pub(crate) fn tuples(&mut self, rows: usize, cols: usize) -> &mut Self {
        for r in 0..rows {
            if r > 0 {
                self.text.push(',');
            }
            self.list(cols);
        }
        self
    }

    pub(crate) fn query(&self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        sqlx::query(AssertSqlSafe(self.text.clone()))
    }
}

/// Rows per multi-row statement for `cols` parameters per row.
///
/// SQLite takes large statements well (5,600 parameters). PostgreSQL over
/// TCP does not: sqlx leaves Nagle's algorithm on, and a Bind message
/// larger than ~16 KiB stalls on delayed ACKs (~40 ms per statement,
/// measured: 235 s for the 1M demo at 5,600 parameters, 20x faster at
/// 840). So PostgreSQL statements stay around 840 parameters.
pub(crate) fn rows_per_statement(backend: Backend, cols: usize) -> usize {
    let budget = match backend {
        Backend::Sqlite => 5_600,
        Backend::Postgres => 840,
    };
    (budget / cols.max(1)).max(1)
}

/// `VALUES` tuples for a multi-row INSERT of `rows` rows of `cols` values.
///
/// SQLite gets anonymous `?` placeholders: sqlx resolves every numbered
/// `$N` through `sqlite3_bind_parameter_name`, a linear scan, which makes a
/// 5,000-parameter statement quadratic (measured: 82 % of a bulk load's CPU).
/// PostgreSQL needs `$N`.
pub(crate) fn placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut sql = Sql::new(backend, "");
    sql.tuples(rows, cols);
    sql.text
}
