//! spate-store's integration tests: the store contract as one case matrix over the file store,
//! SQLite, MariaDB and PostgreSQL, plus damaged files and databases that go away.
//!
//! MariaDB (`mysql://root@127.0.0.1:3306`) and PostgreSQL
//! (`postgres://postgres@127.0.0.1:5432/postgres`) tests get their own database / schema and
//! drop it afterwards. They are skipped with a printed reason when the server is unreachable,
//! and fail instead when `SPATE_REQUIRE_SERVICES=1`.

mod backends;
mod contract;
mod db_down;
mod file_store;
mod proxy;
mod services;
mod support;

use libtest_mimic::{Arguments, Trial};

use backends::Backend;

fn matrix(
    group: &str,
    backends: &[Backend],
    cases: Vec<(&'static str, backends::Case)>,
) -> Vec<Trial> {
    let mut trials = Vec::new();
    for (name, case) in cases {
        for &backend in backends {
            trials.push(Trial::ignorable_test(
                format!("{group}::{name}::{}", backend.name()),
                move || backends::run(backend, case),
            ));
        }
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    let databases = [Backend::Sqlite, Backend::MariaDb, Backend::Postgres];
    let mut trials = matrix("contract", &backends::ALL, contract::cases());
    trials.extend(matrix("file", &[Backend::File], file_store::cases()));
    trials.extend(matrix("db", &databases, db_down::cases()));
    for scheme in ["mysql", "postgresql"] {
        trials.push(Trial::test(
            format!("db_down::unreachable_server::{scheme}"),
            move || db_down::unreachable(scheme),
        ));
    }
    for backend in [Backend::MariaDb, Backend::Postgres] {
        trials.push(Trial::ignorable_test(
            format!("db_down::connection_cut_and_restored::{}", backend.name()),
            move || db_down::cut_and_restored(backend),
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}
