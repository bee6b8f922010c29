//! Pen strokes to a picture. The one renderer: the browser renders a signature pad's
//! strokes with it, and the trainer renders SVC2004 and Omniglot trajectories with it.

use crate::error::{Error, ErrorCode, Result};
use crate::input::preprocess::{image_to_input, GrayImage};
use crate::runtime::metadata::Preprocess;
use serde::{Deserialize, Serialize};

/// One pen sample. Time and pressure are carried for callers but do not change the
/// picture: pens and pads report them too differently to rely on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
    #[serde(default)]
    pub t: Option<f64>,
    #[serde(default)]
    pub p: Option<f32>,
}

impl Point {
    pub fn new(x: f32, y: f32) -> Self {
        Point { x, y, t: None, p: None }
    }
}

/// A drawing: strokes (pen-down runs) of points.
pub type Strokes = Vec<Vec<Point>>;

/// Supersampling factor: strokes are drawn this many times larger than the model input
/// and shrunk by the shared image path, which anti-aliases them.
const SUPERSAMPLE: f32 = 4.0;

/// Draws `strokes` as black ink on white, sized so that after [`fit_ink`] the pen is
/// `pen_width` input pixels wide.
/// (The ink path crops to the ink and shrinks by about [`SUPERSAMPLE`].)
pub fn render(strokes: &[Vec<Point>], cfg: &Preprocess, pen_width: f32) -> Result<GrayImage> {
    let points: Vec<&Point> = strokes.iter().flatten().collect();
    if points.is_empty() {
        return Err(Error::new(ErrorCode::NoInk, "no strokes: nothing was drawn"));
    }
    if points.iter().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
        return Err(Error::new(ErrorCode::NotFinite, "a stroke has a NaN or infinite coordinate"));
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in &points {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    let inner_w = cfg.width as f32 * (1.0 - 2.0 * cfg.margin) * SUPERSAMPLE;
    let inner_h = cfg.height as f32 * (1.0 - 2.0 * cfg.margin) * SUPERSAMPLE;
    let (bw, bh) = ((x1 - x0).max(1e-6), (y1 - y0).max(1e-6));
    // A single dot (or a perfectly straight line) would scale without bound: cap the
    // scale so a dot becomes a pen-sized blob.
    let scale = (inner_w / bw).min(inner_h / bh).min(inner_w.max(inner_h));
    let radius = (pen_width * SUPERSAMPLE / 2.0).max(0.5);
    let pad = radius.ceil() as usize + 2;
    let width = (bw * scale).ceil() as usize + 2 * pad;
    let height = (bh * scale).ceil() as usize + 2 * pad;
    let mut ink = vec![0.0f32; width * height];
    let map = |p: &Point| ((p.x - x0) * scale + pad as f32, (p.y - y0) * scale + pad as f32);
    for stroke in strokes {
        let pts: Vec<(f32, f32)> = stroke.iter().map(map).collect();
        match pts.len() {
            0 => {}
            1 => draw_segment(&mut ink, width, height, pts[0], pts[0], radius),
            _ => pts
                .windows(2)
                .for_each(|s| draw_segment(&mut ink, width, height, s[0], s[1], radius)),
        }
    }
    Ok(GrayImage { width, height, data: ink.into_iter().map(|v| 1.0 - v).collect() })
}

/// Anti-aliased capsule (a segment with round caps) of the given radius.
fn draw_segment(
    ink: &mut [f32],
    width: usize,
    height: usize,
    a: (f32, f32),
    b: (f32, f32),
    r: f32,
) {
    let xmin = ((a.0.min(b.0) - r - 1.0).floor().max(0.0)) as usize;
    let ymin = ((a.1.min(b.1) - r - 1.0).floor().max(0.0)) as usize;
    let xmax = ((a.0.max(b.0) + r + 1.0).ceil() as usize).min(width - 1);
    let ymax = ((a.1.max(b.1) + r + 1.0).ceil() as usize).min(height - 1);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for y in ymin..=ymax {
        for x in xmin..=xmax {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = if len2 > 0.0 {
                (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (cx, cy) = (a.0 + t * dx - px, a.1 + t * dy - py);
            let d = (cx * cx + cy * cy).sqrt();
            let cover = (r + 0.5 - d).clamp(0.0, 1.0);
            let cell = &mut ink[y * width + x];
            *cell = cell.max(cover);
        }
    }
}

/// The model input for a drawing: rendered, then through the very path pictures take.
pub fn strokes_to_input(strokes: &[Vec<Point>], cfg: &Preprocess) -> Result<Vec<f32>> {
    image_to_input(&render(strokes, cfg, cfg.stroke_width)?, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<Point> {
        (0..=10)
            .map(|k| Point::new(x0 + (x1 - x0) * k as f32 / 10.0, y0 + (y1 - y0) * k as f32 / 10.0))
            .collect()
    }

    #[test]
    fn no_strokes_is_no_ink() {
        let cfg = Preprocess::ink(32, 32);
        assert_eq!(strokes_to_input(&[], &cfg).unwrap_err().code, ErrorCode::NoInk);
        assert_eq!(strokes_to_input(&[vec![]], &cfg).unwrap_err().code, ErrorCode::NoInk);
        let nan = vec![vec![Point::new(f32::NAN, 0.0)]];
        assert_eq!(strokes_to_input(&nan, &cfg).unwrap_err().code, ErrorCode::NotFinite);
    }

    #[test]
    fn drawing_is_scale_and_translation_invariant() {
        let cfg = Preprocess::ink(32, 64);
        let small = vec![line(0.0, 0.0, 10.0, 5.0), line(0.0, 5.0, 10.0, 0.0)];
        let big: Strokes = small
            .iter()
            .map(|s| s.iter().map(|p| Point::new(p.x * 7.0 + 300.0, p.y * 7.0 - 20.0)).collect())
            .collect();
        let a = strokes_to_input(&small, &cfg).unwrap();
        let b = strokes_to_input(&big, &cfg).unwrap();
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-3, "max diff {diff}");
    }

    #[test]
    fn pen_width_is_in_input_pixels() {
        // A horizontal line becomes a band about `stroke_width` rows high, whatever the
        // coordinates it was drawn in.
        let cfg = Preprocess { margin: 0.0, stroke_width: 3.0, ..Preprocess::ink(16, 64) };
        let x = strokes_to_input(&[line(0.0, 0.0, 500.0, 0.0)], &cfg).unwrap();
        let column: f32 = (0..16).map(|r| x[r * 64 + 32]).sum();
        assert!((column - 3.0).abs() < 0.6, "ink per column {column}");
    }
}
