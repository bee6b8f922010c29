//! `siamese-train`: trains, evaluates and exports siamese-wasm's encoders. One file per
//! command in `cli/`.

mod cli;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "siamese-train", about = "Train, evaluate and export siamese-wasm encoders")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train an encoder and write it as int8 (OUT) and f32 (OUT with .f32.onnx) ONNX.
    Train(cli::train::Args),
    /// Write a PNG grid of model inputs (rows: identities; plain, then augmented), to see
    /// what the encoder sees.
    Preview(cli::preview::Args),
    /// Write the fully integer form (QLinearConv, u8 activations, i8 per-channel weights) of
    /// a float model (`.f32.onnx`), its ranges calibrated on the preset's training identities.
    Quantize(cli::quantize::Args),
    /// Evaluate an ONNX encoder on a dataset folder.
    Eval(cli::eval::Args),
    /// Measure operating points (the skilled-forgery EER point, FAR 1% and FAR 0.1%) on the
    /// preset's validation writers, scored as the library verifies (a template of --enrol
    /// samples per writer), and write them into each model's metadata, its threshold set to
    /// --default's. The false-accept rates are averaged over the datasets with skilled
    /// forgeries (each dataset counts once, whatever its size).
    OperatingPoints(cli::operating_points::Args),
    /// Convert face-api.js's pretrained face networks (the npm package
    /// `@vladmandic/face-api`) to ONNX with int8 weights: OUT/face-detector.onnx,
    /// OUT/face-landmarks.onnx and OUT/face-recognition.onnx. The recogniser's threshold is
    /// the EER point over the face preset's training identities (AT&T + Yale B, faces
    /// detected and aligned; the networks were trained on none of them).
    ConvertFaceapi(cli::convert_faceapi::Args),
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Train(a) => cli::train::run(a),
        Cmd::Preview(a) => cli::preview::run(a),
        Cmd::Quantize(a) => cli::quantize::run(a),
        Cmd::Eval(a) => cli::eval::run(a),
        Cmd::OperatingPoints(a) => cli::operating_points::run(a),
        Cmd::ConvertFaceapi(a) => cli::convert_faceapi::run(a),
    }
}
