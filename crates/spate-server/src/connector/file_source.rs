//! `@source(type='file', file.uri='/var/in/trades.jsonl', mode='line', tailing='true',
//! @map(type='json'|'csv'|'text'|'keyvalue'))`: events read from a local file.
//!
//! `mode='line'` (the default) gives the mapper one line at a time; `text.full` the whole file
//! at once (one payload, e.g. a JSON array). With `tailing='true'` (the default for line mode)
//! the source follows the file as it grows, like `tail -F`: a file that appears later is
//! picked up, one that shrinks (truncated) or is replaced (rotated) is read again from its
//! start. Without tailing the file is read once and then handled by `action.after.process`
//! (`delete` — Siddhi's default —, `keep`, or `move` to `move.after.process`).
//!
//! For the text mapper, lines ending in `,` continue the event (Siddhi's multi-line default
//! text format); for csv with `header.present='true'` the first line is skipped. A line the
//! mapper refuses is logged with `file:line` and the reason, counted in
//! `spate_source_errors`, and skipped. Events go to the app's input log in batches; when the
//! log is full or the app is starting, the reader waits and retries, so nothing is dropped.
//! After each batch is taken the source keeps its position (file identity, byte offset, line)
//! in the data directory, so a restarted node goes on after the last line taken instead of
//! reading the file again (a line is read twice only if the node dies between the two).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use spate_engine::plan::StreamId;
use spate_engine::value::Value;

use super::file_uri::{FILE_URI, local_path};
use super::mapper::{self, SourceMapper, csv, json, text};
use super::{ConnectorSpec, OptionReader, SourceContext, SourceFactory, SourceGuard};
use crate::input_log::{AppendError, InputLog};

/// `mode`: `line` (default) or `text.full`.
pub const MODE: &str = "mode";
/// `tailing`: follow the file as it grows (default true in line mode).
pub const TAILING: &str = "tailing";
/// `file.polling.interval`: milliseconds between looks for new data (default 1000).
pub const FILE_POLLING_INTERVAL: &str = "file.polling.interval";
/// `action.after.process`: `delete` (default), `keep` or `move`, once a file is read
/// without tailing.
pub const ACTION_AFTER_PROCESS: &str = "action.after.process";
/// `move.after.process`: where `action.after.process='move'` puts the file.
pub const MOVE_AFTER_PROCESS: &str = "move.after.process";
/// Siddhi's option, accepted without effect.
const TIMEOUT: &str = "timeout";
const ACCEPTED: &[&str] = &[
    "type",
    FILE_URI,
    MODE,
    TAILING,
    FILE_POLLING_INTERVAL,
    ACTION_AFTER_PROCESS,
    MOVE_AFTER_PROCESS,
    TIMEOUT,
];
const WHAT: &str = "@source(type='file')";
/// Events handed to the input log at once.
const BATCH: usize = 512;
/// How long to wait before retrying a full or starting input log.
const RETRY: Duration = Duration::from_millis(20);

/// The `file` source.
pub struct FileSourceFactory;

#[derive(Debug, Clone, PartialEq, Eq)]
enum AfterProcess {
    Keep,
    Delete,
    Move(PathBuf),
}

#[derive(Debug, Clone)]
struct FileSourceOptions {
    path: PathBuf,
    whole_file: bool,
    tailing: bool,
    poll: Duration,
    after: AfterProcess,
}

impl FileSourceOptions {
    fn read(spec: &ConnectorSpec) -> Result<FileSourceOptions, String> {
        let r = OptionReader::new(WHAT, &spec.options);
        if r.string("dir.uri").is_some() {
            return Err(format!(
                "{WHAT}: `dir.uri` is not supported; name one file with `{FILE_URI}`"
            ));
        }
        let path = local_path(r.required(FILE_URI)?, WHAT)?;
        let whole_file = match r.string(MODE).map(str::to_ascii_lowercase).as_deref() {
            None | Some("line") => false,
            Some("text.full") => true,
            Some(other) => {
                return Err(format!(
                    "{WHAT}: mode '{other}' is not supported; use 'line' or 'text.full'"
                ));
            }
        };
        let tailing = r.bool(TAILING, !whole_file)?;
        if whole_file && tailing {
            return Err(format!(
                "{WHAT}: tailing='true' cannot be used with mode='text.full'"
            ));
        }
        let poll = Duration::from_millis(r.number(FILE_POLLING_INTERVAL, 1000u64)?.max(1));
        let after = match r
            .string(ACTION_AFTER_PROCESS)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("delete") => AfterProcess::Delete,
            Some("keep") => AfterProcess::Keep,
            Some("move") => AfterProcess::Move(local_path(
                r.string(MOVE_AFTER_PROCESS).ok_or_else(|| {
                    format!("{WHAT}: action.after.process='move' needs `{MOVE_AFTER_PROCESS}`")
                })?,
                WHAT,
            )?),
            Some(other) => {
                return Err(format!(
                    "{WHAT}: action.after.process '{other}' is not delete, keep or move"
                ));
            }
        };
        r.string(MOVE_AFTER_PROCESS);
        r.string(TIMEOUT);
        r.finish(ACCEPTED)?;
        Ok(FileSourceOptions {
            path,
            whole_file,
            tailing,
            poll,
            after,
        })
    }
}

impl SourceFactory for FileSourceFactory {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        FileSourceOptions::read(spec)?;
        mapper::check(spec, true, WHAT, json::JSON, &mapper::source_kinds())
    }

    fn start(&self, spec: &ConnectorSpec, ctx: &SourceContext<'_>) -> Result<SourceGuard, String> {
        let options = FileSourceOptions::read(spec)?;
        let mapper = mapper::source_mapper(
            spec,
            ctx.stream_name,
            ctx.schema,
            WHAT,
            json::JSON,
            &mapper::source_kinds(),
        )?;
        let kind = spec.map_kind(json::JSON);
        let map_option = |key: &str| spec.map.as_ref().and_then(|m| m.options.get(key));
        let skip_header = kind == csv::CSV
            && map_option(csv::HEADER_PRESENT).is_some_and(|v| v.eq_ignore_ascii_case("true"))
            && !map_option(csv::EVENT_GROUPING_ENABLED)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let (events_in, errors) = ctx.counters();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = Reader {
            app: ctx.app.to_string(),
            stream_name: ctx.stream_name.to_string(),
            stream: ctx.stream,
            log: ctx.log.clone(),
            mapper,
            options: options.clone(),
            join_text_lines: kind == text::TEXT,
            skip_header,
            stop: stop.clone(),
            events_in,
            errors,
            rows: Vec::new(),
            position_file: ctx
                .services
                .data_dir
                .join("file-source-positions")
                .join(ctx.app)
                .join(format!("{}.position", ctx.stream_name)),
        };
        std::thread::Builder::new()
            .name(format!("file-source-{}", ctx.stream_name))
            .spawn(move || reader.run())
            .map_err(|e| format!("{WHAT}: cannot start a reader thread: {e}"))?;
        tracing::info!(app = ctx.app, stream = ctx.stream_name, file = %options.path.display(), tailing = options.tailing, "File source reading.");
        Ok(Box::new(StopOnDrop(stop)))
    }
}

/// Stops the reader thread when the source is dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The identity of a file, to notice when a path is replaced (rotation).
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// An open file and where reading stands in it.
struct Open {
    reader: BufReader<File>,
    /// Bytes consumed (complete lines and the partial one in `pending`).
    offset: u64,
    /// The number of the last complete line read.
    line: u64,
    identity: u64,
    /// The start of a line whose end has not been written yet.
    pending: Vec<u8>,
    /// Lines of a multi-line text event so far, and the line it started on.
    text_event: Option<(String, u64)>,
}

struct Reader {
    app: String,
    stream_name: String,
    stream: StreamId,
    log: Arc<InputLog>,
    mapper: Box<dyn SourceMapper>,
    options: FileSourceOptions,
    join_text_lines: bool,
    skip_header: bool,
    stop: Arc<AtomicBool>,
    events_in: Counter,
    errors: Counter,
    rows: Vec<Vec<Value>>,
    /// Where the position after the last events taken is kept across restarts.
    position_file: PathBuf,
}

/// How far a file was read and taken: its identity, the byte after the last complete line
/// whose events are in the input log, and that line's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    identity: u64,
    offset: u64,
    line: u64,
}

impl Position {
    fn load(path: &Path) -> Option<Position> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().ok());
        Some(Position {
            identity: numbers.next()??,
            offset: numbers.next()??,
            line: numbers.next()??,
        })
    }

    /// Writes beside `path`, then renames (a crash leaves the old or the new position).
    fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(
            &tmp,
            format!("{} {} {}\n", self.identity, self.offset, self.line),
        )?;
        std::fs::rename(tmp, path)
    }
}

impl Open {
    /// The position to resume from, when no event is half read.
    fn position(&self) -> Option<Position> {
        self.text_event.is_none().then(|| Position {
            identity: self.identity,
            offset: self.offset - self.pending.len() as u64,
            line: self.line,
        })
    }
}

/// What the reader should do next.
enum Next {
    Continue,
    Stop,
}

impl Reader {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Sleeps `d` in small steps; false once the source is stopped.
    fn sleep(&self, d: Duration) -> bool {
        let step = Duration::from_millis(20);
        let mut left = d;
        while !left.is_zero() {
            if self.stopped() {
                return false;
            }
            let now = left.min(step);
            std::thread::sleep(now);
            left -= now;
        }
        !self.stopped()
    }

    fn run(mut self) {
        let mut open: Option<Open> = None;
        let mut resume = if self.options.whole_file {
            None
        } else {
            Position::load(&self.position_file)
        };
        let mut waiting_logged = false;
        while !self.stopped() {
            let Some(file) = open.as_mut() else {
                match File::open(&self.options.path).and_then(|f| Ok((f.metadata()?, f))) {
                    Ok((meta, mut f)) => {
                        let id = identity(&meta);
                        let start = resume
                            .take()
                            .filter(|p| p.identity == id && p.offset <= meta.len())
                            .and_then(|p| f.seek(SeekFrom::Start(p.offset)).ok().map(|_| p));
                        if let Some(p) = start {
                            tracing::info!(app = self.app, stream = self.stream_name, file = %self.options.path.display(), line = p.line, "The file source resumes after the last line it took.");
                        }
                        open = Some(Open {
                            reader: BufReader::with_capacity(64 * 1024, f),
                            offset: start.map_or(0, |p| p.offset),
                            line: start.map_or(0, |p| p.line),
                            identity: id,
                            pending: Vec::new(),
                            text_event: None,
                        });
                        waiting_logged = false;
                    }
                    Err(e) => {
                        if !waiting_logged {
                            tracing::warn!(app = self.app, stream = self.stream_name, file = %self.options.path.display(), error = %e, "The file source waits for its file.");
                            waiting_logged = true;
                        }
                        if !self.sleep(self.options.poll) {
                            return;
                        }
                    }
                }
                continue;
            };
            let next = if self.options.whole_file {
                self.read_whole(file)
            } else {
                self.read_lines(file)
            };
            match next {
                Next::Stop => return,
                Next::Continue => {
                    if self.followed_file_changed(open.as_ref()) {
                        open = None;
                    }
                }
            }
        }
    }

    /// Whether the path now names another file or a shorter one (read it from its start).
    fn followed_file_changed(&self, open: Option<&Open>) -> bool {
        let Some(open) = open else { return false };
        match std::fs::metadata(&self.options.path) {
            Ok(meta) if identity(&meta) != open.identity => {
                tracing::info!(app = self.app, stream = self.stream_name, file = %self.options.path.display(), "The followed file was replaced; reading the new one from its start.");
                true
            }
            Ok(meta) if meta.len() < open.offset => {
                tracing::warn!(app = self.app, stream = self.stream_name, file = %self.options.path.display(), "The followed file was truncated; reading it again from its start.");
                true
            }
            _ => false,
        }
    }

    fn read_whole(&mut self, file: &mut Open) -> Next {
        let mut content = Vec::new();
        if let Err(e) = file.reader.read_to_end(&mut content) {
            self.errors.inc();
            tracing::error!(app = self.app, stream = self.stream_name, file = %self.options.path.display(), error = %e, "The file source cannot read its file.");
            return Next::Stop;
        }
        self.map(&content, 1);
        if !self.flush(None) {
            return Next::Stop;
        }
        self.finish();
        Next::Stop
    }

    /// Reads what the file has now; at its end either waits (tailing) or finishes.
    fn read_lines(&mut self, file: &mut Open) -> Next {
        loop {
            if self.stopped() {
                return Next::Stop;
            }
            let n = match file.reader.read_until(b'\n', &mut file.pending) {
                Ok(n) => n,
                Err(e) => {
                    self.errors.inc();
                    tracing::error!(app = self.app, stream = self.stream_name, file = %self.options.path.display(), error = %e, "The file source cannot read its file; it retries.");
                    let _ = self.flush(file.position());
                    return if self.sleep(self.options.poll) {
                        Next::Continue
                    } else {
                        Next::Stop
                    };
                }
            };
            file.offset += n as u64;
            if file.pending.ends_with(b"\n") {
                file.line += 1;
                let line = std::mem::take(&mut file.pending);
                self.line(file, &line);
                if self.rows.len() >= BATCH && !self.flush(file.position()) {
                    return Next::Stop;
                }
                continue;
            }
            // The end of the file for now.
            if !self.options.tailing {
                if !file.pending.is_empty() {
                    file.line += 1;
                    let line = std::mem::take(&mut file.pending);
                    self.line(file, &line);
                }
                if let Some((event, at)) = file.text_event.take() {
                    self.map(event.as_bytes(), at);
                }
                if self.flush(file.position()) {
                    self.finish();
                }
                return Next::Stop;
            }
            if !self.flush(file.position()) || !self.sleep(self.options.poll) {
                return Next::Stop;
            }
            return Next::Continue;
        }
    }

    /// One complete line (with its line break).
    fn line(&mut self, file: &mut Open, raw: &[u8]) {
        let mut line = raw;
        while let [rest @ .., b'\n' | b'\r'] = line {
            line = rest;
        }
        if file.line == 1 && self.skip_header {
            return;
        }
        if self.join_text_lines {
            let Ok(text) = std::str::from_utf8(line) else {
                self.map(line, file.line);
                return;
            };
            let (mut event, at) = file
                .text_event
                .take()
                .unwrap_or_else(|| (String::new(), file.line));
            if !event.is_empty() {
                event.push('\n');
            }
            event.push_str(text);
            if text.trim_end().ends_with(',') {
                file.text_event = Some((event, at));
            } else {
                self.map(event.as_bytes(), at);
            }
            return;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.map(line, file.line);
    }

    fn map(&mut self, payload: &[u8], line: u64) {
        match self.mapper.read(payload) {
            Ok(rows) => self.rows.extend(rows),
            Err(e) => {
                self.errors.inc();
                tracing::warn!(app = self.app, stream = self.stream_name, at = %format!("{}:{line}", self.options.path.display()), error = %e, "Skipped a line the file source cannot read.");
            }
        }
    }

    /// Hands the rows read so far to the input log, waiting while it is full or not open,
    /// then keeps `position` (what they were read up to); false when the source should stop.
    fn flush(&mut self, position: Option<Position>) -> bool {
        if self.rows.is_empty() {
            return true;
        }
        let taken = self.append();
        if taken
            && let Some(p) = position
            && let Err(e) = p.save(&self.position_file)
        {
            tracing::warn!(app = self.app, stream = self.stream_name, file = %self.position_file.display(), error = %e, "The file source cannot keep its position; a restart may read lines again.");
        }
        taken
    }

    fn append(&mut self) -> bool {
        loop {
            let n = self.rows.len() as u64;
            match self.log.append_events(self.stream, self.rows.clone()) {
                Ok(_) => {
                    self.events_in.inc_by(n);
                    self.rows.clear();
                    return true;
                }
                Err(AppendError::Closed) => return false,
                Err(AppendError::Full | AppendError::NotReady | AppendError::Journal) => {
                    if !self.sleep(RETRY) {
                        return false;
                    }
                }
            }
        }
    }

    /// `action.after.process` once a file was read to its end without tailing.
    fn finish(&self) {
        let path = &self.options.path;
        let result = match &self.options.after {
            AfterProcess::Keep => Ok(()),
            AfterProcess::Delete => std::fs::remove_file(path),
            AfterProcess::Move(to) => move_file(path, to),
        };
        match result {
            Ok(()) => {
                tracing::info!(app = self.app, stream = self.stream_name, file = %path.display(), action = ?self.options.after, "The file source read its file.")
            }
            Err(e) => {
                tracing::warn!(app = self.app, stream = self.stream_name, file = %path.display(), error = %e, "The file source read its file but cannot apply action.after.process.")
            }
        }
    }
}

/// Moves `from` to `to` (into it when `to` is a directory).
fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let target = if to.is_dir() {
        to.join(from.file_name().unwrap_or_default())
    } else {
        to.to_path_buf()
    };
    std::fs::rename(from, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::options::Options;

    fn options(pairs: &[(&str, &str)]) -> Result<FileSourceOptions, String> {
        let mut all = vec![("type", "file")];
        all.extend_from_slice(pairs);
        FileSourceOptions::read(&ConnectorSpec {
            kind: "file".into(),
            options: Options::from_pairs(all),
            map: None,
            span: Default::default(),
        })
    }

    #[test]
    fn reads_siddhi_options() {
        let o = options(&[(FILE_URI, "file:///tmp/in.txt")]).expect("valid");
        assert!(o.tailing && !o.whole_file && o.after == AfterProcess::Delete);
        let o = options(&[
            (FILE_URI, "/tmp/a"),
            (MODE, "TEXT.FULL"),
            (ACTION_AFTER_PROCESS, "keep"),
        ])
        .expect("valid");
        assert!(!o.tailing && o.whole_file && o.after == AfterProcess::Keep);
        let bad = [
            vec![(MODE, "regex")],
            vec![(MODE, "text.full"), (TAILING, "true")],
            vec![(ACTION_AFTER_PROCESS, "move")],
            vec![(FILE_POLLING_INTERVAL, "soon")],
            vec![("dir.uri", "/tmp")],
        ];
        for extra in bad {
            let mut pairs = vec![(FILE_URI, "/tmp/a")];
            pairs.extend(extra.iter().copied());
            assert!(options(&pairs).is_err(), "{extra:?}");
        }
    }
}
