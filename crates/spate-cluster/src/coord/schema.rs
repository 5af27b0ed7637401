//! The two coordination tables and every statement on them, built once per dialect.
//!
//! ```text
//! <prefix>NODE  (GROUP_ID, NODE_ID, PROPERTY_MAP, HEARTBEAT_AT, STARTED_AT)  PK (GROUP_ID, NODE_ID)
//! <prefix>LEASE (GROUP_ID, NODE_ID, EPOCH, EXPIRES_AT, ACQUIRED_AT)          PK (GROUP_ID)
//! ```
//!
//! Times are epoch milliseconds of the **database's** clock ([`Dialect::current_millis`]),
//! written by the statements themselves; no statement binds a node's clock. Upserts are done as
//! "update, insert if nothing was updated" so no backend-specific upsert syntax is needed.

use spate_store::Dialect;
use spate_store::dialect::validate_table_name;

use crate::error::{ClusterError, Result};

/// The default table prefix: `SPATE_CLUSTER_NODE` and `SPATE_CLUSTER_LEASE`.
pub const DEFAULT_TABLE_PREFIX: &str = "SPATE_CLUSTER_";

/// The longest group or node id (the key columns are `VARCHAR(190)`, which MySQL can index in
/// utf8mb4 within its key-length limit).
pub const MAX_ID_CHARS: usize = 190;

/// Column names.
mod col {
    pub const GROUP: &str = "GROUP_ID";
    pub const NODE: &str = "NODE_ID";
    pub const PROPS: &str = "PROPERTY_MAP";
    pub const HEARTBEAT: &str = "HEARTBEAT_AT";
    pub const STARTED: &str = "STARTED_AT";
    pub const EPOCH: &str = "EPOCH";
    pub const EXPIRES: &str = "EXPIRES_AT";
    pub const ACQUIRED: &str = "ACQUIRED_AT";
}

/// The SQL text of every coordination statement. Bind orders are given per statement.
#[derive(Debug, Clone)]
pub struct Statements {
    /// DDL, idempotent.
    pub create: Vec<String>,
    /// Per-pool setup (SQLite WAL).
    pub setup: Vec<String>,
    /// `SELECT <db now>`.
    pub now: String,
    /// Node heartbeat: binds props, group, node. Sets HEARTBEAT_AT = now.
    pub heartbeat: String,
    /// Node registration: binds group, node, props. STARTED_AT = HEARTBEAT_AT = now.
    pub insert_node: String,
    /// Re-registration of an existing row (a restart): binds props, group, node.
    pub restart_node: String,
    /// Removal of the node's own row on a clean shutdown: binds group, node.
    pub delete_node: String,
    /// All rows of a group with the db's now: binds group.
    /// Columns: NODE_ID, PROPERTY_MAP, HEARTBEAT_AT, STARTED_AT, now.
    pub select_nodes: String,
    /// The lease row with the db's now: binds group.
    /// Columns: NODE_ID, EPOCH, EXPIRES_AT, ACQUIRED_AT, now.
    pub select_lease: String,
    /// Creates the vacant lease row (epoch 0, expired): binds group.
    pub insert_lease: String,
    /// Takes an expired lease: binds node, ttl ms, group, observed epoch. One row = won.
    pub acquire: String,
    /// Extends a held, unexpired lease: binds ttl ms, group, node, epoch. One row = renewed.
    pub renew: String,
    /// Gives a held lease up (expires it now): binds group, node, epoch.
    pub release: String,
    /// Whether the node holds an unexpired lease of this epoch: binds group, node, epoch.
    pub is_leader: String,
}

impl Statements {
    /// The statements for `prefix` on `dialect`; the prefix must make plain table names.
    pub fn new(dialect: &dyn Dialect, prefix: &str) -> Result<Statements> {
        let (node_table, lease_table) = table_names(prefix);
        for table in [&node_table, &lease_table] {
            validate_table_name(table).map_err(|e| ClusterError::Config(e.to_string()))?;
        }
        let id = |name: &str| dialect.identifier(name);
        let p = |n: usize| dialect.placeholder(n);
        let now = dialect.current_millis();
        let nodes = id(&node_table);
        let lease = id(&lease_table);
        let (group, node, props) = (id(col::GROUP), id(col::NODE), id(col::PROPS));
        let (heartbeat, started) = (id(col::HEARTBEAT), id(col::STARTED));
        let (epoch, expires, acquired) = (id(col::EPOCH), id(col::EXPIRES), id(col::ACQUIRED));
        let key = format!("VARCHAR({MAX_ID_CHARS}) NOT NULL");
        Ok(Statements {
            create: vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {nodes} ({group} {key}, {node} {key}, \
                     {props} TEXT NOT NULL, {heartbeat} BIGINT NOT NULL, \
                     {started} BIGINT NOT NULL, PRIMARY KEY ({group}, {node}))"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {lease} ({group} {key}, {node} {key}, \
                     {epoch} BIGINT NOT NULL, {expires} BIGINT NOT NULL, \
                     {acquired} BIGINT NOT NULL, PRIMARY KEY ({group}))"
                ),
            ],
            setup: dialect.setup_statements(),
            now: format!("SELECT {now}"),
            heartbeat: format!(
                "UPDATE {nodes} SET {heartbeat} = {now}, {props} = {} \
                 WHERE {group} = {} AND {node} = {}",
                p(1),
                p(2),
                p(3)
            ),
            insert_node: format!(
                "INSERT INTO {nodes} ({group}, {node}, {props}, {heartbeat}, {started}) \
                 VALUES ({}, {}, {}, {now}, {now})",
                p(1),
                p(2),
                p(3)
            ),
            restart_node: format!(
                "UPDATE {nodes} SET {heartbeat} = {now}, {started} = {now}, {props} = {} \
                 WHERE {group} = {} AND {node} = {}",
                p(1),
                p(2),
                p(3)
            ),
            delete_node: format!(
                "DELETE FROM {nodes} WHERE {group} = {} AND {node} = {}",
                p(1),
                p(2)
            ),
            select_nodes: format!(
                "SELECT {node}, {props}, {heartbeat}, {started}, {now} FROM {nodes} \
                 WHERE {group} = {} ORDER BY {node}",
                p(1)
            ),
            select_lease: format!(
                "SELECT {node}, {epoch}, {expires}, {acquired}, {now} FROM {lease} \
                 WHERE {group} = {}",
                p(1)
            ),
            insert_lease: format!(
                "INSERT INTO {lease} ({group}, {node}, {epoch}, {expires}, {acquired}) \
                 VALUES ({}, '', 0, 0, 0)",
                p(1)
            ),
            acquire: format!(
                "UPDATE {lease} SET {node} = {}, {epoch} = {epoch} + 1, \
                 {expires} = {now} + {}, {acquired} = {now} \
                 WHERE {group} = {} AND {epoch} = {} AND {expires} <= {now}",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            renew: format!(
                "UPDATE {lease} SET {expires} = {now} + {} \
                 WHERE {group} = {} AND {node} = {} AND {epoch} = {} AND {expires} > {now}",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            release: format!(
                "UPDATE {lease} SET {expires} = {now} \
                 WHERE {group} = {} AND {node} = {} AND {epoch} = {} AND {expires} > {now}",
                p(1),
                p(2),
                p(3)
            ),
            is_leader: format!(
                "SELECT COUNT(*) FROM {lease} \
                 WHERE {group} = {} AND {node} = {} AND {epoch} = {} AND {expires} > {now}",
                p(1),
                p(2),
                p(3)
            ),
        })
    }
}

/// `(<prefix>NODE, <prefix>LEASE)`.
pub fn table_names(prefix: &str) -> (String, String) {
    (format!("{prefix}NODE"), format!("{prefix}LEASE"))
}

/// A predicate that is true only while `node` holds the lease of `group` with `epoch`, for
/// making a write conditional on the epoch (`INSERT ... SELECT ... WHERE <predicate>` or
/// `UPDATE ... AND <predicate>`) when it goes to the cluster database. Placeholders start at
/// `first`; bind group, node id and epoch in that order.
pub fn leader_predicate(dialect: &dyn Dialect, prefix: &str, first: usize) -> Result<String> {
    let (_, lease_table) = table_names(prefix);
    validate_table_name(&lease_table).map_err(|e| ClusterError::Config(e.to_string()))?;
    let id = |name: &str| dialect.identifier(name);
    let now = dialect.current_millis();
    Ok(format!(
        "EXISTS (SELECT 1 FROM {} WHERE {} = {} AND {} = {} AND {} = {} AND {} > {now})",
        id(&lease_table),
        id(col::GROUP),
        dialect.placeholder(first),
        id(col::NODE),
        dialect.placeholder(first + 1),
        id(col::EPOCH),
        dialect.placeholder(first + 2),
        id(col::EXPIRES),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_store::dialect::{MySqlDialect, PostgresDialect, SqliteDialect};

    #[test]
    fn acquire_is_a_compare_and_set_on_the_epoch_and_the_db_clock() {
        let pg = Statements::new(&PostgresDialect, "T_").unwrap();
        assert!(
            pg.acquire.contains("\"epoch\" = \"epoch\" + 1"),
            "{}",
            pg.acquire
        );
        assert!(
            pg.acquire
                .contains("\"epoch\" = $4 AND \"expires_at\" <= CAST(")
        );
        assert!(pg.renew.contains("\"expires_at\" > CAST("), "{}", pg.renew);
        let my = Statements::new(&MySqlDialect, "T_").unwrap();
        assert!(my.acquire.starts_with("UPDATE `T_LEASE` SET `NODE_ID` = ?"));
        assert!(my.acquire.contains("UTC_TIMESTAMP"));
        let lite = Statements::new(&SqliteDialect, DEFAULT_TABLE_PREFIX).unwrap();
        assert!(lite.create[0].contains("\"SPATE_CLUSTER_NODE\""));
    }

    #[test]
    fn prefixes_must_make_plain_table_names() {
        assert!(Statements::new(&SqliteDialect, "bad-prefix").is_err());
        assert!(Statements::new(&SqliteDialect, &"x".repeat(60)).is_err());
    }

    #[test]
    fn leader_predicate_numbers_its_placeholders() {
        let sql = leader_predicate(&PostgresDialect, "T_", 4).unwrap();
        assert!(
            sql.contains("$4") && sql.contains("$5") && sql.contains("$6"),
            "{sql}"
        );
    }
}
