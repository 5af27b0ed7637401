//! `@store(type='rdbms', ...)` options, as Siddhi's RDBMS store names them: where the table
//! lives (`datasource` from `wso2.datasources`, or `jdbc.url` with `username`/`password`), its
//! name in the database (`table.name`, default the table's own name) and string column sizes
//! (`field.length='symbol:100, name:50'`).

use std::path::Path;

use spate_engine::plan::{Schema, TableStore};
use spate_engine::value::AttrType;
use spate_store::Datasource;
use spate_store::datasource::ConnectTarget;

/// Siddhi's RDBMS store makes string columns this long unless `field.length` says otherwise.
pub const DEFAULT_STRING_LENGTH: u32 = 254;

/// Options Siddhi's RDBMS store has that change nothing here (the driver follows from the URL;
/// the pool is Spate's own).
const ACCEPTED_AND_IGNORED: &[&str] = &[
    "jdbc.driver.name",
    "pool.properties",
    "jndi.resource",
    "table.check.query",
    "use.collation",
    "allow.null.in.primary.key",
];

/// A resolved `@store(type='rdbms')` table.
#[derive(Debug, Clone)]
pub struct StoreTarget {
    pub connect: ConnectTarget,
    /// The table's name in the database.
    pub table: String,
    /// Per attribute: the SQL length of a string column.
    pub string_lengths: Vec<u32>,
    /// Things to tell the operator (ignored options, H2 mapped to SQLite).
    pub warnings: Vec<String>,
}

/// Resolves a table's `@store`; errors say what to change in the app or the configuration.
pub fn resolve(
    table: &str,
    schema: &Schema,
    store: &TableStore,
    datasources: &[Datasource],
    base_dir: &Path,
) -> Result<StoreTarget, String> {
    if !store.kind.eq_ignore_ascii_case("rdbms") {
        return Err(format!(
            "table `{table}`: `@store(type='{}')` is not supported; Spate stores tables in `rdbms` \
             (SQLite, MySQL/MariaDB, PostgreSQL) or in memory (no @store)",
            store.kind
        ));
    }
    if let Some(i) = schema.types.iter().position(|t| *t == AttrType::Object) {
        return Err(format!(
            "table `{table}`: attribute `{}` is of type object, which an rdbms table cannot hold",
            schema.names[i]
        ));
    }
    let get = |key: &str| {
        store
            .options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let mut warnings = Vec::new();
    for (k, _) in &store.options {
        let known = [
            "datasource",
            "jdbc.url",
            "username",
            "password",
            "table.name",
            "field.length",
        ];
        if !known.iter().any(|n| k.eq_ignore_ascii_case(n)) {
            if ACCEPTED_AND_IGNORED
                .iter()
                .any(|n| k.eq_ignore_ascii_case(n))
            {
                warnings.push(format!(
                    "table `{table}`: `@store` option `{k}` is ignored by Spate"
                ));
            } else {
                return Err(format!(
                    "table `{table}`: unknown `@store` option `{k}`; use datasource, jdbc.url, \
                     username, password, table.name or field.length"
                ));
            }
        }
    }
    let datasource = match (get("datasource"), get("jdbc.url")) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "table `{table}`: `@store` names both a datasource and a jdbc.url; keep one"
            ));
        }
        (Some(name), None) => datasources
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "table `{table}`: no datasource named `{name}` in wso2.datasources.dataSources \
                     of the node's deployment.yaml"
                )
            })?,
        (None, Some(url)) => {
            let mut d = Datasource::new(format!("@store of table {table}"), url);
            d.username = get("username").map(str::to_string);
            d.password = get("password").map(str::to_string);
            d
        }
        (None, None) => {
            return Err(format!(
                "table `{table}`: `@store(type='rdbms')` needs datasource='NAME' (from the \
                 node's wso2.datasources) or jdbc.url='jdbc:...'"
            ));
        }
    };
    let connect = datasource
        .target(base_dir)
        .map_err(|e| format!("table `{table}`: {e}"))?;
    warnings.extend(connect.warnings.iter().cloned());
    let name = get("table.name").unwrap_or(table).to_string();
    spate_store::dialect::validate_table_name(&name)
        .map_err(|e| format!("table `{table}`: table.name: {e}"))?;
    let string_lengths = field_lengths(table, schema, get("field.length").unwrap_or(""))?;
    Ok(StoreTarget {
        connect,
        table: name,
        string_lengths,
        warnings,
    })
}

/// `field.length='a:100, b:20'` as a length per attribute.
fn field_lengths(table: &str, schema: &Schema, text: &str) -> Result<Vec<u32>, String> {
    let mut lengths = vec![DEFAULT_STRING_LENGTH; schema.names.len()];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part.split_once(':').and_then(|(name, len)| {
            let len: u32 = len
                .trim()
                .parse()
                .ok()
                .filter(|l| (1..=65_535).contains(l))?;
            Some((name.trim(), len))
        });
        let Some((name, len)) = parsed else {
            return Err(format!(
                "table `{table}`: field.length entry `{part}` is not `attribute:length` with a length of 1 to 65535"
            ));
        };
        let Some(i) = schema.names.iter().position(|n| n == name) else {
            return Err(format!(
                "table `{table}`: field.length names `{name}`, which the table does not have"
            ));
        };
        lengths[i] = len;
    }
    Ok(lengths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_ql::Span;

    fn schema() -> Schema {
        Schema {
            names: vec!["symbol".into(), "price".into()],
            types: vec![AttrType::String, AttrType::Double],
        }
    }

    fn store(options: &[(&str, &str)]) -> TableStore {
        TableStore {
            kind: "rdbms".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            span: Span::new(0, 0),
        }
    }

    #[test]
    fn jdbc_url_with_table_name_and_lengths() {
        let dir = std::env::temp_dir();
        let t = resolve(
            "Stock",
            &schema(),
            &store(&[
                ("jdbc.url", "jdbc:sqlite:stocks.db"),
                ("table.name", "STOCKS"),
                ("field.length", "symbol:20"),
                ("jdbc.driver.name", "org.sqlite.JDBC"),
            ]),
            &[],
            &dir,
        )
        .expect("resolves");
        assert_eq!(t.table, "STOCKS");
        assert_eq!(t.string_lengths, vec![20, DEFAULT_STRING_LENGTH]);
        assert_eq!(t.connect.backend, spate_store::Backend::Sqlite);
        assert!(t.warnings.iter().any(|w| w.contains("jdbc.driver.name")));
    }

    #[test]
    fn errors_name_the_problem() {
        let dir = std::env::temp_dir();
        let err = |opts: &[(&str, &str)]| {
            resolve("Stock", &schema(), &store(opts), &[], &dir).expect_err("refused")
        };
        assert!(err(&[]).contains("needs datasource"));
        assert!(err(&[("datasource", "NOPE")]).contains("no datasource named `NOPE`"));
        assert!(err(&[("jdbc.url", "jdbc:sqlite:x.db"), ("colour", "red")]).contains("`colour`"));
        assert!(
            err(&[("jdbc.url", "jdbc:sqlite:x.db"), ("field.length", "nope:5")])
                .contains("does not have")
        );
        assert!(
            err(&[("jdbc.url", "jdbc:sqlite:x.db"), ("table.name", "x; drop")])
                .contains("table.name")
        );
        let mut redis = store(&[]);
        redis.kind = "redis".into();
        let e = resolve("Stock", &schema(), &redis, &[], &dir).expect_err("refused");
        assert!(e.contains("type='redis'"), "{e}");
    }

    #[test]
    fn datasource_by_name() {
        let dir = std::env::temp_dir();
        let ds = Datasource::new("TABLES_DB", "jdbc:mysql://127.0.0.1:3306/test");
        let t = resolve(
            "Stock",
            &schema(),
            &store(&[("datasource", "TABLES_DB")]),
            &[ds],
            &dir,
        )
        .expect("resolves");
        assert_eq!(t.connect.backend, spate_store::Backend::MySql);
        assert_eq!(t.table, "Stock");
    }
}
