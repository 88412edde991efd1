//! Statement text for both backends: placeholders, the parameter budget
//! of multi-row statements, and writes deferred to the end of a
//! transaction ([`DeferredWrites`]).

use crate::{Backend, StoreError};
use sqlx::{AnyConnection, AssertSqlSafe};

/// A value bound to an [`Sql`] statement, kept until it runs.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(Some(v))
    }
}
impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        Value::Blob(v)
    }
}

/// Builds a statement with the backend's placeholders (`?` on SQLite, whose
/// numbered-parameter lookup is a linear scan; `$N` on PostgreSQL), so binds
/// go in textual order.
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    n: usize,
    /// Values given with [`Sql::bind`] (statements that carry their values,
    /// such as deferred writes); others bind on the query.
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(backend: Backend, head: &str) -> Self {
        Self {
            backend,
            text: head.to_owned(),
            n: 0,
            values: Vec::new(),
        }
    }

    /// Adds a value for the next placeholder not bound yet.
    pub(crate) fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        self
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The values given to [`Sql::bind`], for a native (rusqlite) statement.
    pub(crate) fn native_values(&self) -> impl Iterator<Item = rusqlite::types::Value> + '_ {
        self.values.iter().map(|v| match v.clone() {
            Value::Int(i) => i.map_or(
                rusqlite::types::Value::Null,
                rusqlite::types::Value::Integer,
            ),
            Value::Text(t) => t.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Text),
            Value::Blob(b) => b.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Blob),
        })
    }

    /// The statement with the values given to [`Sql::bind`].
    pub(crate) fn bound_query(
        self,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.text));
        for v in self.values {
            q = match v {
                Value::Int(i) => q.bind(i),
                Value::Text(t) => q.bind(t),
                Value::Blob(b) => q.bind(b),
            };
        }
        q
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

/// Writes of a transaction whose results nothing in it reads (the INSERTs
/// and upserts that end a Dimona pass, its audit entries), sent together
/// when flushed. On SQLite they go as ONE multi-statement query: one
/// hand-off to sqlx's writer thread instead of one per statement, which
/// under load cost more than the statements themselves (~0.3 ms each,
/// measured). PostgreSQL's extended protocol takes one statement per query,
/// so there they run one after the other, as before. Statements run in the
/// order they were pushed, and the first that fails stops the rest (SQLite
/// undoes that statement alone; the caller rolls the transaction back).
pub struct DeferredWrites {
    backend: Backend,
    statements: Vec<Sql>,
    /// Counters whose UPDATE is among the statements (see
    /// `dimona_pass::reserve_many`).
    reserved: Vec<String>,
}

impl DeferredWrites {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
            reserved: Vec::new(),
        }
    }

    /// Records that a counter's reservation is among the statements; a
    /// second one could not see it, and would hand out the same numbers.
    pub(crate) fn reserving(&mut self, counter: &str) -> Result<(), StoreError> {
        if self.reserved.iter().any(|c| c == counter) {
            return Err(StoreError::Config(format!(
                "counter {counter} reserved twice in one transaction"
            )));
        }
        self.reserved.push(counter.to_owned());
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn push(&mut self, sql: Sql) {
        self.statements.push(sql);
    }

    /// Runs the statements pushed so far, in order.
    pub async fn flush(&mut self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        let statements = std::mem::take(&mut self.statements);
        match self.backend {
            Backend::Sqlite => {
                let mut all = Sql::new(Backend::Sqlite, "");
                for s in statements {
                    if !all.text.is_empty() {
                        all.text.push_str(";\n");
                    }
                    all.text.push_str(&s.text);
                    all.values.extend(s.values);
                }
                if !all.text.is_empty() {
                    all.bound_query().execute(&mut *conn).await?;
                }
            }
            Backend::Postgres => {
                for s in statements {
                    s.bound_query().execute(&mut *conn).await?;
                }
            }
        }
        Ok(())
    }
}
