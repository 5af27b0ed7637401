//! The `spate` command line as a library: the `replay`, `bench`, `check`, `send` and `server` commands and the
//! event file format, so integration tests can drive them in-process.

pub mod bench;
pub mod check;
pub mod events;
pub mod replay;
pub mod send;
pub mod server;
