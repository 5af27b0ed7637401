//! What a persisted revision holds: the engine's sealed snapshot together with the input-log
//! sequence number it covers, taken at the same instant in the app task.
//!
//! Layout (little endian): magic `SPAS`, version `u16`, covered sequence `u64`, the engine
//! snapshot (its own envelope, magic and checksum), then a CRC-32 of everything before it.

/// Marks a saved app state.
const MAGIC: &[u8; 4] = b"SPAS";
/// The layout written.
const VERSION: u16 = 1;
const HEADER: usize = 4 + 2 + 8;

/// An app snapshot and the last input-log entry it includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// Entries up to and including this sequence number are in the snapshot (0: none).
    pub covered_seq: u64,
    /// The engine's sealed snapshot.
    pub engine: Vec<u8>,
}

/// Why bytes are not a saved state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedStateError {
    #[error("not a Spate app state (bad magic or too short)")]
    NotAState,
    #[error("saved state version {0} is newer than this build reads ({VERSION})")]
    Version(u16),
    #[error("saved state is damaged (checksum mismatch)")]
    Checksum,
}

impl SavedState {
    /// The bytes to store.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.engine.len() + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.covered_seq.to_le_bytes());
        out.extend_from_slice(&self.engine);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads bytes written by [`SavedState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<SavedState, SavedStateError> {
        if bytes.len() < HEADER + 4 || &bytes[..4] != MAGIC {
            return Err(SavedStateError::NotAState);
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32fast::hash(body) != crc {
            return Err(SavedStateError::Checksum);
        }
        let version = u16::from_le_bytes([body[4], body[5]]);
        if version != VERSION {
            return Err(SavedStateError::Version(version));
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&body[6..HEADER]);
        Ok(SavedState {
            covered_seq: u64::from_le_bytes(seq),
            engine: body[HEADER..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let state = SavedState {
            covered_seq: 42,
            engine: vec![1, 2, 3],
        };
        let mut bytes = state.encode();
        assert_eq!(SavedState::decode(&bytes), Ok(state));
        bytes[7] ^= 1;
        assert_eq!(SavedState::decode(&bytes), Err(SavedStateError::Checksum));
        assert_eq!(SavedState::decode(b"nope"), Err(SavedStateError::NotAState));
    }
}
