//! The SQL an `@store(type='rdbms')` table needs, per backend: create the table if missing,
//! read every row, and apply one row change. A table without a primary key finds the row a
//! change means by its values (`IS NULL` for nulls), changing one row of several equal ones.

use spate_engine::plan::Schema;
use spate_engine::value::AttrType;
use spate_store::{Backend, Dialect};

/// The statements of one mirrored table.
#[derive(Debug, Clone)]
pub struct TableSql {
    pub backend: Backend,
    dialect: &'static dyn Dialect,
    /// The table, quoted.
    table: String,
    /// Column names, quoted, by attribute.
    columns: Vec<String>,
    types: Vec<AttrType>,
    /// Primary key attribute positions.
    pk: Option<Vec<usize>>,
    pub create: Vec<String>,
    pub select_all: String,
    pub insert: String,
    pub delete_all: String,
}

impl TableSql {
    pub fn new(
        backend: Backend,
        table: &str,
        schema: &Schema,
        pk: Option<&[usize]>,
        string_lengths: &[u32],
    ) -> TableSql {
        let dialect = backend.dialect();
        let quoted = dialect.identifier(table);
        let columns: Vec<String> = schema.names.iter().map(|n| dialect.identifier(n)).collect();
        let defs: Vec<String> = columns
            .iter()
            .zip(&schema.types)
            .zip(string_lengths)
            .map(|((c, t), len)| format!("{c} {}", column_type(backend, *t, *len)))
            .collect();
        let mut body = defs.join(", ");
        if let Some(pk) = pk {
            let cols: Vec<&str> = pk.iter().map(|&i| columns[i].as_str()).collect();
            body.push_str(&format!(", PRIMARY KEY ({})", cols.join(", ")));
        }
        TableSql {
            backend,
            dialect,
            create: vec![format!("CREATE TABLE IF NOT EXISTS {quoted} ({body})")],
            select_all: format!("SELECT {} FROM {quoted}", columns.join(", ")),
            insert: format!(
                "INSERT INTO {quoted} ({}) VALUES ({})",
                columns.join(", "),
                dialect.placeholders(1, columns.len())
            ),
            delete_all: format!("DELETE FROM {quoted}"),
            table: quoted,
            columns,
            types: schema.types.clone(),
            pk: pk.map(<[usize]>::to_vec),
        }
    }

    pub fn types(&self) -> &[AttrType] {
        &self.types
    }

    /// The condition that finds a row whose null attributes are `nulls`, its placeholders
    /// numbered from `first`, and which of the row's values it binds, in order.
    fn row_condition(&self, nulls: &[bool], first: usize) -> (String, Vec<usize>) {
        let attrs: Vec<usize> = match &self.pk {
            Some(pk) => pk.clone(),
            None => (0..self.columns.len()).collect(),
        };
        let mut parts = Vec::with_capacity(attrs.len());
        let mut bound = Vec::with_capacity(attrs.len());
        for i in attrs {
            if nulls[i] {
                parts.push(format!("{} IS NULL", self.columns[i]));
            } else {
                parts.push(format!(
                    "{} = {}",
                    self.columns[i],
                    self.dialect.placeholder(first + bound.len())
                ));
                bound.push(i);
            }
        }
        (parts.join(" AND "), bound)
    }

    /// Restricts `verb` (`DELETE FROM t` or `UPDATE t SET ...`) to one row matching `cond`.
    fn one_row(&self, verb: String, cond: &str) -> String {
        if self.pk.is_some() {
            return format!("{verb} WHERE {cond}");
        }
        match self.backend {
            Backend::MySql => format!("{verb} WHERE {cond} LIMIT 1"),
            Backend::Postgres => format!(
                "{verb} WHERE ctid = (SELECT ctid FROM {} WHERE {cond} LIMIT 1)",
                self.table
            ),
            Backend::Sqlite => format!(
                "{verb} WHERE rowid = (SELECT rowid FROM {} WHERE {cond} LIMIT 1)",
                self.table
            ),
        }
    }

    /// `DELETE` of one row (its nulls given by `nulls`); binds the returned attributes of the
    /// row in order.
    pub fn delete(&self, nulls: &[bool]) -> (String, Vec<usize>) {
        let (cond, bound) = self.row_condition(nulls, 1);
        (
            self.one_row(format!("DELETE FROM {}", self.table), &cond),
            bound,
        )
    }

    /// `UPDATE` of one row (its nulls given by `nulls`) to new values: binds every new value
    /// first, then the returned attributes of the old row.
    pub fn update(&self, nulls: &[bool]) -> (String, Vec<usize>) {
        let sets: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {}", self.dialect.placeholder(i + 1)))
            .collect();
        let (cond, bound) = self.row_condition(nulls, self.columns.len() + 1);
        let verb = format!("UPDATE {} SET {}", self.table, sets.join(", "));
        (self.one_row(verb, &cond), bound)
    }
}

/// The column type Siddhi's RDBMS store would create for an attribute.
fn column_type(backend: Backend, t: AttrType, string_length: u32) -> String {
    match (backend, t) {
        (Backend::Sqlite, AttrType::String) => "TEXT".into(),
        (_, AttrType::String) => format!("VARCHAR({string_length})"),
        (_, AttrType::Int) => "INTEGER".into(),
        (_, AttrType::Long) => "BIGINT".into(),
        (Backend::Postgres, AttrType::Float) => "REAL".into(),
        (_, AttrType::Float) => "FLOAT".into(),
        (Backend::Postgres, AttrType::Double) => "DOUBLE PRECISION".into(),
        (Backend::Sqlite, AttrType::Double) => "REAL".into(),
        (_, AttrType::Double) => "DOUBLE".into(),
        (Backend::Sqlite, AttrType::Bool) => "INTEGER".into(),
        (_, AttrType::Bool) => "BOOLEAN".into(),
        (Backend::Postgres, AttrType::Object) => "BYTEA".into(),
        (_, AttrType::Object) => "BLOB".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema {
            names: vec!["symbol".into(), "price".into(), "volume".into()],
            types: vec![AttrType::String, AttrType::Double, AttrType::Long],
        }
    }

    #[test]
    fn keyed_table_statements() {
        let sql = TableSql::new(
            Backend::MySql,
            "Stock",
            &schema(),
            Some(&[0]),
            &[20, 254, 254],
        );
        assert_eq!(
            sql.create[0],
            "CREATE TABLE IF NOT EXISTS `Stock` (`symbol` VARCHAR(20), `price` DOUBLE, `volume` BIGINT, PRIMARY KEY (`symbol`))"
        );
        let (delete, bound) = sql.delete(&[false, true, false]);
        assert_eq!(delete, "DELETE FROM `Stock` WHERE `symbol` = ?");
        assert_eq!(bound, vec![0]);
    }

    #[test]
    fn unkeyed_rows_are_found_by_value_one_at_a_time() {
        let sql = TableSql::new(Backend::Postgres, "Stock", &schema(), None, &[254; 3]);
        let (update, bound) = sql.update(&[false, true, false]);
        assert_eq!(
            update,
            "UPDATE \"stock\" SET \"symbol\" = $1, \"price\" = $2, \"volume\" = $3 WHERE ctid = \
             (SELECT ctid FROM \"stock\" WHERE \"symbol\" = $4 AND \"price\" IS NULL AND \"volume\" = $5 LIMIT 1)"
        );
        assert_eq!(bound, vec![0, 2]);
        let sqlite = TableSql::new(Backend::Sqlite, "Stock", &schema(), None, &[254; 3]);
        let (delete, _) = sqlite.delete(&[false; 3]);
        assert!(delete.contains("rowid = (SELECT rowid"), "{delete}");
    }
}
