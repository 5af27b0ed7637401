//! `spate server`: runs the node (see `spate_server::node`) with logs on stdout.

use std::process::ExitCode;

use anyhow::{Context, Result};
use spate_server::node::{self, NodeOptions};
use tracing_subscriber::EnvFilter;

/// Starts logging (`RUST_LOG` or `info`), builds the async runtime and runs the node until
/// SIGTERM/SIGINT.
pub fn run(options: NodeOptions) -> Result<ExitCode> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("spate")
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(node::run(options)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
