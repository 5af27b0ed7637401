//! Talking to the database of one `@store(type='rdbms')` table: create it, read it, apply row
//! changes, replace its contents. Values are bound with the attribute's own type, so nulls
//! are typed too (PostgreSQL needs that).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row};

use spate_engine::table::TableChange;
use spate_engine::value::{AttrType, Value};

use super::sql::TableSql;

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// One mirrored table's pool and statements.
#[derive(Debug, Clone)]
pub struct TableDb {
    /// The table's name in the app, for logs.
    pub name: String,
    pub pool: AnyPool,
    pub sql: TableSql,
}

impl TableDb {
    /// Creates the table if it is missing.
    pub async fn ensure(&self) -> Result<(), sqlx::Error> {
        for statement in &self.sql.create {
            sqlx::query(AssertSqlSafe(statement.as_str()))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Every row, as the engine's values.
    pub async fn read_all(&self) -> Result<Vec<Vec<Value>>, sqlx::Error> {
        let rows = sqlx::query(AssertSqlSafe(self.sql.select_all.as_str()))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    fn decode(&self, row: &AnyRow) -> Result<Vec<Value>, sqlx::Error> {
        self.sql
            .types()
            .iter()
            .enumerate()
            .map(|(i, t)| decode(row, i, *t))
            .collect()
    }

    /// Applies changes in one transaction.
    pub async fn apply(&self, changes: &[TableChange]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            self.statement(change).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// Makes the table hold exactly `rows`, in one transaction.
    pub async fn replace(&self, rows: &[Vec<Value>]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(AssertSqlSafe(self.sql.delete_all.as_str()))
            .execute(&mut *tx)
            .await?;
        for row in rows {
            let mut q = sqlx::query(AssertSqlSafe(self.sql.insert.clone()));
            for (v, t) in row.iter().zip(self.sql.types()) {
                q = bind(q, v, *t);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// The statement that applies one change.
    fn statement<'q>(&self, change: &'q TableChange) -> AnyQuery<'q> {
        let types = self.sql.types();
        let bind_all = |mut q: AnyQuery<'q>, row: &'q [Value], which: &[usize]| {
            for &i in which {
                q = bind(q, &row[i], types[i]);
            }
            q
        };
        let nulls = |row: &[Value]| {
            row.iter()
                .map(|v| matches!(v, Value::Null))
                .collect::<Vec<_>>()
        };
        match change {
            TableChange::Insert(row) => {
                let all: Vec<usize> = (0..row.len()).collect();
                bind_all(
                    sqlx::query(AssertSqlSafe(self.sql.insert.clone())),
                    row,
                    &all,
                )
            }
            TableChange::Delete(old) => {
                let (text, bound) = self.sql.delete(&nulls(old));
                bind_all(sqlx::query(AssertSqlSafe(text)), old, &bound)
            }
            TableChange::Update { old, new } => {
                let (text, bound) = self.sql.update(&nulls(old));
                let all: Vec<usize> = (0..new.len()).collect();
                let q = bind_all(sqlx::query(AssertSqlSafe(text)), new, &all);
                bind_all(q, old, &bound)
            }
        }
    }
}

/// Binds `v` as an attribute of type `t` (a null with the column's type).
fn bind<'q>(q: AnyQuery<'q>, v: &Value, t: AttrType) -> AnyQuery<'q> {
    match (v, t) {
        (Value::Null, AttrType::String) => q.bind(None::<String>),
        (Value::Null, AttrType::Int) => q.bind(None::<i32>),
        (Value::Null, AttrType::Long) => q.bind(None::<i64>),
        (Value::Null, AttrType::Float) => q.bind(None::<f32>),
        (Value::Null, AttrType::Double) => q.bind(None::<f64>),
        (Value::Null, AttrType::Bool) => q.bind(None::<bool>),
        (Value::Null, AttrType::Object) => q.bind(None::<Vec<u8>>),
        (Value::Bool(b), _) => q.bind(*b),
        (Value::Int(i), _) => q.bind(*i),
        (Value::Long(l), _) => q.bind(*l),
        (Value::Float(f), _) => q.bind(*f),
        (Value::Double(d), _) => q.bind(*d),
        (Value::Str(s), _) => q.bind(s.to_string()),
        // Refused when the app is deployed (an rdbms table has no object attributes).
        (Value::Object(_), _) => q.bind(None::<Vec<u8>>),
    }
}

/// Reads column `i` as type `t`, accepting the integer widths and float widths databases
/// hand back for the column types this module creates (or a user created).
fn decode(row: &AnyRow, i: usize, t: AttrType) -> Result<Value, sqlx::Error> {
    fn first<T>(tries: [Result<Option<T>, sqlx::Error>; 2]) -> Result<Option<T>, sqlx::Error> {
        let [a, b] = tries;
        a.or(b)
    }
    Ok(match t {
        AttrType::String => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null, |s| Value::str(&s)),
        AttrType::Int => first([
            row.try_get::<Option<i32>, _>(i),
            row.try_get::<Option<i64>, _>(i)
                .map(|v| v.map(|v| v as i32)),
        ])?
        .map_or(Value::Null, Value::Int),
        AttrType::Long => first([
            row.try_get::<Option<i64>, _>(i),
            row.try_get::<Option<i32>, _>(i).map(|v| v.map(i64::from)),
        ])?
        .map_or(Value::Null, Value::Long),
        AttrType::Float => first([
            row.try_get::<Option<f32>, _>(i),
            row.try_get::<Option<f64>, _>(i)
                .map(|v| v.map(|v| v as f32)),
        ])?
        .map_or(Value::Null, Value::Float),
        AttrType::Double => first([
            row.try_get::<Option<f64>, _>(i),
            row.try_get::<Option<f32>, _>(i).map(|v| v.map(f64::from)),
        ])?
        .map_or(Value::Null, Value::Double),
        AttrType::Bool => first([
            row.try_get::<Option<bool>, _>(i),
            row.try_get::<Option<i64>, _>(i).map(|v| v.map(|v| v != 0)),
        ])
        .or_else(|_| row.try_get::<Option<i32>, _>(i).map(|v| v.map(|v| v != 0)))?
        .map_or(Value::Null, Value::Bool),
        AttrType::Object => Value::Null,
    })
}
