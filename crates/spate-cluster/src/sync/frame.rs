//! What travels between the active and the passive: the frame types and the values in an
//! input-log entry. Values are the crate's own [`SyncValue`], one variant per Siddhi attribute
//! type, so this crate does not depend on the engine; the server converts at the edge.

use crate::error::RefusalCode;

/// The event-sync protocol version this build speaks. Both nodes must speak the same one.
pub const PROTOCOL_VERSION: u16 = 1;

/// The first bytes of every hello: `SPSY` (Spate sync).
pub const MAGIC: [u8; 4] = *b"SPSY";

/// One attribute value of an event, typed as Siddhi types it.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncValue {
    /// `null`.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i32),
    /// `long`.
    Long(i64),
    /// `float`.
    Float(f32),
    /// `double`.
    Double(f64),
    /// `string` (any UTF-8, including the empty string).
    Str(String),
    /// `object`, serialized by the server (opaque here).
    Object(Vec<u8>),
}

/// What an input-log entry carries.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    /// An event into `stream`.
    Event {
        /// The input stream.
        stream: String,
        /// The attribute values in the stream's definition order.
        values: Vec<SyncValue>,
    },
    /// A clock tick: the app's clock advanced to the entry's timestamp (drives time windows
    /// and timers identically on replay).
    Tick,
}

/// One entry of an app's input log: the unit the active forwards and the passive replays.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The Siddhi app.
    pub app: String,
    /// The entry's sequence number in the app's input log (starts at 1, grows by 1).
    pub seq: u64,
    /// The event timestamp or the tick's time (epoch ms).
    pub timestamp: i64,
    /// Event or tick.
    pub kind: EntryKind,
}

/// The control message sent after a persist: `revision` of `app` contains every entry up to
/// and including `covered_seq`, so the passive drops those and, on failover, restores exactly
/// this revision and replays what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// The Siddhi app.
    pub app: String,
    /// The revision written (`<epochMillis>__<app>`).
    pub revision: String,
    /// The last input-log seq the snapshot includes.
    pub covered_seq: u64,
}

/// The active has published every output of `(app, stream)` with an output seq up to `seq`
/// (outputs carry deterministic ids `(app, stream, seq)`); after a failover the new active
/// suppresses outputs at or below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The Siddhi app.
    pub app: String,
    /// The output stream.
    pub stream: String,
    /// The highest output seq published.
    pub seq: u64,
}

/// The sender's opening frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The sender's protocol version. When it differs from [`PROTOCOL_VERSION`] the other
    /// fields are not read (their layout may differ) and are empty.
    pub version: u16,
    /// The cluster group (`groupId`).
    pub group: String,
    /// The sender's node id.
    pub node: String,
    /// The sender's lease epoch.
    pub epoch: u64,
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Sender → receiver, first.
    Hello(Hello),
    /// Receiver → sender: accepted. `held` is the last seq the receiver holds per app, so the
    /// sender resends only what follows.
    Welcome {
        /// The receiver's protocol version.
        version: u16,
        /// The receiver's node id.
        node: String,
        /// The last seq held per app.
        held: Vec<(String, u64)>,
    },
    /// Either side: the connection is refused or closed, and why.
    Refused {
        /// Why.
        code: RefusalCode,
        /// A sentence for the operator.
        message: String,
    },
    /// Sender → receiver: an input-log entry.
    Entry(Entry),
    /// Receiver → sender: every entry of `app` up to `seq` is queued (cumulative).
    Ack {
        /// The app.
        app: String,
        /// The highest seq held.
        seq: u64,
    },
    /// Sender → receiver: a snapshot was written (see [`Control`]).
    Control(Control),
    /// Sender → receiver: outputs published (see [`Watermark`]).
    Published(Watermark),
    /// Either side: are you there?
    Ping(u64),
    /// The answer to a ping.
    Pong(u64),
}

/// The kind byte of each frame.
pub mod kind {
    /// [`super::Frame::Hello`]; its first fields (magic, version) never change.
    pub const HELLO: u8 = 0x01;
    /// [`super::Frame::Welcome`].
    pub const WELCOME: u8 = 0x02;
    /// [`super::Frame::Refused`]; its layout never changes.
    pub const REFUSED: u8 = 0x03;
    /// [`super::Frame::Entry`] with an event.
    pub const EVENT: u8 = 0x10;
    /// [`super::Frame::Entry`] with a clock tick.
    pub const TICK: u8 = 0x11;
    /// [`super::Frame::Ack`].
    pub const ACK: u8 = 0x20;
    /// [`super::Frame::Control`].
    pub const CONTROL: u8 = 0x30;
    /// [`super::Frame::Published`].
    pub const PUBLISHED: u8 = 0x31;
    /// [`super::Frame::Ping`].
    pub const PING: u8 = 0x40;
    /// [`super::Frame::Pong`].
    pub const PONG: u8 = 0x41;
}

/// The type tag of each [`SyncValue`].
pub mod tag {
    /// Null.
    pub const NULL: u8 = 0;
    /// Bool (one byte, 0 or 1).
    pub const BOOL: u8 = 1;
    /// Int (i32).
    pub const INT: u8 = 2;
    /// Long (i64).
    pub const LONG: u8 = 3;
    /// Float (f32 bits).
    pub const FLOAT: u8 = 4;
    /// Double (f64 bits).
    pub const DOUBLE: u8 = 5;
    /// String (u32 byte length, UTF-8).
    pub const STR: u8 = 6;
    /// Object (u32 byte length, opaque bytes).
    pub const OBJECT: u8 = 7;
}
