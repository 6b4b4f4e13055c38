//! Dead-letter records: every input the pipeline could not aggregate, with
//! why, where it came from and its original bytes untouched.

/// Why a record is a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadLetterKind {
    /// Could not be parsed or decoded (malformed JSON, bad Avro, wrong type, missing field).
    Malformed,
    /// Later than its windows' allowed lateness.
    Late,
    /// Too far ahead of the other events (broken clock).
    FutureOutlier,
    /// Would have opened a group beyond `engine.max_open_groups`.
    StateLimit,
}

impl DeadLetterKind {
    /// Stable name used in stores and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterKind::Malformed => "malformed",
            DeadLetterKind::Late => "late",
            DeadLetterKind::FutureOutlier => "future_outlier",
            DeadLetterKind::StateLimit => "state_limit",
        }
    }
}

/// One dead letter.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetterRecord {
    /// Kind.
    pub kind: DeadLetterKind,
    /// Human-readable reason.
    pub reason: String,
    /// Source description (file path, `generator`, topic).
    pub source: String,
    /// Source partition.
    pub partition: u32,
    /// Offset within the partition (line number for JSON lines files, 0-based record index otherwise).
    pub offset: i64,
    /// Event type, when known.
    pub event_type: Option<String>,
    /// Aggregation it was late for, if any.
    pub aggregation: Option<String>,
    /// Event time, when known (ms).
    pub event_time: Option<i64>,
    /// The original bytes (for Kafka: the message value, wire header
    /// included).
    pub payload: Vec<u8>,
    /// The original message key, when the source has keys (Kafka).
    pub key: Option<Vec<u8>>,
    /// The original message timestamp (epoch ms), when the source has one.
    pub timestamp: Option<i64>,
}

/// Lower-case hex of bytes (payloads that are not UTF-8 text).
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(s, "{b:02x}").ok();
    }
    s
}
