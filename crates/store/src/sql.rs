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
    /// Row sets written with [`Sql::rows`] on SQLite, not yet turned into
    /// their JSON parameter.
    json_rows: Vec<JsonRows>,
}

/// A row set of [`Sql::rows`] on SQLite: its SELECT goes at byte `at` of the
/// text; its values are `values[first..first + rows * cols]`, `first` being
/// the number of values that precede them in the text (binds follow the
/// text's order, whenever they are made).
#[derive(Debug, Clone, Copy)]
struct JsonRows {
    at: usize,
    first: usize,
    rows: usize,
    cols: usize,
    /// An `IN` list ([`Sql::in_list`]) rather than an INSERT's rows.
    list: bool,
}

impl Sql {
    pub(crate) fn new(backend: Backend, head: &str) -> Self {
        Self {
            backend,
            text: head.to_owned(),
            n: 0,
            values: Vec::new(),
            json_rows: Vec::new(),
        }
    }

    /// Adds a value for the next placeholder not bound yet.
    pub(crate) fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        self
    }

    pub(crate) fn text(&self) -> &str {
        debug_assert!(
            self.json_rows.is_empty(),
            "text() of an unfinished Sql::rows"
        );
        &self.text
    }

    /// `rows` rows of `cols` values, bound next with [`Sql::bind`], row by
    /// row, as the source of an INSERT (where a head would say `VALUES`).
    ///
    /// PostgreSQL gets `VALUES (…),(…)`. SQLite gets `SELECT value->>0, …
    /// FROM jsonb_each(?) WHERE true` with the rows as ONE JSON parameter, so
    /// the statement's text does not depend on how many rows it carries:
    /// sqlx's statement cache then prepares it once, where a `VALUES` list
    /// of a different length every pass was parsed and planned anew (perf:
    /// a quarter of the SQLite writer thread under the Dimona load). The
    /// `WHERE true` keeps an upsert's `ON CONFLICT` from being read as a
    /// join constraint. Blob columns travel as hex and are `unhex`ed.
    /// `jsonb_each`, not `json_each`: each row comes out in SQLite's binary
    /// JSON, which `->>` reads as is; `json_each` turned every row back
    /// into text that `->>` parsed again (perf: 12 % of the writer thread).
    pub(crate) fn rows(&mut self, rows: usize, cols: usize) -> &mut Self {
        match self.backend {
            Backend::Postgres => {
                self.text.push_str("VALUES ");
                self.tuples(rows, cols)
            }
            Backend::Sqlite => self.defer_json(rows, cols, false),
        }
    }

    /// Records a row set or list whose text and JSON parameter
    /// [`Sql::finish`] writes once its values are bound.
    fn defer_json(&mut self, rows: usize, cols: usize, list: bool) -> &mut Self {
        self.json_rows.push(JsonRows {
            at: self.text.len(),
            first: self.n,
            rows,
            cols,
            list,
        });
        self.n += rows * cols;
        self
    }

    /// The parenthesised list of an `IN`, of `n` values bound next with
    /// [`Sql::bind`]: `(?,?,…)` on PostgreSQL, `(SELECT value FROM
    /// json_each(?))` on SQLite, whose text then does not depend on `n`
    /// (prepared once; see [`Sql::rows`]).
    pub(crate) fn in_list(&mut self, n: usize) -> &mut Self {
        match self.backend {
            Backend::Postgres => self.list(n),
            Backend::Sqlite => self.defer_json(n, 1, true),
        }
    }

    /// This statement with its row sets and lists in their final form (for
    /// [`Sql::text`] and [`Sql::native_values`]).
    pub(crate) fn finished(mut self) -> Self {
        self.finish();
        self
    }

    /// Turns the row sets of [`Sql::rows`] into their SELECT and JSON
    /// parameter (the column types are read off the first row's values).
    fn finish(&mut self) {
        if !self.json_rows.is_empty() {
            debug_assert_eq!(
                self.values.len(),
                self.n,
                "binds do not match the placeholders"
            );
        }
        for g in std::mem::take(&mut self.json_rows).into_iter().rev() {
            let end = (g.first + g.rows * g.cols).min(self.values.len());
            let first = g.first.min(end);
            let group: Vec<Value> = self.values.drain(first..end).collect();
            if g.list {
                self.text.insert_str(g.at, json_keys!());
                self.values
                    .insert(first, Value::Text(Some(json_list(&group))));
                continue;
            }
            let mut select = String::from("SELECT ");
            for c in 0..g.cols {
                if c > 0 {
                    select.push_str(", ");
                }
                if matches!(group.get(c), Some(Value::Blob(_))) {
                    select.push_str(&format!("unhex(value->>{c})"));
                } else {
                    select.push_str(&format!("value->>{c}"));
                }
            }
            select.push_str(" FROM jsonb_each(?) WHERE true");
            let mut json = String::from("[");
            for (r, row) in group.chunks(g.cols.max(1)).enumerate() {
                if r > 0 {
                    json.push(',');
                }
                push_json_array(&mut json, row);
            }
            json.push(']');
            self.text.insert_str(g.at, &select);
            self.values.insert(first, Value::Text(Some(json)));
        }
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
        mut self,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        self.finish();
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

/// The keys (`key`, a column of `table`) of the due, unleased deliveries an
/// outbox worker may lease now, oldest first: at most `limit`, at most
/// `per_receiver` for one URL, none for a URL in `saturated` (receivers
/// that already hold as many as the worker lets them). Receivers are
/// capped among the oldest `4 × limit` candidates, so the claim stays a
/// bounded read however many deliveries a dead receiver has piled up.
pub(crate) fn claim_due_sql(
    sql: &mut Sql,
    table: &str,
    key: &str,
    now: i64,
    limit: i64,
    per_receiver: i64,
    saturated: &[String],
) {
    sql.push(&format!(
        "SELECT {key} FROM (SELECT {key}, ROW_NUMBER() OVER (PARTITION BY url ORDER BY {key}) AS rn \
         FROM (SELECT {key}, url FROM {table} WHERE delivered_at IS NULL AND next_attempt_at <= "
    ))
    .param()
    .push(" AND (lease_until IS NULL OR lease_until < ")
    .param()
    .push(")");
    sql.bind(now).bind(now);
    if !saturated.is_empty() {
        sql.push(" AND url NOT IN ").in_list(saturated.len());
        for url in saturated {
            sql.bind(url.as_str());
        }
    }
    sql.push(&format!(" ORDER BY {key} LIMIT "))
        .param()
        .push(") c) r WHERE rn <= ")
        .param()
        .push(&format!(" ORDER BY {key} LIMIT "))
        .param();
    sql.bind(limit.saturating_mul(4))
        .bind(per_receiver)
        .bind(limit);
}

/// The list an `IN` takes its keys from when they come as one JSON array
/// parameter (see [`Sql::in_list`]); a macro so that `concat!` can put it
/// in constant statement text.
macro_rules! json_keys {
    () => {
        "(SELECT value FROM json_each(?))"
    };
}
pub(crate) use json_keys;

/// `values` as a flat JSON array, for `json_each(?)` (see
/// [`Sql::in_list`]; native reads bind it themselves).
pub(crate) fn json_list<V: std::borrow::Borrow<Value>>(
    values: impl IntoIterator<Item = V>,
) -> String {
    let mut json = String::new();
    push_json_array(&mut json, values);
    json
}

/// Appends `values` as a JSON array to `out`.
fn push_json_array<V: std::borrow::Borrow<Value>>(
    out: &mut String,
    values: impl IntoIterator<Item = V>,
) {
    out.push('[');
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_value(out, v.borrow());
    }
    out.push(']');
}

/// `v` as a JSON value for [`Sql::rows`]: numbers, strings, blobs as hex
/// strings, `null`.
fn json_value(out: &mut String, v: &Value) {
    use std::fmt::Write;
    match v {
        Value::Int(Some(i)) => {
            let _ = write!(out, "{i}");
        }
        Value::Text(Some(t)) => json_string(out, t),
        Value::Blob(Some(b)) => {
            out.push('"');
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            out.push('"');
        }
        Value::Int(None) | Value::Text(None) | Value::Blob(None) => out.push_str("null"),
    }
}

/// A JSON string literal (RFC 8259: quote, backslash and control
/// characters escaped; everything else as is, UTF-8).
fn json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
                for mut s in statements {
                    s.finish();
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

    /// Runs the statements pushed so far, in order, on a native SQLite
    /// connection (the writer thread's: no hand-off between statements,
    /// each prepared once and cached).
    pub(crate) fn flush_native(&mut self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        for s in std::mem::take(&mut self.statements) {
            let s = s.finished();
            conn.prepare_cached(s.text())?
                .execute(rusqlite::params_from_iter(s.native_values()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> rusqlite::Connection {
        // Before this binary's first SQLite use (the page cache test checks it).
        crate::page_cache::install();
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, hash BLOB, n INTEGER)")
            .unwrap();
        c
    }

    type Row = (i64, Option<String>, Option<Vec<u8>>, Option<i64>);

    /// Runs `INSERT … rows() ON CONFLICT … DO UPDATE` as the deferred
    /// writes would, on SQLite, and returns what the table then holds.
    fn upsert(c: &rusqlite::Connection, rows: &[Row]) -> Vec<Row> {
        let mut sql = Sql::new(Backend::Sqlite, "INSERT INTO t (id, name, hash, n) ");
        sql.rows(rows.len(), 4).push(
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash, n = excluded.n",
        );
        for (id, name, hash, n) in rows {
            sql.bind(*id).bind(name.clone()).bind(hash.clone()).bind(*n);
        }
        sql.finish();
        assert!(!sql.text.contains("VALUES"), "{}", sql.text);
        let values: Vec<rusqlite::types::Value> = sql.native_values().collect();
        assert_eq!(values.len(), 1, "one JSON parameter for all rows");
        c.execute(&sql.text, rusqlite::params_from_iter(values))
            .unwrap();
        let mut q = c
            .prepare("SELECT id, name, hash, n FROM t ORDER BY id")
            .unwrap();
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn rows_keep_types_nulls_and_awkward_text() {
        let c = table();
        let rows = vec![
            (
                1,
                Some("quote \" back \\ nl \n tab \t nul \u{0} bell \u{7}".to_owned()),
                Some(vec![0, 255, 16]),
                Some(i64::MAX),
            ),
            (2, None, None, None),
            (
                3,
                Some("é ✓ 𝄞 '; DROP TABLE t; --".to_owned()),
                Some(vec![]),
                Some(i64::MIN),
            ),
        ];
        assert_eq!(upsert(&c, &rows), rows);
        // Upserted: the conflict clause applies, row 2 gains values.
        let again = vec![(2, Some("two".to_owned()), Some(vec![2]), Some(-2))];
        let all = upsert(&c, &again);
        assert_eq!(all[1], again[0]);
        // The text is the same whatever the number of rows: prepared once.
        let text = |n: usize| {
            let mut sql = Sql::new(Backend::Sqlite, "INSERT INTO t (id, name, hash, n) ");
            sql.rows(n, 4);
            for i in 0..n {
                sql.bind(i as i64).bind("x").bind(vec![1u8]).bind(1i64);
            }
            sql.finish();
            sql.text
        };
        assert_eq!(text(1), text(37));
    }

    #[test]
    fn in_lists_take_their_own_values_whenever_bound() {
        let c = table();
        upsert(
            &c,
            &[
                (1, Some("a".into()), None, Some(5)),
                (2, Some("b".into()), None, Some(5)),
                (3, Some("c".into()), None, Some(6)),
            ],
        );
        // Text first, binds after (as `entitled_sql` does), a parameter on
        // each side of the list.
        let mut sql = Sql::new(Backend::Sqlite, "SELECT id FROM t WHERE n = ");
        sql.param()
            .push(" AND name IN ")
            .in_list(3)
            .push(" AND id <> ")
            .param()
            .push(" ORDER BY id");
        sql.bind(5i64).bind("a").bind("b").bind("c").bind(2i64);
        let sql = sql.finished();
        let mut q = c.prepare(sql.text()).unwrap();
        let ids: Vec<i64> = q
            .query_map(rusqlite::params_from_iter(sql.native_values()), |r| {
                r.get(0)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, vec![1]);
    }

    #[test]
    fn rows_on_postgres_are_values_tuples() {
        let mut sql = Sql::new(Backend::Postgres, "INSERT INTO t (a, b) ");
        sql.rows(2, 2).push(" ON CONFLICT DO NOTHING");
        assert_eq!(
            sql.text,
            "INSERT INTO t (a, b) VALUES ($1,$2),($3,$4) ON CONFLICT DO NOTHING"
        );
    }

    proptest! {
        #[test]
        fn any_rows_round_trip_through_sqlite(
            rows in proptest::collection::btree_map(
                any::<i64>(),
                (proptest::option::of(any::<String>()),
                 proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                 proptest::option::of(any::<i64>())),
                1..20,
            )
        ) {
            let rows: Vec<Row> = rows.into_iter().map(|(id, (a, b, n))| (id, a, b, n)).collect();
            let c = table();
            prop_assert_eq!(upsert(&c, &rows), rows);
        }
    }
}
