//! The Spate server node: [`config`] loads WSO2 Streaming Integrator's `deployment.yaml`;
//! [`app`] deploys apps, each run by one task fed from its [`input_log`] (written ahead to the
//! [`input_journal`] when on); [`connector`] holds the
//! sources and sinks; [`persistence`] saves and restores app state; [`api`] is the REST API;
//! [`node`] ties them together for `spate server`.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod connector;
pub mod ha;
pub mod identity;
pub mod input_journal;
pub mod input_log;
pub mod metrics;
pub mod node;
pub mod persistence;
pub mod store_table;
