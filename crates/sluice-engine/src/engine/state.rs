//! The one interface every kind of window state implements: fixed windows
//! (tumbling and sliding assigned per record, `fixed.rs`), panes with a
//! running merge (sliding and cumulative, `paned.rs`) and sessions
//! (`session.rs`). The engine holds one per aggregation and dispatches
//! statically (`each_state!` in `mod.rs`).
//!
//! A new window kind is a type implementing this trait in its own file, a
//! variant of `State` with its arm in `each_state!`, and its constructor in
//! `Engine::new` (chosen from the plan's `Windowing`).

use super::Emitter;
use crate::aggregate::Input;

/// Event-time window state of one aggregation: groups per open window,
/// fired as the watermark passes their ends.
pub(crate) trait WindowState {
    /// The watermark at which [`WindowState::fire`] next has work (`i64::MAX`:
    /// nothing open).
    fn next_due(&self) -> i64;

    /// Whether a record at `t` for `key` would update a group that is
    /// already open (no new state): consulted at the open-group limit.
    fn knows(&self, t: i64, wm: i64, hash: u64, key: &[u8]) -> bool;

    /// Adds one record at event time `t` under watermark `wm`; revisions of
    /// already-emitted windows go to `sink`. `false`: the record is beyond
    /// allowed lateness for every window it belongs to (the caller routes
    /// it to late output).
    #[allow(clippy::too_many_arguments)]
    fn ingest(
        &mut self,
        t: i64,
        wm: i64,
        hash: u64,
        key: &[u8],
        input: Input<'_>,
        sink: &mut Emitter<'_>,
    ) -> bool;

    /// Emits every window whose end the watermark `wm` has passed and drops
    /// state beyond allowed lateness.
    fn fire(&mut self, wm: i64, sink: &mut Emitter<'_>);

    /// Emits every open window as a provisional row (early firing).
    fn emit_provisional(&mut self, wm: i64, sink: &mut Emitter<'_>);

    /// The smallest start of a window still held (open, or within allowed
    /// lateness), if any: the engine pins source offsets from there.
    fn retained_from(&self) -> Option<i64>;

    /// `(open windows, open groups, state bytes)`.
    fn usage(&self) -> (u64, u64, u64);
}
