//! The `spate` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use spate::{bench, check, replay};

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
    /// Validate an app: print every problem with line:column and a caret; exit 1 if invalid.
    Check { app: PathBuf },
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
