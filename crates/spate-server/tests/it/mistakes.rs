//! What users get wrong in `deployment.yaml`, and what Spate says about it.

use libtest_mimic::Failed;
use spate_server::config::{ConfigError, load_str};

use crate::{SEED, SEED_HA, Test, expect_line, load_err, load_ok, options, warnings};

pub fn tests() -> Vec<Test> {
    vec![
        ("misspelt_key_names_the_path_and_the_fix", misspelt_key),
        ("wrong_types", wrong_types),
        ("missing_or_broken_datasources", datasources),
        ("ha_needs_cluster_and_persistence", ha_needs),
        ("unsupported_wso2_features", unsupported),
        ("placeholders_without_values", placeholders),
        ("yaml_syntax_errors_have_a_line", syntax),
        ("duplicate_keys_and_sections", duplicates),
        ("risky_values_load_with_warnings", risky_values),
    ]
}

fn misspelt_key() -> Result<(), Failed> {
    let yaml = SEED.replace("    heartbeatInterval: 3000", "    heartbeatIntrval: 3000");
    let line = yaml
        .lines()
        .position(|l| l.contains("heartbeatIntrval"))
        .ok_or("no line")?
        + 1;
    let lines = load_err(&yaml, &[])?;
    let expected = format!(
        "line {line}: cluster.config.strategyConfig.heartbeatIntrval: unknown key; did you mean \
         heartbeatInterval? Fix the spelling"
    );
    if lines != [expected.clone()] {
        return Err(format!("expected only\n{expected}\ngot\n{}", lines.join("\n")).into());
    }
    let far = load_err("state.persistence:\n  colour: blue\n", &[])?;
    expect_line(
        &far,
        &["state.persistence.colour: unknown key; Spate knows enabled, intervalInMin"],
    )
}

fn wrong_types() -> Result<(), Failed> {
    let yaml = "
state.persistence:
  enabled: maybe
  revisionsToKeep: [1]
cluster.config:
  strategyConfig:
    heartbeatMaxRetry: three
wso2.datasources:
  dataSources:
    name: NOT_A_LIST
spate:
  api:
    bind: everywhere
";
    let lines = load_err(yaml, &[])?;
    expect_line(
        &lines,
        &["line 3: state.persistence.enabled: expected true or false, found `maybe`"],
    )?;
    expect_line(
        &lines,
        &[
            "state.persistence.revisionsToKeep: expected a whole number",
            "found a list",
        ],
    )?;
    expect_line(
        &lines,
        &[
            "cluster.config.strategyConfig.heartbeatMaxRetry: expected a whole number",
            "found `three`",
        ],
    )?;
    expect_line(&lines, &["wso2.datasources.dataSources: expected a list"])?;
    expect_line(&lines, &["spate.api.bind: `everywhere` is not an address"])?;
    // YAML 1.1 booleans, as SnakeYAML reads them, are accepted.
    let yes = load_ok("state.persistence:\n  enabled: yes\n", &[])?;
    if yes.config.persistence.enabled {
        Ok(())
    } else {
        Err("`yes` is true".into())
    }
}

fn datasources() -> Result<(), Failed> {
    // The guide's state.persistence snippet on its own: the datasource it names is missing.
    let snippet = "
state.persistence:
  enabled: true
  intervalInMin: 1
  revisionsToKeep: 2
  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
  config:
    datasource: PERSISTENCE_DB
    table: PERSISTENCE_TABLE
";
    let lines = load_err(snippet, &[])?;
    expect_line(
        &lines,
        &["state.persistence.config.datasource: no datasource named `PERSISTENCE_DB`"],
    )?;
    let oracle = SEED_HA.replace(
        "jdbc:mysql://wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com:3306/persistencedb?useSSL=false",
        "jdbc:oracle:thin:@db:1521:ORCL",
    );
    let lines = load_err(&oracle, &[])?;
    expect_line(
        &lines,
        &[
            "wso2.datasources.dataSources[0].definition.configuration.jdbcUrl",
            "datasource `PERSISTENCE_DB`",
            "Spate does not support",
            "use MySQL/MariaDB",
        ],
    )?;
    let tls = SEED_HA.replace("clusterdb?useSSL=false", "clusterdb?useSSL=true");
    expect_line(
        &load_err(&tls, &[])?,
        &["WSO2_CLUSTER_DB", "asks for TLS", "useSSL=false"],
    )?;
    let table = SEED_HA.replace("table: PERSISTENCE_TABLE", "table: persist-table");
    expect_line(
        &load_err(&table, &[])?,
        &["state.persistence.config.table", "invalid table name"],
    )?;
    let no_url = "wso2.datasources:\n  dataSources:\n    - name: X\n      definition:\n        type: RDBMS\n";
    expect_line(
        &load_err(no_url, &[])?,
        &["dataSources[0].definition.configuration.jdbcUrl: missing"],
    )
}

fn ha_needs() -> Result<(), Failed> {
    let lines = load_err(SEED, &[("SPATE__DEPLOYMENT_CONFIG__TYPE", "ha")])?;
    expect_line(
        &lines,
        &["deployment.config.type", "set cluster.config.enabled: true"],
    )?;
    expect_line(
        &lines,
        &[
            "deployment.config.type",
            "set state.persistence.enabled: true",
        ],
    )?;
    let no_group = load_err(
        "cluster.config:\n  enabled: true\n  strategyConfig:\n    datasource: X\n",
        &[],
    )?;
    expect_line(&no_group, &["cluster.config.groupId: required"])?;
    expect_line(
        &no_group,
        &["cluster.config.strategyConfig.datasource: no datasource named `X`"],
    )?;
    let no_type = load_err(
        "deployment.config:\n  eventSyncServer:\n    port: 9893\n",
        &[],
    )?;
    if no_type.len() != 1 {
        return Err(format!("only the missing type should be reported: {no_type:#?}").into());
    }
    expect_line(
        &no_type,
        &["deployment.config.type: expected `ha`, found nothing"],
    )
}

fn unsupported() -> Result<(), Failed> {
    let yaml = "
state.persistence:
  persistenceStore: com.acme.RedisPersistenceStore
cluster.config:
  coordinationStrategyClass: org.wso2.carbon.cluster.coordinator.zookeeper.ZookeeperCoordinationStrategy
deployment.config:
  type: ha
  host: 10.0.0.1
  liveSync:
    enabled: true
";
    let lines = load_err(yaml, &[])?;
    expect_line(
        &lines,
        &["state.persistence.persistenceStore: `com.acme.RedisPersistenceStore` is not a store"],
    )?;
    expect_line(
        &lines,
        &[
            "cluster.config.coordinationStrategyClass",
            "is not supported",
            "RDBMSCoordinationStrategy",
        ],
    )?;
    expect_line(
        &lines,
        &[
            "deployment.config.host: not a key of deployment.config; did you mean eventSyncServer.host?",
        ],
    )?;
    expect_line(
        &lines,
        &["deployment.config.liveSync: belongs to the SP 4.0-4.2"],
    )?;
    let distributed = "deployment.config:\n  type: distributed\n  isReceiverNode: false\n";
    expect_line(
        &load_err(distributed, &[])?,
        &["deployment.config.type: the distributed deployment is not supported"],
    )?;
    let hadoop = "wso2.datasources:\n  dataSources:\n    - name: H\n      definition:\n        type: HADOOP\n        configuration:\n          jdbcUrl: x\n";
    expect_line(
        &load_err(hadoop, &[])?,
        &["definition.type: datasource type `HADOOP` is not supported"],
    )
}

fn placeholders() -> Result<(), Failed> {
    let yaml = "
wso2.carbon:
  id: ${env:NODE_ID}
spate:
  users:
    - username: admin
      password: ${sec:admin.password}
";
    let lines = load_err(yaml, &[])?;
    expect_line(
        &lines,
        &[
            "line 3: wso2.carbon.id: environment variable NODE_ID is not set",
            "${env:NODE_ID,value}",
        ],
    )?;
    expect_line(
        &lines,
        &["spate.users[0].password", "secure vault", "${env:VARIABLE}"],
    )
}

fn syntax() -> Result<(), Failed> {
    match load_str(
        "state.persistence:\n  enabled: true\n   intervalInMin: 1\n",
        &options(&[]),
    ) {
        Err(ConfigError::Syntax {
            line: 3, message, ..
        }) => {
            if message.is_empty() {
                Err("empty message".into())
            } else {
                Ok(())
            }
        }
        other => Err(format!("expected a syntax error on line 3, got {other:?}").into()),
    }
}

fn duplicates() -> Result<(), Failed> {
    let yaml = "
state.persistence:
  enabled: true
  enabled: false
cluster.config:
  enabled: false
cluster.config:
  enabled: true
wso2.datasources:
  dataSources:
    - name: A
      definition: {configuration: {jdbcUrl: 'jdbc:sqlite:a.db'}}
    - name: A
      definition: {configuration: {jdbcUrl: 'jdbc:sqlite:b.db'}}
";
    let lines = load_err(yaml, &[])?;
    expect_line(
        &lines,
        &["line 4: state.persistence.enabled: the key is written twice"],
    )?;
    expect_line(
        &lines,
        &["line 7: cluster.config: the section is written twice"],
    )?;
    expect_line(
        &lines,
        &["dataSources[1].name: datasource `A` is defined twice"],
    )
}

fn risky_values() -> Result<(), Failed> {
    let yaml = "
wso2.datasources:
  dataSources:
    - name: CLUSTER
      definition:
        configuration:
          jdbcUrl: jdbc:postgresql://db:5432/cluster
state.persistence:
  enabled: true
  revisionsToKeep: 1
  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.IncrementalFileSystemPersistenceStore
cluster.config:
  enabled: true
  groupId: si
  strategyConfig:
    datasource: CLUSTER
    heartbeatInterval: 500
    heartbeatMaxRetry: 1
    eventPollingInterval: 3000
";
    let loaded = load_ok(yaml, &[])?;
    let warnings = warnings(&loaded);
    expect_line(
        &warnings,
        &[
            "cluster.config.strategyConfig: heartbeatInterval 500 ms × heartbeatMaxRetry 1",
            "2000 ms or more",
        ],
    )?;
    expect_line(
        &warnings,
        &["eventPollingInterval: 3000 ms is longer than the failure-detection window (500 ms)"],
    )?;
    expect_line(&warnings, &["revisionsToKeep: keeping one revision"])?;
    expect_line(
        &warnings,
        &["IncrementalFileSystemPersistenceStore` is accepted as a full-snapshot store"],
    )?;
    if warnings.len() == 4 {
        Ok(())
    } else {
        Err(format!("four warnings expected: {warnings:#?}").into())
    }
}
