//! Deterministic inputs shared by the native and the in-browser tests, so both can be
//! compared against one reference file.
#![allow(dead_code)]

use siamese_wasm::input::strokes::{Point, Strokes};

/// RGBA of a `w x h` white canvas with dark ink along a few curves, like a signature.
pub fn signature_rgba(w: usize, h: usize, wiggle: f32) -> Vec<u8> {
    let mut px = vec![255u8; w * h * 4];
    for s in signature_strokes(wiggle) {
        for p in s.windows(2) {
            let steps = 40;
            for k in 0..=steps {
                let t = k as f32 / steps as f32;
                let x = (p[0].x + (p[1].x - p[0].x) * t) * w as f32 / 400.0;
                let y = (p[0].y + (p[1].y - p[0].y) * t) * h as f32 / 160.0;
                for dy in -1i32..=1 {
                    for dx in -1i32..=1 {
                        let (xi, yi) = (x as i32 + dx, y as i32 + dy);
                        if xi >= 0 && yi >= 0 && (xi as usize) < w && (yi as usize) < h {
                            let i = (yi as usize * w + xi as usize) * 4;
                            px[i..i + 3].copy_from_slice(&[20, 20, 60]);
                        }
                    }
                }
            }
        }
    }
    px
}

/// A signature-like drawing in a 400 x 160 box; `wiggle` changes the shape a little.
pub fn signature_strokes(wiggle: f32) -> Strokes {
    let curve = |x0: f32, x1: f32, y: f32, amp: f32, freq: f32| -> Vec<Point> {
        (0..=60)
            .map(|k| {
                let x = x0 + (x1 - x0) * k as f32 / 60.0;
                Point {
                    x,
                    y: y + amp * (x * freq / 100.0 + wiggle).sin(),
                    t: Some(k as f64 * 8.0),
                    p: Some(0.5),
                }
            })
            .collect()
    };
    vec![
        curve(20.0, 220.0, 80.0, 40.0, 7.0),
        curve(200.0, 380.0, 100.0, 25.0 + 10.0 * wiggle, 11.0),
        curve(40.0, 360.0, 140.0, 3.0, 2.0),
    ]
}

/// A clearly different drawing: a few straight zig-zags.
pub fn other_strokes() -> Strokes {
    let zig: Vec<Point> =
        (0..8).map(|k| Point::new(k as f32 * 40.0, if k % 2 == 0 { 0.0 } else { 120.0 })).collect();
    let bar: Vec<Point> = vec![Point::new(0.0, 60.0), Point::new(300.0, 60.0)];
    vec![zig, bar]
}

/// RGBA of a synthetic face-like picture: a lit oval with darker eyes and mouth.
pub fn face_rgba(w: usize, h: usize, light: f32) -> Vec<u8> {
    let mut px = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 / w as f32 - 0.5, y as f32 / h as f32 - 0.5);
            let mut l = 0.2 + 0.1 * (u + light);
            if (u / 0.35).powi(2) + (v / 0.45).powi(2) < 1.0 {
                l = 0.6 + 0.3 * light * u;
            }
            for (cx, cy, r) in [(-0.13, -0.1, 0.05), (0.13, -0.1, 0.05), (0.0, 0.2, 0.07)] {
                if (u - cx).powi(2) + (v - cy).powi(2) < r * r {
                    l = 0.15;
                }
            }
            let g = (l.clamp(0.0, 1.0) * 255.0) as u8;
            px[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&[g, g, g, 255]);
        }
    }
    px
}

/// The reference file: embeddings computed natively by tract from the inputs above.
pub const REFERENCE_PATH: &str = "tests/fixtures/reference-embeddings.json";

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
pub struct Reference {
    /// SHA-256 of the model files the embeddings came from.
    pub signature_model: String,
    pub face_model: String,
    pub signature_image: Vec<f32>,
    pub signature_strokes: Vec<f32>,
    pub face_image: Vec<f32>,
}

pub const SIG_W: usize = 300;
pub const SIG_H: usize = 120;
pub const FACE_W: usize = 92;
pub const FACE_H: usize = 112;
