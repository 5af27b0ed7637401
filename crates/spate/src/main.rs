//! The `spate` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use spate::{bench, check, health, replay, send, server};
use spate_server::node::NodeOptions;

/// Spate: a Siddhi-compatible streaming integrator.
#[derive(Parser)]
#[command(name = "spate", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an app on a file of events in event time and print every output event as JSON.
    ///
    /// Events are JSON lines `{"stream":"S","timestamp":1000,"data":[...]}`. Every event that
    /// reaches a stream not fed by the file (and not an inner `#` stream) is printed as one
    /// line of the same shape. A rejected app prints one `{"error":...}` line.
    Replay {
        /// The Siddhi app (SiddhiQL).
        app: PathBuf,
        /// Input events, one JSON object per line.
        events: PathBuf,
        /// After every N events, snapshot the app, rebuild it from the app text and restore the
        /// snapshot before going on (the output must not change).
        #[arg(long, value_name = "N")]
        restore_every: Option<usize>,
    },
    /// Measure throughput: feed the events from memory through fresh runtimes and print one
    /// JSON line with events per second.
    Bench {
        app: PathBuf,
        events: PathBuf,
        /// Untimed passes before measuring.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Timed passes (the median and best are reported).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        repeat: u64,
    },
    /// Publish events from a JSON-lines file (or stdin) to a node's tcp or http source, in
    /// batches, each acknowledged before the next; prints one JSON line with the rate.
    ///
    /// Over --tcp each line is the values in attribute order (`["IBM", 12.5, 100]` or
    /// `{"data": [...]}`); over --http each line is what the source's mapper takes (by default
    /// `{"event": {...}}`), a batch sent as one JSON array.
    Send {
        /// The events file; `-` reads stdin.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// HOST:PORT of a tcp source (`@source(type='tcp', ...)`).
        #[arg(
            long,
            value_name = "HOST:PORT",
            conflicts_with = "http",
            requires = "stream"
        )]
        tcp: Option<String>,
        /// The receiver.url of an http source.
        #[arg(long, value_name = "URL", required_unless_present = "tcp")]
        http: Option<String>,
        /// The tcp source's context (default `<app>/<stream>`, or what `context` says).
        #[arg(long, value_name = "CONTEXT")]
        stream: Option<String>,
        /// Events per frame or request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// TCP frames sent before waiting for their acknowledgements.
        #[arg(long, default_value_t = 8)]
        window: usize,
    },
    /// Validate an app: print every problem with line:column and a caret; exit 1 if invalid.
    Check { app: PathBuf },
    /// Run a node: deploy the apps of a directory, serve the REST API (WSO2 Streaming
    /// Integrator's paths) and the apps' sources, persist app state, until SIGTERM/SIGINT.
    ///
    /// Without --config it runs standalone on the embedded default: app state persisted every
    /// minute (and on shutdown) to SQLite in the data directory, REST API on 0.0.0.0:9090,
    /// apps from ./siddhi-files. A generated password for the REST user `admin` is printed on
    /// the first start and kept in the data directory. `${VAR}` in apps is filled from the
    /// environment; `SPATE__SECTION__KEY` variables override deployment.yaml keys. Logs go to
    /// stdout; RUST_LOG sets the level (default info).
    Server {
        /// WSO2 SI's deployment.yaml (wso2.carbon, wso2.datasources, state.persistence,
        /// cluster.config, deployment.config, and Spate's own `spate` section).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Directory of *.siddhi apps to deploy at start; apps deployed over REST are saved
        /// there too.
        #[arg(long = "apps", value_name = "DIR", default_value = "siddhi-files")]
        apps: PathBuf,
        /// This node's id (overrides wso2.carbon.id).
        #[arg(long, value_name = "ID")]
        node_id: Option<String>,
        /// Address of the REST API (overrides spate.api.bind; default 0.0.0.0:9090).
        #[arg(long, value_name = "HOST:PORT")]
        api_bind: Option<SocketAddr>,
        /// Directory for SQLite files, the file store and the generated password (overrides
        /// spate.dataDir; default ./spate-data).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Check a running node (for container health checks): exit 0 when GET /health answers
    /// 200, or with --active when the HA probe says this node is the active one; 1 otherwise.
    Health {
        /// The node's REST API.
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9090")]
        url: String,
        /// Succeed only on the active node of an HA pair (a standalone node is active).
        #[arg(long)]
        active: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay {
            app,
            events,
            restore_every,
        } => replay::run(&app, &events, restore_every),
        Command::Bench {
            app,
            events,
            warmup,
            repeat,
        } => bench::run(&app, &events, warmup, repeat as usize),
        Command::Check { app } => check::run(&app),
        Command::Send {
            file,
            tcp,
            http,
            stream,
            batch,
            window,
        } => {
            let target = match (tcp, http) {
                (Some(addr), _) => Some(send::Target::Tcp {
                    addr,
                    context: stream.unwrap_or_default(),
                }),
                (None, Some(url)) => Some(send::Target::Http { url }),
                (None, None) => None,
            };
            match target {
                Some(target) => send::run(&file, &target, batch, window),
                None => Err(anyhow::anyhow!("give --tcp HOST:PORT or --http URL")),
            }
        }
        Command::Server {
            config,
            apps,
            node_id,
            api_bind,
            data_dir,
        } => server::run(NodeOptions {
            config,
            apps_dir: Some(apps),
            node_id,
            api_bind,
            data_dir,
        }),
        Command::Health { url, active } => health::run(&url, active),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
