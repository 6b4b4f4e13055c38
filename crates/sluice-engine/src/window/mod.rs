//! Window assignment in event time. Windows are aligned to the Unix epoch
//! (UTC) and half-open, `[start, end)`.
//!
//! * [`tumbling`]: `start = ⌊t/size⌋·size`, one window per event.
//! * [`sliding`]: windows of `size` starting every `slide` (`slide ≤ size`);
//!   an event belongs to every window with `start ≤ t < start + size`, i.e.
//!   `size/slide` windows when `slide` divides `size`.
//! * [`cumulative`]: per period `P = ⌊t/max⌋·max`, windows `[P, P + k·step)`
//!   for `k = 1..=max/step` (`step` divides `max_size`); an event belongs to
//!   every one whose end is after `t`.
//! * [`session`]: per group key, an event opens the proto-window
//!   `[t, t + gap)`; windows of one key that overlap merge (so an event
//!   exactly `gap` after the previous one starts a new session).
//!
//! State lives in the engine: sliding windows whose `slide` divides `size`
//! are stored as panes of length `slide` (one update per event, merged on
//! emission); other windows are stored directly.
//!
//! Event times are limited to ±2^53 ms and sizes to 2^53 ms, so none of this
//! arithmetic can overflow. Windows are produced in ascending start order.

pub mod cumulative;
pub mod session;
pub mod sliding;
pub mod tumbling;

use sluice_core::WindowSpec;

/// Largest window size, gap or step in milliseconds.
pub const MAX_SIZE_MS: i64 = 1 << 53;
/// Most windows one event may belong to (shared with config validation).
pub use sluice_core::window::MAX_WINDOWS_PER_EVENT;

/// `⌊t / size⌋ · size` (towards −∞).
#[inline(always)]
pub fn align(t: i64, size: i64) -> i64 {
    t - t.rem_euclid(size)
}

/// A window specification with sizes in milliseconds, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Windowing {
    /// Tumbling windows.
    Tumbling {
        /// Size.
        size: i64,
    },
    /// Sliding windows.
    Sliding {
        /// Size.
        size: i64,
        /// Slide.
        slide: i64,
    },
    /// Cumulative windows.
    Cumulative {
        /// Step.
        step: i64,
        /// Period.
        max: i64,
    },
    /// Session windows.
    Session {
        /// Gap.
        gap: i64,
    },
}

impl Windowing {
    /// Checks a [`WindowSpec`]; the error is a human-readable reason.
    pub fn new(spec: &WindowSpec) -> Result<Self, String> {
        let ms = |d: &sluice_core::HumanDuration, what: &str| {
            let v = d.as_millis_i64();
            if v <= 0 {
                Err(format!("{what} must be positive"))
            } else if v > MAX_SIZE_MS {
                Err(format!("{what} `{d}` is too large"))
            } else {
                Ok(v)
            }
        };
        Ok(match spec {
            WindowSpec::Tumbling { size } => Windowing::Tumbling {
                size: ms(size, "size")?,
            },
            WindowSpec::Sliding { size, slide } => {
                let (size_ms, slide_ms) = (ms(size, "size")?, ms(slide, "slide")?);
                if slide_ms > size_ms {
                    return Err(format!("slide `{slide}` is larger than size `{size}`; events would fall between windows"));
                }
                if (size_ms + slide_ms - 1) / slide_ms > MAX_WINDOWS_PER_EVENT {
                    return Err(format!(
                        "size/slide is above {MAX_WINDOWS_PER_EVENT} windows per event"
                    ));
                }
                Windowing::Sliding {
                    size: size_ms,
                    slide: slide_ms,
                }
            }
            WindowSpec::Cumulative { step, max_size } => {
                let (step_ms, max_ms) = (ms(step, "step")?, ms(max_size, "max_size")?);
                if max_ms % step_ms != 0 {
                    return Err(format!(
                        "step `{step}` does not divide max_size `{max_size}`"
                    ));
                }
                if max_ms / step_ms > MAX_WINDOWS_PER_EVENT {
                    return Err(format!(
                        "max_size/step is above {MAX_WINDOWS_PER_EVENT} windows"
                    ));
                }
                Windowing::Cumulative {
                    step: step_ms,
                    max: max_ms,
                }
            }
            WindowSpec::Session { gap } => Windowing::Session {
                gap: ms(gap, "gap")?,
            },
        })
    }

    /// Appends the `(start, end)` windows of an event at `t` to `out`, in
    /// ascending start order (then ascending end). Sessions give the
    /// proto-window.
    #[inline]
    pub fn assign(&self, t: i64, out: &mut Vec<(i64, i64)>) {
        match *self {
            Windowing::Tumbling { size } => out.push(tumbling::assign(t, size)),
            Windowing::Sliding { size, slide } => sliding::assign(t, size, slide, out),
            Windowing::Cumulative { step, max } => cumulative::assign(t, step, max, out),
            Windowing::Session { gap } => out.push(session::proto(t, gap)),
        }
    }

    /// The end of the last window an event at `t` belongs to (for sessions,
    /// of its proto-window `[t, t + gap)`): once a watermark is at or past
    /// this plus the allowed lateness, the event can change no result.
    #[inline]
    pub fn last_end(&self, t: i64) -> i64 {
        match *self {
            Windowing::Tumbling { size } => align(t, size).saturating_add(size),
            Windowing::Sliding { size, slide } => align(t, slide).saturating_add(size),
            Windowing::Cumulative { max, .. } => align(t, max).saturating_add(max),
            Windowing::Session { gap } => t.saturating_add(gap),
        }
    }
}
