//! The `spate` command line as a library: the `replay`, `bench`, `check`, `send`, `server` and `health` commands and the
//! event file format, so integration tests can drive them in-process.

pub mod bench;
pub mod check;
pub mod events;
pub mod health;
pub mod replay;
pub mod send;
pub mod server;
