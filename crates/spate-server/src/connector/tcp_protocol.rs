//! Spate's TCP event protocol, version 1 (described for client writers in
//! `docs/tcp-protocol.md`): length-prefixed binary frames carrying typed values.
//!
//! ```text
//! frame   = length:u32  body                       length = bytes of body, 6..=max
//! body    = magic:"SPTE"  version:u8  kind:u8  payload
//! EVENTS  (kind 1, client → node) = batch:u64  context:str  count:u32  count × event
//! event   = arity:u16  arity × value
//! ACK     (kind 2, node → client) = batch:u64  status:u8  message:str
//! ERROR   (kind 3, node → client, then the node closes) = message:str
//! value   = tag:u8 …   0 null | 1 bool:u8 | 2 int:i32 | 3 long:i64 | 4 float:f32 bits
//!                      | 5 double:f64 bits | 6 string:str | 7 object:str (its text)
//! str     = len:u32  UTF-8 bytes
//! ```
//! Integers are big-endian. Every read is bounds-checked and every length is checked against
//! what is left before anything is allocated, so a truncated or hostile frame is an error,
//! never a panic or a huge allocation.

use std::sync::Arc;

use spate_engine::plan::Schema;
use spate_engine::plan::schema::type_name;
use spate_engine::value::{AttrType, Object, Value};

/// The first bytes of every body.
pub const MAGIC: [u8; 4] = *b"SPTE";
/// The protocol version this build speaks.
pub const VERSION: u8 = 1;
/// The default largest body taken: 16 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Frame kinds.
pub mod kind {
    /// Events for one stream.
    pub const EVENTS: u8 = 1;
    /// The answer to an EVENTS frame.
    pub const ACK: u8 = 2;
    /// A protocol error; the node closes the connection after it.
    pub const ERROR: u8 = 3;
}

/// Value tags.
pub mod tag {
    pub const NULL: u8 = 0;
    pub const BOOL: u8 = 1;
    pub const INT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const STRING: u8 = 6;
    pub const OBJECT: u8 = 7;
}

/// What an ACK says about its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// The events are in the app's input log.
    Ok = 0,
    /// Nothing was taken (the app is busy or starting); send the batch again later. Every
    /// later frame of the connection is answered `Retry` until this batch is sent again, so
    /// a client that pipelines keeps its order by resending from here.
    Retry = 1,
    /// Nothing was taken: the events do not fit the stream (the message says why), or no
    /// stream has the context. Sending it again will not help.
    Rejected = 2,
}

impl Status {
    fn from_wire(b: u8) -> Option<Status> {
        match b {
            0 => Some(Status::Ok),
            1 => Some(Status::Retry),
            2 => Some(Status::Rejected),
            _ => None,
        }
    }
}

/// Why a frame cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame breaks the protocol: the connection cannot go on.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The frame is well formed but its events do not fit the stream.
    #[error("{0}")]
    Rejected(String),
}

fn malformed(what: impl Into<String>) -> FrameError {
    FrameError::Malformed(what.into())
}

/// A bounds-checked reader over a body.
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, at: 0 }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FrameError> {
        let left = self.buf.len() - self.at;
        if n > left {
            return Err(malformed(format!(
                "truncated: {what} needs {n} bytes at offset {}, {left} left",
                self.at
            )));
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], FrameError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, FrameError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    pub fn str(&mut self, what: &str) -> Result<&'a str, FrameError> {
        let len = self.u32(what)? as usize;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|e| {
            malformed(format!(
                "{what} is not UTF-8 (bad byte {} bytes in)",
                e.valid_up_to()
            ))
        })
    }

    /// Bytes not read yet.
    pub fn left(&self) -> usize {
        self.buf.len() - self.at
    }
}

/// Reads the magic, version and kind of a body.
pub fn read_head(r: &mut Reader<'_>) -> Result<u8, FrameError> {
    let magic = r.array::<4>("the magic")?;
    if magic != MAGIC {
        return Err(malformed(format!(
            "the body does not start with the magic \"SPTE\" (got {magic:02x?}); is this a Spate client?"
        )));
    }
    let version = r.u8("the version")?;
    if version != VERSION {
        return Err(malformed(format!(
            "protocol version {version} is not supported; this node speaks version {VERSION}"
        )));
    }
    r.u8("the kind")
}

/// The header of an EVENTS frame; the events follow in the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsHead<'a> {
    pub batch: u64,
    pub context: &'a str,
    pub count: u32,
}

/// Reads an EVENTS body up to its events.
pub fn read_events_head<'a>(r: &mut Reader<'a>) -> Result<EventsHead<'a>, FrameError> {
    let k = read_head(r)?;
    if k != kind::EVENTS {
        return Err(malformed(format!(
            "a client sends EVENTS frames (kind {}), not kind {k}",
            kind::EVENTS
        )));
    }
    let batch = r.u64("the batch id")?;
    let context = r.str("the context")?;
    let count = r.u32("the event count")?;
    // Each event takes at least its arity: a count the body cannot hold is a lie.
    if count as usize > r.left() / 2 {
        return Err(malformed(format!(
            "{count} events cannot fit in the {} bytes left",
            r.left()
        )));
    }
    Ok(EventsHead {
        batch,
        context,
        count,
    })
}

/// Reads `count` events of `schema`: malformed bytes are [`FrameError::Malformed`], values
/// of the wrong type [`FrameError::Rejected`] naming the event and attribute.
pub fn read_rows(
    r: &mut Reader<'_>,
    count: u32,
    stream: &str,
    schema: &Schema,
) -> Result<Vec<Vec<Value>>, FrameError> {
    // Capacity grows with what is really there, not with what the count claims.
    let mut rows = Vec::with_capacity((count as usize).min(4096));
    let mut rejected = None;
    for e in 1..=count {
        let arity = r.u16("an event's arity")? as usize;
        if arity != schema.len() && rejected.is_none() {
            rejected = Some(format!(
                "event {e}: stream `{stream}` has {} attributes {}, but the event has {arity} values",
                schema.len(),
                schema.describe()
            ));
        }
        let mut row = Vec::with_capacity(arity.min(schema.len()));
        for i in 0..arity {
            let v = read_value(r)?;
            let Some(&ty) = schema.types.get(i).filter(|_| rejected.is_none()) else {
                continue;
            };
            match coerce(v, ty) {
                Ok(v) => row.push(v),
                Err(sent) => {
                    if rejected.is_none() {
                        rejected = Some(format!(
                            "event {e}: attribute `{}` of stream `{stream}` is {}, but the value is {sent}",
                            schema.names[i],
                            type_name(ty)
                        ));
                    }
                    row.push(Value::Null);
                }
            }
        }
        if rejected.is_none() {
            rows.push(row);
        }
    }
    if r.left() != 0 {
        return Err(malformed(format!(
            "{} bytes follow the last event",
            r.left()
        )));
    }
    match rejected {
        Some(why) => Err(FrameError::Rejected(why)),
        None => Ok(rows),
    }
}

fn read_value(r: &mut Reader<'_>) -> Result<Value, FrameError> {
    Ok(match r.u8("a value tag")? {
        tag::NULL => Value::Null,
        tag::BOOL => match r.u8("a bool")? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(malformed(format!("bool byte {b} is neither 0 nor 1"))),
        },
        tag::INT => Value::Int(r.u32("an int")? as i32),
        tag::LONG => Value::Long(r.u64("a long")? as i64),
        tag::FLOAT => Value::Float(f32::from_bits(r.u32("a float")?)),
        tag::DOUBLE => Value::Double(f64::from_bits(r.u64("a double")?)),
        tag::STRING => Value::str(r.str("a string")?),
        tag::OBJECT => Value::Object(Arc::new(Object::Text(r.str("an object")?.to_string()))),
        t => return Err(malformed(format!("unknown value tag {t}"))),
    })
}

/// `v` as an attribute of type `ty`: the same type, null, or a number of the same kind sent
/// wider (a long for an int in range, a double for a float, an integer for a float or double).
/// The error describes what was sent.
fn coerce(v: Value, ty: AttrType) -> Result<Value, String> {
    Ok(match (v, ty) {
        (Value::Null, _) => Value::Null,
        (v @ Value::Int(_), AttrType::Int)
        | (v @ Value::Long(_), AttrType::Long)
        | (v @ Value::Float(_), AttrType::Float)
        | (v @ Value::Double(_), AttrType::Double)
        | (v @ Value::Bool(_), AttrType::Bool)
        | (v @ Value::Str(_), AttrType::String) => v,
        (Value::Int(i), AttrType::Long) => Value::Long(i64::from(i)),
        (Value::Long(l), AttrType::Int) => {
            Value::Int(i32::try_from(l).map_err(|_| format!("the long {l}, out of int range"))?)
        }
        (Value::Int(i), AttrType::Float) => Value::Float(i as f32),
        (Value::Long(l), AttrType::Float) => Value::Float(l as f32),
        (Value::Double(d), AttrType::Float) => Value::Float(d as f32),
        (Value::Int(i), AttrType::Double) => Value::Double(f64::from(i)),
        (Value::Long(l), AttrType::Double) => Value::Double(l as f64),
        (Value::Float(f), AttrType::Double) => Value::Double(f64::from(f)),
        (v, AttrType::Object) => match v {
            Value::Str(s) => Value::Object(Arc::new(Object::Text(s.to_string()))),
            other => other,
        },
        (v, _) => {
            return Err(match v.runtime_type() {
                Some(t) => format!("{} {}", type_name(t), v.to_java_string()),
                None => format!("an object {}", v.to_java_string()),
            });
        }
    })
}

/// Writes frames.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Starts a frame of `kind` (the length is filled in by [`Writer::finish`]).
    fn begin(&mut self, k: u8) {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.extend_from_slice(&MAGIC);
        self.buf.push(VERSION);
        self.buf.push(k);
    }

    /// The finished frame, length prefix included.
    fn finish(&mut self) -> &[u8] {
        let len = u32::try_from(self.buf.len() - 4).unwrap_or(u32::MAX);
        self.buf[..4].copy_from_slice(&len.to_be_bytes());
        &self.buf
    }

    fn put_str(&mut self, s: &str) {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn put_value(&mut self, v: &Value) {
        match v {
            Value::Null => self.buf.push(tag::NULL),
            Value::Bool(b) => self.buf.extend_from_slice(&[tag::BOOL, u8::from(*b)]),
            Value::Int(i) => {
                self.buf.push(tag::INT);
                self.buf.extend_from_slice(&i.to_be_bytes());
            }
            Value::Long(l) => {
                self.buf.push(tag::LONG);
                self.buf.extend_from_slice(&l.to_be_bytes());
            }
            Value::Float(f) => {
                self.buf.push(tag::FLOAT);
                self.buf.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            Value::Double(d) => {
                self.buf.push(tag::DOUBLE);
                self.buf.extend_from_slice(&d.to_bits().to_be_bytes());
            }
            Value::Str(s) => {
                self.buf.push(tag::STRING);
                self.put_str(s);
            }
            Value::Object(o) => {
                self.buf.push(tag::OBJECT);
                self.put_str(&o.to_string());
            }
        }
    }

    /// An EVENTS frame of `rows` for `context`.
    pub fn events<'r>(
        &mut self,
        batch: u64,
        context: &str,
        rows: impl ExactSizeIterator<Item = &'r [Value]>,
    ) -> &[u8] {
        self.begin(kind::EVENTS);
        self.buf.extend_from_slice(&batch.to_be_bytes());
        self.put_str(context);
        let count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&count.to_be_bytes());
        for row in rows {
            let arity = u16::try_from(row.len()).unwrap_or(u16::MAX);
            self.buf.extend_from_slice(&arity.to_be_bytes());
            for v in row {
                self.put_value(v);
            }
        }
        self.finish()
    }

    /// An ACK frame.
    pub fn ack(&mut self, batch: u64, status: Status, message: &str) -> &[u8] {
        self.begin(kind::ACK);
        self.buf.extend_from_slice(&batch.to_be_bytes());
        self.buf.push(status as u8);
        self.put_str(message);
        self.finish()
    }

    /// An ERROR frame.
    pub fn error(&mut self, message: &str) -> &[u8] {
        self.begin(kind::ERROR);
        self.put_str(message);
        self.finish()
    }
}

/// What the node answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ack {
        batch: u64,
        status: Status,
        message: String,
    },
    Error(String),
}

/// Reads an ACK or ERROR body (the client side).
pub fn read_answer(body: &[u8]) -> Result<Answer, FrameError> {
    let mut r = Reader::new(body);
    match read_head(&mut r)? {
        kind::ACK => {
            let batch = r.u64("the batch id")?;
            let status = r.u8("the status")?;
            let status = Status::from_wire(status)
                .ok_or_else(|| malformed(format!("unknown ack status {status}")))?;
            let message = r.str("the message")?.to_string();
            Ok(Answer::Ack {
                batch,
                status,
                message,
            })
        }
        kind::ERROR => Ok(Answer::Error(r.str("the message")?.to_string())),
        k => Err(malformed(format!(
            "a node answers ACK or ERROR, not kind {k}"
        ))),
    }
}

/// Checks a frame's length prefix against `max` before its body is read.
pub fn check_len(len: u32, max: usize) -> Result<usize, FrameError> {
    let len = len as usize;
    if len > max {
        return Err(malformed(format!(
            "a frame of {len} bytes is over the limit of {max} bytes"
        )));
    }
    if len < 6 {
        return Err(malformed(format!(
            "a frame of {len} bytes cannot hold the magic, version and kind"
        )));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new([
            ("symbol".to_string(), AttrType::String),
            ("price".to_string(), AttrType::Float),
            ("volume".to_string(), AttrType::Long),
            ("ok".to_string(), AttrType::Bool),
        ])
    }

    fn decode(frame: &[u8]) -> Result<(u64, String, Vec<Vec<Value>>), FrameError> {
        let len = check_len(
            u32::from_be_bytes(
                frame
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| malformed("short"))?,
            ),
            DEFAULT_MAX_FRAME_LEN,
        )?;
        let body = frame
            .get(4..4 + len)
            .ok_or_else(|| malformed("short body"))?;
        let mut r = Reader::new(body);
        let head = read_events_head(&mut r)?;
        let (batch, context) = (head.batch, head.context.to_string());
        let rows = read_rows(&mut r, head.count, "S", &schema())?;
        Ok((batch, context, rows))
    }

    fn row() -> Vec<Value> {
        vec![
            Value::str("IBM ü"),
            Value::Float(1.5),
            Value::Long(-7),
            Value::Bool(true),
        ]
    }

    #[test]
    fn round_trips_events_and_answers() {
        let rows = [row(), vec![Value::Null; 4]];
        let frame = Writer::new()
            .events(9, "/S", rows.iter().map(Vec::as_slice))
            .to_vec();
        assert_eq!(decode(&frame), Ok((9, "/S".to_string(), rows.to_vec())));
        let ack = Writer::new().ack(9, Status::Retry, "busy").to_vec();
        assert_eq!(
            read_answer(&ack[4..]),
            Ok(Answer::Ack {
                batch: 9,
                status: Status::Retry,
                message: "busy".into()
            })
        );
    }

    #[test]
    fn widens_numbers_and_rejects_wrong_types() {
        let wide = [vec![
            Value::str("A"),
            Value::Double(2.5),
            Value::Int(3),
            Value::Bool(false),
        ]];
        let frame = Writer::new()
            .events(1, "S", wide.iter().map(Vec::as_slice))
            .to_vec();
        let (_, _, rows) = decode(&frame).expect("widened");
        assert_eq!(rows[0][1], Value::Float(2.5));
        assert_eq!(rows[0][2], Value::Long(3));
        let wrong = [
            row(),
            vec![
                Value::str("A"),
                Value::str("x"),
                Value::Long(1),
                Value::Null,
            ],
        ];
        let frame = Writer::new()
            .events(1, "S", wrong.iter().map(Vec::as_slice))
            .to_vec();
        let err = decode(&frame).expect_err("a string for a float");
        assert_eq!(
            err,
            FrameError::Rejected(
                "event 2: attribute `price` of stream `S` is float, but the value is string x"
                    .into()
            )
        );
        let short = [vec![Value::str("A")]];
        let frame = Writer::new()
            .events(1, "S", short.iter().map(Vec::as_slice))
            .to_vec();
        assert!(
            matches!(decode(&frame), Err(FrameError::Rejected(m)) if m.contains("has 4 attributes"))
        );
    }

    #[test]
    fn refuses_hostile_frames() {
        let good = Writer::new()
            .events(1, "S", std::iter::once(row().as_slice()))
            .to_vec();
        // Every truncation is an error, never a panic.
        for cut in 0..good.len() {
            let mut frame = good[..cut].to_vec();
            if frame.len() >= 4 {
                let len = (frame.len() - 4) as u32;
                frame[..4].copy_from_slice(&len.to_be_bytes());
            }
            assert!(decode(&frame).is_err(), "cut at {cut}");
        }
        let mutate = |at: usize, byte: u8| {
            let mut f = good.clone();
            f[at] = byte;
            decode(&f)
        };
        let cases = [
            (mutate(4, b'X'), "magic"),
            (mutate(8, 2), "version 2"),
            (mutate(9, 2), "not kind 2"),
            (mutate(23, 0xff), "events cannot fit"),
            (mutate(29, 9), "unknown value tag 9"),
            (mutate(38, 0xff), "not UTF-8"),
        ];
        for (got, want) in cases {
            match got {
                Err(FrameError::Malformed(m)) => assert!(m.contains(want), "{m} lacks {want}"),
                other => panic!("expected a malformed frame ({want}), got {other:?}"),
            }
        }
        assert!(
            check_len(u32::MAX, DEFAULT_MAX_FRAME_LEN)
                .is_err_and(|e| e.to_string().contains("over the limit"))
        );
        let mut huge_string = good.clone();
        huge_string[30..34].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(
            matches!(decode(&huge_string), Err(FrameError::Malformed(m)) if m.contains("truncated"))
        );
    }

    /// The example in docs/tcp-protocol.md is what the writer produces.
    #[test]
    fn matches_the_documented_example() {
        let row = [Value::str("IBM"), Value::Double(12.5), Value::Long(100)];
        let frame = Writer::new()
            .events(1, "Trades", std::iter::once(row.as_slice()))
            .to_vec();
        let hex = |b: &[u8]| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let doc = include_str!("../../../../docs/tcp-protocol.md");
        let lines = |section: &str, n: usize| -> String {
            let start = doc.find(section).expect("section in the doc");
            doc[start..]
                .lines()
                .skip(3)
                .take(n)
                .map(|l| l.split("  ").next().unwrap_or_default().trim().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(hex(&frame), lines("as bytes:\n\n```text", 9));
        let ack = Writer::new().ack(1, Status::Ok, "").to_vec();
        let answer = doc
            .split("and the node's answer:\n\n```text\n")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .expect("answer line")
            .replace("  ", " ");
        assert_eq!(hex(&ack), answer.trim());
    }
}
