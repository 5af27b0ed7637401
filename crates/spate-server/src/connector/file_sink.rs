//! `@sink(type='file', file.uri='/var/out/trades.jsonl', append='true',
//! add.line.separator='true', @map(type='json'|'text'|'csv'|'keyvalue'))`: every event as one
//! payload followed by a line break — JSON lines by default. A batch of events is written
//! with one write and flushed, so a reader tailing the file sees whole events.
//!
//! `append='true'` (the default) adds to the file; `append='false'` makes the file hold only
//! the latest event (Siddhi's meaning), replaced atomically (written beside it, then renamed).
//! A CSV `header='true'` line is written when the file is new or empty. A failed write is an
//! ERROR counted in `spate_sink_errors`; the file is reopened on the next batch.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use prometheus_client::metrics::counter::Counter;

use super::file_uri::{FILE_URI, local_path};
use super::mapper::{self, SinkMapper, json};
use super::{ConnectorSpec, OptionReader, OutputBatch, Sink, SinkContext, SinkFactory};

/// `append`: add to the file (default true) or keep only the latest event.
pub const APPEND: &str = "append";
/// `add.line.separator`: end each event with a line break (default true).
pub const ADD_LINE_SEPARATOR: &str = "add.line.separator";
const ACCEPTED: &[&str] = &["type", FILE_URI, APPEND, ADD_LINE_SEPARATOR];
const WHAT: &str = "@sink(type='file')";

/// The `file` sink.
pub struct FileSinkFactory;

struct FileSinkOptions {
    path: PathBuf,
    append: bool,
    line_separator: bool,
}

impl FileSinkOptions {
    fn read(spec: &ConnectorSpec) -> Result<FileSinkOptions, String> {
        let r = OptionReader::new(WHAT, &spec.options);
        let path = local_path(r.required(FILE_URI)?, WHAT)?;
        let append = r.bool(APPEND, true)?;
        let line_separator = r.bool(ADD_LINE_SEPARATOR, true)?;
        r.finish(ACCEPTED)?;
        Ok(FileSinkOptions {
            path,
            append,
            line_separator,
        })
    }
}

fn build_mapper(
    spec: &ConnectorSpec,
    stream: &str,
    schema: &spate_engine::plan::Schema,
) -> Result<Box<dyn SinkMapper>, String> {
    mapper::sink_mapper(
        spec,
        stream,
        schema,
        WHAT,
        json::JSON,
        &mapper::sink_kinds(),
    )
}

impl SinkFactory for FileSinkFactory {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn check(&self, spec: &ConnectorSpec) -> Result<(), String> {
        FileSinkOptions::read(spec)?;
        mapper::check(spec, false, WHAT, json::JSON, &mapper::sink_kinds())
    }

    fn create(&self, spec: &ConnectorSpec, ctx: &SinkContext<'_>) -> Result<Box<dyn Sink>, String> {
        let options = FileSinkOptions::read(spec)?;
        let mapper = build_mapper(spec, ctx.stream_name, ctx.schema)?;
        if let Some(dir) = options.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "{WHAT}: cannot create the directory {} for {}: {e}",
                    dir.display(),
                    options.path.display()
                )
            })?;
        }
        let errors = ctx.errors();
        let mut sink = FileSink {
            options,
            mapper,
            file: None,
            buf: String::new(),
            errors,
        };
        if sink.options.append {
            sink.open().map_err(|e| {
                format!(
                    "{WHAT}: cannot open {} for appending: {e}",
                    sink.options.path.display()
                )
            })?;
        }
        tracing::info!(app = ctx.app, stream = ctx.stream_name, file = %sink.options.path.display(), "File sink writing.");
        Ok(Box::new(sink))
    }
}

struct FileSink {
    options: FileSinkOptions,
    mapper: Box<dyn SinkMapper>,
    /// The open file (append mode); `None` after a failure until reopened.
    file: Option<File>,
    buf: String,
    errors: Counter,
}

impl FileSink {
    /// Opens the file for appending, writing the mapper's header if the file is empty.
    fn open(&mut self) -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.options.path)?;
        if file.metadata()?.len() == 0
            && let Some(header) = self.mapper.header()
        {
            file.write_all(header.as_bytes())?;
            file.write_all(b"\n")?;
        }
        self.file = Some(file);
        Ok(())
    }

    fn push(&mut self, row: &[spate_engine::value::Value]) {
        self.mapper.write(row, &mut self.buf);
        if self.options.line_separator {
            self.buf.push('\n');
        }
    }

    fn write_appending(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            self.open()?;
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(self.buf.as_bytes())?;
        file.flush()
    }

    fn write_replacing(&self) -> std::io::Result<()> {
        let tmp = temp_path(&self.options.path);
        let mut file = File::create(&tmp)?;
        if let Some(header) = self.mapper.header() {
            file.write_all(header.as_bytes())?;
            file.write_all(b"\n")?;
        }
        file.write_all(self.buf.as_bytes())?;
        file.flush()?;
        std::fs::rename(&tmp, &self.options.path)
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".spate-tmp");
    path.with_file_name(name)
}

impl Sink for FileSink {
    fn publish(&mut self, batch: &OutputBatch<'_>) {
        let n = batch.events.len();
        if n == 0 {
            return;
        }
        self.buf.clear();
        let result = if self.options.append {
            for i in 0..n {
                self.push(batch.events.row(i));
            }
            self.write_appending()
        } else {
            self.push(batch.events.row(n - 1));
            self.write_replacing()
        };
        if let Err(e) = result {
            self.file = None;
            self.errors.inc();
            tracing::error!(file = %self.options.path.display(), first = batch.event_id(0), events = n, error = %e, "The file sink could not write; the events are dropped.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::options::Options;

    fn spec(options: &[(&str, &str)]) -> ConnectorSpec {
        let mut pairs = vec![("type", "file")];
        pairs.extend_from_slice(options);
        ConnectorSpec {
            kind: "file".into(),
            options: Options::from_pairs(pairs),
            map: None,
            span: Default::default(),
        }
    }

    #[test]
    fn checks_options() {
        let f = FileSinkFactory;
        assert!(f.check(&spec(&[(FILE_URI, "/tmp/x")])).is_ok());
        assert!(f.check(&spec(&[])).is_err_and(|e| e.contains("file.uri")));
        assert!(
            f.check(&spec(&[(FILE_URI, "/tmp/x"), ("colour", "red")]))
                .is_err_and(|e| e.contains("colour"))
        );
        assert!(
            f.check(&spec(&[(FILE_URI, "/tmp/x"), (APPEND, "maybe")]))
                .is_err_and(|e| e.contains("append"))
        );
    }
}
