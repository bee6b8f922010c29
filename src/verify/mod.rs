//! Deciding: similarity metrics, threshold calibration, the pen-motion check (`dynamics`),
//! the gallery of enrolled identities with its search, its export file format, and the
//! accept/reject rule (`rule`).

pub mod calibrate;
pub mod dynamics;
pub mod export;
pub mod gallery;
pub mod metrics;
pub mod rule;
