//! Deciding: similarity metrics, threshold calibration, the pen-motion check (`dynamics`),
//! the gallery of enrolled identities with its search, and its export file format.

pub mod calibrate;
pub mod dynamics;
pub mod export;
pub mod gallery;
pub mod metrics;
