//! What the encoders see: pictures made from pixels (`preprocess`) and from pen strokes
//! (`strokes`), the same code in the browser and in the trainer.

pub mod preprocess;
pub mod strokes;
