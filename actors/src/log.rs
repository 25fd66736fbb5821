//! The event-log port: append-only topics split into partitions, records keyed by mailbox, and
//! committed consumer positions. The embedded store and Kafka implement it; per-partition order
//! is per-mailbox order because a key always maps to the same partition.

use async_trait::async_trait;

/// Topic of Graph notifications (key: mailbox).
pub const NOTIFICATIONS: &str = "notifications";
/// Topic of domain events (key: mailbox, gapless sequence per mailbox).
pub const MAILBOX_EVENTS: &str = "mailbox-events";
/// Topic of mailbox snapshots (key: mailbox; compacted: only a key's latest record matters).
/// A snapshot lets a new owner of a partition start reading `mailbox-events` near its end.
pub const MAILBOX_SNAPSHOTS: &str = "mailbox-snapshots";
/// Topic for downstream consumers (kafka mode): each meeting of each list as it is now (key:
/// `tenant/user/eventId`; compacted).
pub const MEETING_LISTS: &str = "meeting-lists";
/// Topic for downstream consumers (kafka mode): each room's bookings as its devices get them
/// (key: the room mailbox; compacted).
pub const ROOM_BOOKINGS: &str = "room-bookings";
/// Topic for downstream consumers (kafka mode): each user's presence as out of office made it
/// (key: `tenant/user`; compacted).
pub const PRESENCE: &str = "presence";

/// Whether a topic keeps only the latest record of each key (Kafka's `cleanup.policy=compact`).
/// Readers of such a topic must not rely on older records of a key staying readable.
pub fn is_compacted(topic: &str) -> bool {
    matches!(topic, MAILBOX_SNAPSHOTS | MEETING_LISTS | ROOM_BOOKINGS | PRESENCE)
}

/// A record read from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partition.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
    /// Key (a mailbox's `tenant/user`).
    pub key: String,
    /// Payload (JSON).
    pub payload: Vec<u8>,
}

/// Failures of the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The store or broker could not complete the operation; the caller may retry.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// The request is wrong (unknown topic, bad partition): a bug, not a transient state.
    #[error("invalid event-log request: {0}")]
    Invalid(String),
}

/// An append-only, partitioned log with consumer positions.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Number of partitions of `topic`.
    fn partitions(&self, topic: &str) -> u32;

    /// Appends payloads under one key, durably and in order, all to the key's partition.
    /// Returns their offsets. Either all are appended or none.
    async fn append(&self, topic: &str, key: &str, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError>;

    /// Up to `max` records of a partition starting at offset `from`.
    async fn read(&self, topic: &str, partition: u32, from: u64, max: usize) -> Result<Vec<Record>, LogError>;

    /// Waits until the partition has a record at or after `from`, or the timeout passes.
    async fn wait(&self, topic: &str, partition: u32, from: u64, timeout: std::time::Duration);

    /// The next offset a consumer group should read (0 when it never committed).
    async fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError>;

    /// Records that the group has processed everything before `next`.
    async fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<(), LogError>;
}

/// Kafka's default (Java client) partitioner, murmur2 of the key, so every producer of a topic
/// in any language puts a mailbox on the same partition.
pub fn partition_for(key: &str, partitions: u32) -> u32 {
    (murmur2(key.as_bytes()) & 0x7fff_ffff) % partitions.max(1)
}

/// Murmur2 as Kafka's Java client computes it (seed 0x9747b28c).
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_java_client() {
        // Values from Kafka's own partitioner tests (Utils.murmur2).
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32, -58897971);
        assert_eq!(murmur2(b"abc") as i32, 479470107);
    }

    #[test]
    fn a_key_always_lands_on_the_same_partition() {
        let p = partition_for("tenant/user", 8);
        assert!(p < 8);
        assert_eq!(partition_for("tenant/user", 8), p);
    }
}
