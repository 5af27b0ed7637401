//! spate-cluster's integration tests, with real parts: coordinators on a shared SQLite file
//! (in one process and in two processes), on MariaDB and on PostgreSQL; sync over real TCP.
//!
//! MariaDB (`mysql://root@127.0.0.1:3306/test`) and PostgreSQL
//! (`postgres://postgres@127.0.0.1:5432/test`) tests use their own table prefix and drop their
//! tables afterwards. They are skipped with a printed reason when the server is unreachable,
//! and fail instead when `SPATE_REQUIRE_SERVICES=1`.
//!
//! The binary is also the child process of the two-process test: with `SPATE_CLUSTER_CHILD`
//! set it runs one coordinator driven by stdin and reporting on stdout (see [`child`]).

mod child;
mod coord;
mod proxy;
mod services;
mod support;
mod sync;

use libtest_mimic::Arguments;

fn main() {
    if std::env::var_os(child::CHILD_ENV).is_some() {
        std::process::exit(child::run());
    }
    let args = Arguments::from_args();
    let mut trials = coord::trials();
    trials.extend(sync::trials());
    libtest_mimic::run(&args, trials).exit();
}
