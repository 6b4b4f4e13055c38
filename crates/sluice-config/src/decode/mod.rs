//! YAML tree → typed model, by file kind: `platform.rs` (the platform file
//! with its environment overlay) and `domain.rs` (domain files). Collects
//! every problem; never stops at the first.

mod domain;
mod platform;

pub use domain::domain;
pub use platform::{platform, SECRET_BACKENDS, SECRET_OPTION_CHOICES};
