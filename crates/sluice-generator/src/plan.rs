//! The compiled form of a domain's generator hints: per event type, one
//! [`FieldGen`] per layout field, plus the entity population and the journey
//! state machine. Built once by [`crate::hints::compile`]; read-only while
//! generating, so the hot path only samples precomputed tables.

use sluice_core::{FieldType, RecordLayout};

use crate::dist::{Alias, Continuous};
use crate::template::Template;

/// Where a field's value comes from, and how long it stays the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Fixed per entity (a user's country): derived from the entity number.
    Entity,
    /// Fixed per session (a session's device): derived from the session number.
    Session,
    /// Drawn for every event.
    Event,
    /// The value the same-named field had earlier in the session (drawn fresh
    /// the first time): a refund repeats its payment's `payment_id`.
    Previous,
}

impl Scope {
    /// YAML spellings.
    pub const NAMES: &'static [(&'static str, Scope)] = &[
        ("entity", Scope::Entity),
        ("session", Scope::Session),
        ("event", Scope::Event),
        ("previous", Scope::Previous),
    ];
}

/// How a drawn number becomes a field value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumKind {
    /// Avro int: rounded, clamped to i32.
    Int,
    /// Avro long: rounded.
    Long,
    /// Avro double, optionally rounded to `decimals` places.
    Double,
    /// Money: the number is in major units; stored as minor units
    /// (`round(x * 10^scale)`).
    Money {
        /// 10^scale.
        factor: f64,
    },
    /// Timestamp: the number is milliseconds *before* the event time.
    TimestampBefore,
}

/// A pre-typed constant, as chosen from a `values` list.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// Text (UTF-8 bytes).
    Str(Vec<u8>),
    /// int, long, money (minor units) or timestamp (millis).
    Int(i64),
    /// double.
    Double(f64),
    /// boolean.
    Bool(bool),
    /// enum symbol index.
    Enum(u32),
}

/// A value generator.
#[derive(Clone, Debug)]
pub enum ValueGen {
    /// Weighted choice among constants.
    Choice {
        /// Alias table over `values`.
        table: Alias,
        /// The constants; text is stored followed by 16 zero bytes (see
        /// `encode::copy_small`).
        values: Vec<Scalar>,
    },
    /// true with probability `p_true`.
    Bool {
        /// Probability of `true`.
        p_true: f64,
    },
    /// A number from a distribution.
    Num(Box<NumGen>),
    /// A rendered string template.
    Template(Template),
    /// The value depends on the choice made for another field of the event.
    Depends {
        /// Index (in the layout) of the parent field.
        parent: usize,
        /// One generator per value of the parent's choice list.
        cases: Vec<ValueGen>,
        /// Used when the parent is null.
        fallback: Box<ValueGen>,
    },
}

/// A numeric generator with clamping, rounding, drift and anomalies.
#[derive(Clone, Debug)]
pub struct NumGen {
    /// Base distribution.
    pub dist: Continuous,
    /// Clamp bounds.
    pub min: f64,
    /// Clamp bounds.
    pub max: f64,
    /// Round doubles to this many decimals (`None` keeps full precision).
    pub decimals: Option<u32>,
    /// How the number is stored.
    pub kind: NumKind,
    /// Added per hour since the session started.
    pub drift_per_hour: f64,
    /// With probability `.0`, draw from `.1` instead (then clamp).
    pub anomaly: Option<(f64, Continuous)>,
    /// An offset added to every value (typically fixed per entity).
    pub offset: Option<(Scope, u64, Continuous)>,
}

/// How one field of one event type is generated.
#[derive(Clone, Debug)]
pub struct FieldGen {
    /// Field name.
    pub name: String,
    /// Declared type.
    pub ty: FieldType,
    /// Scope of the value.
    pub scope: Scope,
    /// Stable key of the field name (seeds scoped values).
    pub key: u64,
    /// Probability of null (0 unless the field is optional).
    pub null_rate: f64,
    /// The value generator.
    pub gen: ValueGen,
    /// Slot in the per-session store of values repeated by `scope: previous`.
    pub tracked: Option<usize>,
}

/// Everything needed to generate one event type.
#[derive(Clone, Debug)]
pub struct EventPlan {
    /// Event type name.
    pub name: String,
    /// Record layout (wire order).
    pub layout: RecordLayout,
    /// One generator per non-envelope field, indexed like `layout.fields`
    /// minus the 5 envelope fields.
    pub fields: Vec<FieldGen>,
    /// Generation order (indices into `fields`): parents before dependants.
    pub order: Vec<usize>,
    /// Time before this event in a session.
    pub think_time: Continuous,
    /// Weight when no journey is declared.
    pub weight: f64,
    /// `event_type` as an Avro string (length + bytes), pre-encoded.
    pub type_bytes: Vec<u8>,
    /// The name followed by 16 zero bytes (see `encode::copy_small`).
    pub name_padded: Vec<u8>,
}

/// The number of envelope fields every layout starts with.
pub const ENVELOPE: usize = 5;

/// The entity population.
#[derive(Clone, Debug)]
pub struct EntityPlan {
    /// Number of entities.
    pub population: u64,
    /// Entity key template (`{seq}` is the entity number).
    pub key: Template,
    /// Which entity a new session belongs to: `None` = uniform; otherwise a
    /// Zipf-like activity table over entity numbers.
    pub activity: Option<crate::dist::Zipf>,
}

/// The session state machine.
#[derive(Clone, Debug)]
pub struct JourneyPlan {
    /// First event type of a session.
    pub start: Alias,
    /// Outcomes of `start` (event type indices).
    pub start_targets: Vec<u32>,
    /// Per event type: transition table; the outcome `END` ends the session.
    pub next: Vec<(Alias, Vec<u32>)>,
}

/// Outcome meaning "end of session" in [`JourneyPlan::next`].
pub const END: u32 = u32::MAX;

/// Session settings.
#[derive(Clone, Debug)]
pub struct SessionPlan {
    /// Concurrent session slots in simulated time.
    pub concurrent: u64,
    /// Idle time of a slot between two sessions, in ms.
    pub gap: Continuous,
    /// Hard cap on events per session.
    pub max_events: u32,
}

/// The compiled generator plan of one domain.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Domain name.
    pub domain: String,
    /// Per event type, in declaration order.
    pub events: Vec<EventPlan>,
    /// Entities.
    pub entity: EntityPlan,
    /// Journeys.
    pub journey: JourneyPlan,
    /// Sessions.
    pub sessions: SessionPlan,
    /// Simulated start time (epoch ms).
    pub start_time: i64,
    /// Number of distinct tracked (`scope: previous`) field names.
    pub tracked: usize,
}
