//! The wire form of [`Frame`]s.
//!
//! ```text
//! frame   = length:u32  body                 length = bytes in body, at most max_frame_len
//! body    = kind:u8  payload  crc:u32        crc = CRC-32 (IEEE) of kind and payload
//! str     = len:u32  UTF-8 bytes
//! ```
//! Integers are big-endian. The length prefix is tokio-util's [`LengthDelimitedCodec`]; a
//! frame longer than the limit is refused as soon as its length is read, before its body is
//! buffered. Every read is bounds-checked: a short or damaged body is an error, never a panic.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use super::frame::{
    Control, Entry, EntryKind, Frame, Hello, MAGIC, PROTOCOL_VERSION, SyncValue, Watermark, kind,
    tag,
};
use crate::error::{ClusterError, RefusalCode, Result};

/// The default frame limit: 16 MiB (one entry, or a control message).
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Length-prefixed, checksummed [`Frame`]s. Also encodes pre-encoded bodies ([`Bytes`] from
/// [`encode_body`]) so the sender encodes each entry once however often it is resent.
#[derive(Debug)]
pub struct FrameCodec {
    lengths: LengthDelimitedCodec,
    max_frame_len: usize,
}

impl FrameCodec {
    /// A codec refusing frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> FrameCodec {
        FrameCodec {
            lengths: LengthDelimitedCodec::builder()
                .length_field_type::<u32>()
                .max_frame_length(max_frame_len)
                .new_codec(),
            max_frame_len,
        }
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = ClusterError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>> {
        match self.lengths.decode(src) {
            Ok(Some(body)) => decode_body(body.freeze()).map(Some),
            Ok(None) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(ClusterError::Malformed(format!(
                    "frame longer than the limit of {} bytes",
                    self.max_frame_len
                )))
            }
            Err(e) => Err(ClusterError::io("read a frame", e)),
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = ClusterError;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<()> {
        let len = body.len();
        self.lengths.encode(body, dst).map_err(|_| {
            ClusterError::Malformed(format!(
                "frame of {len} bytes is longer than the limit of {} bytes",
                self.max_frame_len
            ))
        })
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = ClusterError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<()> {
        self.encode(encode_body(&frame), dst)
    }
}

/// The body of `frame` (kind, payload, checksum), without the length prefix.
pub fn encode_body(frame: &Frame) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    match frame {
        Frame::Hello(h) => {
            b.put_u8(kind::HELLO);
            b.put_slice(&MAGIC);
            b.put_u16(h.version);
            put_str(&mut b, &h.group);
            put_str(&mut b, &h.node);
            b.put_u64(h.epoch);
        }
        Frame::Welcome {
            version,
            node,
            held,
        } => {
            b.put_u8(kind::WELCOME);
            b.put_u16(*version);
            put_str(&mut b, node);
            put_len(&mut b, held.len());
            for (app, seq) in held {
                put_str(&mut b, app);
                b.put_u64(*seq);
            }
        }
        Frame::Refused { code, message } => {
            b.put_u8(kind::REFUSED);
            b.put_u16(code.to_wire());
            put_str(&mut b, message);
        }
        Frame::Entry(e) => return encode_entry(e),
        Frame::Ack { app, seq } => {
            b.put_u8(kind::ACK);
            put_str(&mut b, app);
            b.put_u64(*seq);
        }
        Frame::Control(c) => {
            b.put_u8(kind::CONTROL);
            put_str(&mut b, &c.app);
            put_str(&mut b, &c.revision);
            b.put_u64(c.covered_seq);
        }
        Frame::Published(w) => {
            b.put_u8(kind::PUBLISHED);
            put_str(&mut b, &w.app);
            put_str(&mut b, &w.stream);
            b.put_u64(w.seq);
        }
        Frame::Ping(n) => {
            b.put_u8(kind::PING);
            b.put_u64(*n);
        }
        Frame::Pong(n) => {
            b.put_u8(kind::PONG);
            b.put_u64(*n);
        }
    }
    let crc = crc32fast::hash(&b);
    b.put_u32(crc);
    b.freeze()
}

/// The body of an entry frame, from a borrowed entry (the sender's hot path).
pub fn encode_entry(e: &Entry) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    b.put_u8(match e.kind {
        EntryKind::Event { .. } => kind::EVENT,
        EntryKind::Tick => kind::TICK,
    });
    put_str(&mut b, &e.app);
    b.put_u64(e.seq);
    b.put_i64(e.timestamp);
    if let EntryKind::Event { stream, values } = &e.kind {
        put_str(&mut b, stream);
        put_len(&mut b, values.len());
        for v in values {
            put_value(&mut b, v);
        }
    }
    let crc = crc32fast::hash(&b);
    b.put_u32(crc);
    b.freeze()
}

/// Parses a body (kind, payload, checksum).
pub fn decode_body(mut body: Bytes) -> Result<Frame> {
    if body.len() < 5 {
        return Err(malformed(format!(
            "a body of {} bytes is too short",
            body.len()
        )));
    }
    let crc_at = body.len() - 4;
    let expected = (&body[crc_at..]).get_u32();
    if crc32fast::hash(&body[..crc_at]) != expected {
        return Err(malformed("checksum mismatch".to_string()));
    }
    body.truncate(crc_at);
    let mut r = Reader(body);
    let frame_kind = r.u8()?;
    let frame = match frame_kind {
        kind::HELLO => {
            if r.take(4)?.as_ref() != MAGIC {
                return Err(ClusterError::Refused {
                    code: RefusalCode::NotSpate,
                    message: "the hello does not start with the Spate sync magic".to_string(),
                });
            }
            let version = r.u16()?;
            if version != PROTOCOL_VERSION {
                // A different version may lay out the rest differently: read no further.
                return Ok(Frame::Hello(Hello {
                    version,
                    group: String::new(),
                    node: String::new(),
                    epoch: 0,
                }));
            }
            Frame::Hello(Hello {
                version,
                group: r.str()?,
                node: r.str()?,
                epoch: r.u64()?,
            })
        }
        kind::WELCOME => {
            let version = r.u16()?;
            let node = r.str()?;
            let count = r.len(9)?;
            let mut held = Vec::with_capacity(count);
            for _ in 0..count {
                held.push((r.str()?, r.u64()?));
            }
            Frame::Welcome {
                version,
                node,
                held,
            }
        }
        kind::REFUSED => Frame::Refused {
            code: RefusalCode::from_wire(r.u16()?),
            message: r.str()?,
        },
        kind::EVENT | kind::TICK => {
            let app = r.str()?;
            let seq = r.u64()?;
            let timestamp = r.i64()?;
            let kind = if frame_kind == kind::TICK {
                EntryKind::Tick
            } else {
                let stream = r.str()?;
                let count = r.len(1)?;
                let mut values = Vec::with_capacity(count);
                for _ in 0..count {
                    values.push(r.value()?);
                }
                EntryKind::Event { stream, values }
            };
            Frame::Entry(Entry {
                app,
                seq,
                timestamp,
                kind,
            })
        }
        kind::ACK => Frame::Ack {
            app: r.str()?,
            seq: r.u64()?,
        },
        kind::CONTROL => Frame::Control(Control {
            app: r.str()?,
            revision: r.str()?,
            covered_seq: r.u64()?,
        }),
        kind::PUBLISHED => Frame::Published(Watermark {
            app: r.str()?,
            stream: r.str()?,
            seq: r.u64()?,
        }),
        kind::PING => Frame::Ping(r.u64()?),
        kind::PONG => Frame::Pong(r.u64()?),
        other => return Err(malformed(format!("unknown frame kind 0x{other:02x}"))),
    };
    if r.0.has_remaining() {
        return Err(malformed(format!(
            "{} bytes left over after a frame of kind 0x{frame_kind:02x}",
            r.0.remaining()
        )));
    }
    Ok(frame)
}

fn malformed(message: String) -> ClusterError {
    ClusterError::Malformed(message)
}

fn put_len(b: &mut BytesMut, len: usize) {
    // Frames are limited far below 4 GiB, so a length always fits; saturate rather than wrap.
    b.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
}

fn put_str(b: &mut BytesMut, s: &str) {
    put_len(b, s.len());
    b.put_slice(s.as_bytes());
}

fn put_value(b: &mut BytesMut, v: &SyncValue) {
    match v {
        SyncValue::Null => b.put_u8(tag::NULL),
        SyncValue::Bool(x) => {
            b.put_u8(tag::BOOL);
            b.put_u8(u8::from(*x));
        }
        SyncValue::Int(x) => {
            b.put_u8(tag::INT);
            b.put_i32(*x);
        }
        SyncValue::Long(x) => {
            b.put_u8(tag::LONG);
            b.put_i64(*x);
        }
        SyncValue::Float(x) => {
            b.put_u8(tag::FLOAT);
            b.put_u32(x.to_bits());
        }
        SyncValue::Double(x) => {
            b.put_u8(tag::DOUBLE);
            b.put_u64(x.to_bits());
        }
        SyncValue::Str(s) => {
            b.put_u8(tag::STR);
            put_str(b, s);
        }
        SyncValue::Object(bytes) => {
            b.put_u8(tag::OBJECT);
            put_len(b, bytes.len());
            b.put_slice(bytes);
        }
    }
}

/// Bounds-checked reads over a body.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize, what: &str) -> Result<()> {
        if self.0.remaining() < n {
            return Err(malformed(format!(
                "truncated {what}: {n} bytes needed, {} left",
                self.0.remaining()
            )));
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8> {
        self.need(1, "byte")?;
        Ok(self.0.get_u8())
    }

    fn u16(&mut self) -> Result<u16> {
        self.need(2, "u16")?;
        Ok(self.0.get_u16())
    }

    fn u32(&mut self) -> Result<u32> {
        self.need(4, "u32")?;
        Ok(self.0.get_u32())
    }

    fn u64(&mut self) -> Result<u64> {
        self.need(8, "u64")?;
        Ok(self.0.get_u64())
    }

    fn i64(&mut self) -> Result<i64> {
        self.need(8, "i64")?;
        Ok(self.0.get_i64())
    }

    fn take(&mut self, n: usize) -> Result<Bytes> {
        self.need(n, "field")?;
        Ok(self.0.split_to(n))
    }

    /// A count of items each at least `min_item` bytes long, checked against what is left so a
    /// forged count cannot make us allocate.
    fn len(&mut self, min_item: usize) -> Result<usize> {
        let n = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
        self.need(n.saturating_mul(min_item), "list")?;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<Bytes> {
        let n = self.len(1)?;
        self.take(n)
    }

    fn str(&mut self) -> Result<String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| malformed("a string is not UTF-8".into()))
    }

    fn value(&mut self) -> Result<SyncValue> {
        Ok(match self.u8()? {
            tag::NULL => SyncValue::Null,
            tag::BOOL => match self.u8()? {
                0 => SyncValue::Bool(false),
                1 => SyncValue::Bool(true),
                b => return Err(malformed(format!("bool byte {b}"))),
            },
            tag::INT => {
                self.need(4, "int")?;
                SyncValue::Int(self.0.get_i32())
            }
            tag::LONG => SyncValue::Long(self.i64()?),
            tag::FLOAT => SyncValue::Float(f32::from_bits(self.u32()?)),
            tag::DOUBLE => SyncValue::Double(f64::from_bits(self.u64()?)),
            tag::STR => SyncValue::Str(self.str()?),
            tag::OBJECT => SyncValue::Object(self.bytes()?.to_vec()),
            t => return Err(malformed(format!("unknown value tag {t}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<Frame> {
        vec![
            Frame::Hello(Hello {
                version: PROTOCOL_VERSION,
                group: "si".into(),
                node: "n1".into(),
                epoch: 7,
            }),
            Frame::Welcome {
                version: PROTOCOL_VERSION,
                node: "n2".into(),
                held: vec![("A".into(), 3), ("ü".into(), 9)],
            },
            Frame::Refused {
                code: RefusalCode::QueueFull,
                message: "full".into(),
            },
            Frame::Entry(Entry {
                app: "App".into(),
                seq: 42,
                timestamp: -5,
                kind: EntryKind::Event {
                    stream: "In".into(),
                    values: vec![
                        SyncValue::Null,
                        SyncValue::Bool(true),
                        SyncValue::Int(-1),
                        SyncValue::Long(i64::MIN),
                        SyncValue::Float(1.5),
                        SyncValue::Double(f64::MAX),
                        SyncValue::Str(String::new()),
                        SyncValue::Str("a,b__c ∑ \"q\"".into()),
                        SyncValue::Object(vec![0, 255]),
                    ],
                },
            }),
            Frame::Entry(Entry {
                app: "App".into(),
                seq: 43,
                timestamp: 1_000,
                kind: EntryKind::Tick,
            }),
            Frame::Ack {
                app: "App".into(),
                seq: 43,
            },
            Frame::Control(Control {
                app: "App".into(),
                revision: "1700000000000__App".into(),
                covered_seq: 40,
            }),
            Frame::Published(Watermark {
                app: "App".into(),
                stream: "Out".into(),
                seq: 12,
            }),
            Frame::Ping(1),
            Frame::Pong(1),
        ]
    }

    #[test]
    fn every_frame_round_trips_through_the_codec() {
        let mut codec = FrameCodec::new(1024);
        let mut buf = BytesMut::new();
        for f in frames() {
            codec.encode(f, &mut buf).unwrap();
        }
        for f in frames() {
            assert_eq!(codec.decode(&mut buf).unwrap(), Some(f));
        }
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn damaged_bodies_are_errors_not_panics() {
        for f in frames() {
            let body = encode_body(&f);
            // Every truncation and every single flipped byte is rejected.
            for cut in 0..body.len() {
                assert!(decode_body(body.slice(..cut)).is_err());
            }
            for i in 0..body.len() {
                let mut bad = body.to_vec();
                bad[i] ^= 0x5a;
                assert!(decode_body(Bytes::from(bad)).is_err());
            }
        }
    }

    #[test]
    fn forged_lengths_with_a_valid_checksum_are_errors() {
        let mut b = BytesMut::new();
        b.put_u8(kind::ACK);
        b.put_u32(u32::MAX);
        b.put_slice(b"x");
        let crc = crc32fast::hash(&b);
        b.put_u32(crc);
        assert!(matches!(
            decode_body(b.freeze()),
            Err(ClusterError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_frames_are_refused_from_their_length() {
        let mut codec = FrameCodec::new(16);
        let mut buf = BytesMut::new();
        buf.put_u32(1_000_000);
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(err.to_string().contains("limit of 16 bytes"), "{err}");
        let too_big = Frame::Control(Control {
            app: "x".repeat(32),
            revision: String::new(),
            covered_seq: 0,
        });
        assert!(codec.encode(too_big, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn another_version_is_read_no_further_than_its_number() {
        let mut b = BytesMut::new();
        b.put_u8(kind::HELLO);
        b.put_slice(&MAGIC);
        b.put_u16(PROTOCOL_VERSION + 1);
        b.put_slice(b"a layout we do not know");
        let crc = crc32fast::hash(&b);
        b.put_u32(crc);
        match decode_body(b.freeze()).unwrap() {
            Frame::Hello(h) => assert_eq!(h.version, PROTOCOL_VERSION + 1),
            other => panic!("{other:?}"),
        }
    }
}
