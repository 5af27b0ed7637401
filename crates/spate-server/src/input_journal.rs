//! The local input journal: the input log's entries written to disk before a source is
//! answered, so a node killed with `kill -9` replays every acknowledged event on restart.
//!
//! Per app, a directory of segment files named by the first sequence number they hold. Each
//! segment starts with the magic `SPIJ` and a version; each entry is a frame `u32 length`,
//! `u32 CRC-32`, payload. Writes reach the operating system before the append returns (no
//! fsync: a killed process loses nothing, a lost machine may lose the last writes). After a
//! persisted snapshot covering sequence N, segments holding only entries up to N are deleted.
//! A torn last frame (the process died mid-write) ends the reading of its segment.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spate_engine::value::{Object, Value};

use crate::input_log::Entry;

const MAGIC: &[u8; 4] = b"SPIJ";
const VERSION: u16 = 1;
/// A frame larger than this is taken as damage, not as an entry.
const MAX_FRAME: u32 = 256 * 1024 * 1024;

/// An app's journal: where its segments are and the one being written.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    writer: Option<BufWriter<File>>,
    buf: Vec<u8>,
}

impl Journal {
    /// The journal in `dir` (created if missing); nothing is written until [`Journal::start`].
    pub fn open(dir: PathBuf) -> std::io::Result<Journal> {
        std::fs::create_dir_all(&dir)?;
        Ok(Journal {
            dir,
            writer: None,
            buf: Vec::new(),
        })
    }

    /// Segment files, oldest first, with their first sequence numbers.
    fn segments(&self) -> std::io::Result<Vec<(u64, PathBuf)>> {
        let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let first = p.file_stem()?.to_str()?.parse().ok()?;
                (p.extension()? == "log").then_some((first, p))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every readable entry with a sequence number above `after`, in order.
    pub fn read_after(&self, after: u64) -> std::io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for (_, path) in self.segments()? {
            let mut bytes = Vec::new();
            File::open(&path)?.read_to_end(&mut bytes)?;
            if let Err(e) = read_segment(&bytes, after, &mut entries) {
                tracing::warn!(file = %path.display(), reason = e, "The input journal ends early here; entries after this point were never acknowledged.");
            }
        }
        Ok(entries)
    }

    /// Starts a new segment whose first entry will be `first_seq`.
    pub fn start(&mut self, first_seq: u64) -> std::io::Result<()> {
        if let Some(mut w) = self.writer.take() {
            w.flush()?;
        }
        let path = self.dir.join(format!("{first_seq:020}.log"));
        let mut w = BufWriter::new(File::create(path)?);
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.flush()?;
        self.writer = Some(w);
        Ok(())
    }

    /// Writes `entries` and hands them to the operating system.
    pub fn write(&mut self, entries: &[Entry]) -> std::io::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(std::io::Error::other("the input journal is not started"));
        };
        for entry in entries {
            self.buf.clear();
            encode(entry, &mut self.buf);
            let len = u32::try_from(self.buf.len()).map_err(std::io::Error::other)?;
            w.write_all(&len.to_le_bytes())?;
            w.write_all(&crc32fast::hash(&self.buf).to_le_bytes())?;
            w.write_all(&self.buf)?;
        }
        w.flush()
    }

    /// After a snapshot covering `covered_seq` is stored: starts a new segment at `next_seq` and
    /// deletes the segments that hold only entries up to `covered_seq`.
    pub fn trim(&mut self, covered_seq: u64, next_seq: u64) -> std::io::Result<()> {
        self.start(next_seq)?;
        let segments = self.segments()?;
        for pair in segments.windows(2) {
            let ((_, path), (next_first, _)) = (&pair[0], &pair[1]);
            if *next_first <= covered_seq.saturating_add(1) {
                std::fs::remove_file(path)?;
            }
        }
        Ok(())
    }

    /// Deletes the whole journal (the app is undeployed).
    pub fn remove(mut self) -> std::io::Result<()> {
        self.writer = None;
        std::fs::remove_dir_all(&self.dir)
    }
}

/// The journal directory of `app` under `root`.
pub fn app_dir(root: &Path, app: &str) -> PathBuf {
    root.join(app)
}

fn read_segment(bytes: &[u8], after: u64, out: &mut Vec<Entry>) -> Result<(), &'static str> {
    if bytes.len() < 6 || &bytes[..4] != MAGIC {
        return Err("not a journal segment");
    }
    if u16::from_le_bytes([bytes[4], bytes[5]]) != VERSION {
        return Err("a journal version this build does not read");
    }
    let mut r = Reader { bytes, pos: 6 };
    while r.pos < bytes.len() {
        let len = r.u32().ok_or("torn frame header")?;
        let crc = r.u32().ok_or("torn frame header")?;
        if len > MAX_FRAME {
            return Err("frame too large");
        }
        let payload = r.take(len as usize).ok_or("torn frame")?;
        if crc32fast::hash(payload) != crc {
            return Err("checksum mismatch");
        }
        let entry = decode(payload).ok_or("undecodable entry")?;
        if entry.seq() > after {
            out.push(entry);
        }
    }
    Ok(())
}

fn encode(entry: &Entry, out: &mut Vec<u8>) {
    match entry {
        Entry::Event {
            seq,
            stream,
            ts,
            row,
        } => {
            out.push(0);
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&ts.to_le_bytes());
            out.extend_from_slice(&stream.to_le_bytes());
            out.extend_from_slice(&(row.len() as u32).to_le_bytes());
            for v in row {
                encode_value(v, out);
            }
        }
        Entry::Tick { seq, now } => {
            out.push(1);
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&now.to_le_bytes());
        }
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    let text = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        Value::Int(i) => {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Long(l) => {
            out.push(3);
            out.extend_from_slice(&l.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(4);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Double(d) => {
            out.push(5);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Str(s) => {
            out.push(6);
            text(out, s.as_str());
        }
        // Sources only make text objects; others keep their text form.
        Value::Object(_) => {
            out.push(7);
            text(out, &v.to_java_string());
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }

    fn text(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

fn decode(payload: &[u8]) -> Option<Entry> {
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    let entry = match r.u8()? {
        0 => {
            let seq = r.u64()?;
            let ts = r.i64()?;
            let stream = r.u32()?;
            let n = r.u32()? as usize;
            let mut row = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                row.push(decode_value(&mut r)?);
            }
            Entry::Event {
                seq,
                stream,
                ts,
                row,
            }
        }
        1 => Entry::Tick {
            seq: r.u64()?,
            now: r.i64()?,
        },
        _ => return None,
    };
    (r.pos == payload.len()).then_some(entry)
}

fn decode_value(r: &mut Reader<'_>) -> Option<Value> {
    Some(match r.u8()? {
        0 => Value::Null,
        1 => Value::Bool(r.u8()? != 0),
        2 => Value::Int(i32::from_le_bytes(r.array()?)),
        3 => Value::Long(i64::from_le_bytes(r.array()?)),
        4 => Value::Float(f32::from_le_bytes(r.array()?)),
        5 => Value::Double(f64::from_le_bytes(r.array()?)),
        6 => Value::str(r.text()?),
        7 => Value::Object(Arc::new(Object::Text(r.text()?.to_string()))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("spate-journal-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&d).ok();
        d
    }

    fn event(seq: u64) -> Entry {
        Entry::Event {
            seq,
            stream: 1,
            ts: 1000 + seq as i64,
            row: vec![
                Value::str("IBM"),
                Value::Double(1.5),
                Value::Long(-3),
                Value::Null,
                Value::Bool(true),
            ],
        }
    }

    #[test]
    fn round_trips_trims_and_survives_a_torn_tail() {
        let d = dir("trim");
        let mut j = Journal::open(d.clone()).expect("open");
        j.start(1).expect("start");
        j.write(&[event(1), Entry::Tick { seq: 2, now: 5 }, event(3)])
            .expect("write");
        assert_eq!(
            j.read_after(1).expect("read"),
            vec![Entry::Tick { seq: 2, now: 5 }, event(3)]
        );
        j.trim(3, 4).expect("trim");
        j.write(&[event(4)]).expect("write");
        assert_eq!(
            j.segments().expect("list").len(),
            1,
            "the covered segment is gone"
        );
        assert_eq!(j.read_after(0).expect("read"), vec![event(4)]);
        drop(j);
        // A frame cut short by a crash ends the segment; what came before is kept.
        let (_, path) = Journal::open(d.clone())
            .expect("open")
            .segments()
            .expect("list")
            .remove(0);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("file");
        f.write_all(&[200, 0, 0, 0, 1, 2]).expect("torn");
        let j = Journal::open(d.clone()).expect("open");
        assert_eq!(j.read_after(0).expect("read"), vec![event(4)]);
        j.remove().expect("remove");
        assert!(!d.exists());
    }
}
