//! Round trips of real apps: the conformance cases (every app must parse except the one syntax
//! reject) and apps embedded below that cover the less common syntax.

use std::path::{Path, PathBuf};

use libtest_mimic::Trial;

/// The only conformance case that Siddhi rejects for its syntax.
const SYNTAX_REJECT: &str = "reject-001-syntax-error";

/// Apps exercising syntax the conformance cases do not.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "definitions",
        "@App:name('Defs') @app:description(\"all kinds\")
         @source(type='inMemory', topic='t', @map(type='passThrough', @attributes(a='x', 'b')))
         define stream S (a string, b int, c long, d float, e double, f bool, g object);
         @PrimaryKey('a') @Index('b') define table T (a string, b int);
         define window W (a string, b int) lengthBatch(5) output expired events;
         define trigger T1 at every 1 hour 30 min; define trigger T2 at 'start';
         define function concat[javascript] return string { var r = \"}\"; return r; };
         define aggregation A from S#window.length(3) select a, sum(b) as total group by a
           aggregate by c every sec ... year;
         define aggregation B from S select a, avg(d) as av aggregate every sec, min, hour;",
    ),
    (
        "queries",
        "define stream S (a string, b int, c double); define table T (a string, b int);
         @info(name = 'q1') from S[b > 1 and not (c < 2.5e3 or a == 'x')]#str:tokenize(a, ',')
           #window.timeBatch(1 sec 500 millisec)#[b != 0]
           select a, b * 2 + -3 as x, count() as n group by a having n > 1 order by a desc, x
           limit 10 offset 2 output last every 5 events insert expired events into O;
         from S select * output snapshot every 2 min insert into #Inner;
         from #Inner select a return all events;
         from S update or insert into T for all events set T.b = b, T.a = a on T.a == a;
         from S delete T for current events on T.a == a and b in T;
         from S update T on T.a == a;
         from S[a is null or f(a) is null] select coalesce(a, `set`) as `my value` insert into O2;
         from (from S select a, b return) select a insert into O3;",
    ),
    (
        "joins",
        "define stream S (a string, b int); define stream U (a string, b int);
         define aggregation A from S select a, sum(b) as t aggregate every sec ... day;
         from S#window.length(1) as s unidirectional join U#window.time(1 min) as u on s.a == u.a
           select s.a, u.b insert into J1;
         from S as s full outer join U as u unidirectional select s.a insert into J2;
         from S right outer join U on S.a == U.a select S.a insert into J3;
         from S inner join A on S.a == A.a within '2020-01-01 00:00:00', '2030-01-01 00:00:00'
           per 'days' select A.t insert into J4;
         from S outer join U select S.a insert into J5;",
    ),
    (
        "patterns",
        "define stream S (a string, b int); define stream U (a string, b int);
         from every (e1=S[b > 10] -> e2=U[b > e1.b]<2:5>) -> e3=S[e3.b > e2[last].b]
           within 10 sec select e1.a, e2[0].b as first, e2[last - 1].b as prev insert into P1;
         from e1=S -> not U[a == e1.a] for 5 sec select e1.a insert into P2;
         from not U for 1 sec and e1=S select e1.a insert into P3;
         from every e1=S and e2=U -> e3=S or e4=U select e1.a, e4.b insert into P4;
         from e1=S<:4> -> e2=U<3> -> e3=S<1:> select e3.a insert into P5;
         from every e1=S, e2=U+, e3=S*, e4=U? within 1 min
           select e1.a, e2[0].b as b insert into Q1;
         from e1=S, not U for 2 sec, e2=S select e1.a insert into Q2;
         from e1=S -> e2=U[e1 is null or #e1 is null or e1[0] is null] select e2.a insert into P6;",
    ),
    (
        "partitions",
        "define stream S (a string, b int);
         @purge(enable='true', interval='1 sec', idle.period='1 min')
         partition with (a of S, b < 10 as 'low' or b >= 10 and b < 100 as 'mid' or b >= 100 as
           'high' of S) begin
           @info(name='p1') from S select a, sum(b) as t insert into #P;
           from #P select a, t insert into O;
         end;
         partition with (str:lower(a) of S) begin from S select a insert into O2 end",
    ),
    (
        "names-and-literals",
        "define stream `my stream` (min int, count long, window string, `order` double,
           last bool, string float, `in` int);
         from `my stream`[min > -2147483648 and count < 9223372036854775807L and `in` == 0]
           select min, count, window, `order` * 1.0e-10 as o, 1.5f as f, .5 as h, 7d as d,
             'q' as q1, \"'\" as q2, \"\"\"both ' and \" \"\"\" as q3, true as t, False as ff
           insert into `out put`;",
    ),
];

pub fn trials() -> Vec<Trial> {
    let mut trials: Vec<Trial> = EMBEDDED
        .iter()
        .map(|&(name, text)| {
            crate::trial(format!("roundtrip::embedded::{name}"), move || {
                crate::verified_app(text).map(drop)
            })
        })
        .collect();
    for (name, path) in conformance_apps() {
        trials.push(crate::trial(
            format!("roundtrip::conformance::{name}"),
            move || {
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                match crate::verified_app(&text) {
                    Ok(_) if name == SYNTAX_REJECT => Err("should be a syntax error".to_string()),
                    Err(_) if name == SYNTAX_REJECT => Ok(()),
                    other => other.map(drop),
                }
            },
        ));
    }
    trials
}

/// `(case name, app path)` of every conformance case, if the shared folder is found in an
/// ancestor of the crate (a checkout has `shared/` beside it); none otherwise.
fn conformance_apps() -> Vec<(String, PathBuf)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(cases) = manifest
        .ancestors()
        .map(|dir| dir.join("shared/conformance/cases"))
        .find(|dir| dir.is_dir())
    else {
        return Vec::new();
    };
    let mut apps: Vec<(String, PathBuf)> = std::fs::read_dir(cases)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.path().join("app.siddhi"),
                    )
                })
                .filter(|(_, path)| path.is_file())
                .collect()
        })
        .unwrap_or_default();
    apps.sort();
    apps
}
