//! The event-sync protocol between the active node and the passive node.
//!
//! The active forwards every input-log entry (events and clock ticks, with their per-app
//! sequence numbers and original timestamps) over one TCP connection; the passive queues them
//! and acknowledges cumulatively per app. After each persist the active sends a control message
//! (app, revision, covered seq) and the passive trims its queue; published-output watermarks
//! travel the same way. On failover the passive restores the named revision and replays its
//! queue in seq order. Wire format and versioning rules: [`codec`] and `docs/ha.md`.

pub mod codec;
pub mod frame;
pub mod receiver;
pub mod replica;
pub mod sender;

pub use frame::{Control, Entry, EntryKind, Frame, PROTOCOL_VERSION, SyncValue, Watermark};
pub use receiver::{ReceiverConfig, SyncReceiver};
pub use replica::{AppReplay, Replica, ReplicaStats};
pub use sender::{AckFuture, Delivery, SenderConfig, SenderStats, SyncSender};
