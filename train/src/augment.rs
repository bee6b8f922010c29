//! Domain augmentations, applied before the shared preprocessing: small affine warps and
//! pen-width jitter for handwriting, crops, flips and lighting for faces.

use crate::data::Sample;
use anyhow::Result;
use rand::Rng;
use siamese_wasm::metadata::{Preprocess, PreprocessMode};
use siamese_wasm::preprocess::{image_to_input, GrayImage};
use siamese_wasm::strokes::{render, strokes_to_input, Point};

/// A 2x3 affine map (x', y') = (a x + b y + c, d x + e y + f).
#[derive(Debug, Clone, Copy)]
pub struct Affine([f32; 6]);

impl Affine {
    /// Rotation, shear and anisotropic scale about `centre`.
    pub fn random(rng: &mut impl Rng, centre: (f32, f32), rot_deg: f32, shear: f32, scale: f32) -> Self {
        let th = rng.gen_range(-rot_deg..=rot_deg).to_radians();
        let sh = rng.gen_range(-shear..=shear);
        let sx = 1.0 + rng.gen_range(-scale..=scale);
        let sy = 1.0 + rng.gen_range(-scale..=scale);
        let (c, s) = (th.cos(), th.sin());
        // R * Shear * Scale
        let (a, b, d, e) = (c * sx, (c * sh - s) * sy, s * sx, (s * sh + c) * sy);
        let (cx, cy) = centre;
        Affine([a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy])
    }
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let m = self.0;
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }
    fn inverse(&self) -> Affine {
        let [a, b, c, d, e, f] = self.0;
        let det = a * e - b * d;
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Affine([ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)])
    }
}

/// Warps a picture (bilinear), filling outside with `fill`.
pub fn warp(img: &GrayImage, m: Affine, fill: f32) -> GrayImage {
    let inv = m.inverse();
    let (w, h) = (img.width, img.height);
    let mut out = vec![fill; w * h];
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = inv.apply(x as f32 + 0.5, y as f32 + 0.5);
            let (fx, fy) = (sx - 0.5, sy - 0.5);
            let (x0, y0) = (fx.floor(), fy.floor());
            let (tx, ty) = (fx - x0, fy - y0);
            let px = |xx: f32, yy: f32| -> f32 {
                if xx < 0.0 || yy < 0.0 || xx >= w as f32 || yy >= h as f32 { fill } else { img.data[yy as usize * w + xx as usize] }
            };
            let v = (1.0 - ty) * ((1.0 - tx) * px(x0, y0) + tx * px(x0 + 1.0, y0)) + ty * ((1.0 - tx) * px(x0, y0 + 1.0) + tx * px(x0 + 1.0, y0 + 1.0));
            out[y * w + x] = v;
        }
    }
    GrayImage { width: w, height: h, data: out }
}

/// Thickens (`grow`) or thins dark ink on light paper by one pixel: a 3x3 min or max
/// filter on the luminance.
pub fn morph(img: &GrayImage, grow: bool) -> GrayImage {
    let (w, h) = (img.width, img.height);
    let mut out = img.data.clone();
    for y in 0..h {
        for x in 0..w {
            let mut v = img.data[y * w + x];
            for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let n = img.data[yy * w + xx];
                    v = if grow { v.min(n) } else { v.max(n) };
                }
            }
            out[y * w + x] = v;
        }
    }
    GrayImage { width: w, height: h, data: out }
}

/// The model input for a sample, without augmentation (validation, evaluation). A
/// sample with both a picture and strokes uses the picture.
pub fn plain_input(s: &Sample, cfg: &Preprocess) -> Result<Vec<f32>> {
    Ok(match (&s.image, &s.strokes) {
        (Some(img), _) => image_to_input(img, cfg)?,
        (None, Some(st)) => strokes_to_input(st, cfg)?,
        (None, None) => anyhow::bail!("sample {} has neither picture nor strokes", s.origin),
    })
}

/// The model input for a sample with a random augmentation of its domain.
pub fn augmented_input(s: &Sample, cfg: &Preprocess, rng: &mut impl Rng) -> Result<Vec<f32>> {
    match cfg.mode {
        PreprocessMode::Ink => {
            let use_strokes = match (&s.image, &s.strokes) {
                (Some(_), Some(_)) => rng.gen_bool(0.5),
                (None, Some(_)) => true,
                _ => false,
            };
            if use_strokes {
                let st = s.strokes.as_ref().unwrap();
                let pts = st.iter().flatten();
                let n = st.iter().map(Vec::len).sum::<usize>().max(1) as f32;
                let (cx, cy) = pts.fold((0.0, 0.0), |a, p| (a.0 + p.x / n, a.1 + p.y / n));
                let m = Affine::random(rng, (cx, cy), 8.0, 0.2, 0.12);
                let warped: Vec<Vec<Point>> = st.iter().map(|s| s.iter().map(|p| { let (x, y) = m.apply(p.x, p.y); Point { x, y, ..*p } }).collect()).collect();
                let width = cfg.stroke_width * rng.gen_range(0.6..1.7);
                // A warp cannot remove ink, but stay robust like the picture path below.
                render(&warped, cfg, width).and_then(|img| image_to_input(&img, cfg)).or_else(|_| plain_input(s, cfg))
            } else {
                let img = s.image.as_ref().unwrap();
                let m = Affine::random(rng, (img.width as f32 / 2.0, img.height as f32 / 2.0), 8.0, 0.2, 0.12);
                let mut img = warp(img, m, 1.0);
                match rng.gen_range(0..4) {
                    0 => img = morph(&img, true),
                    1 => img = morph(&img, false),
                    _ => {}
                }
                // Thinning can erase a faint drawing entirely; fall back to the original.
                image_to_input(&img, cfg).or_else(|_| plain_input(s, cfg))
            }
        }
        PreprocessMode::Face | PreprocessMode::FaceRgb => {
            let img = s.image.as_ref().ok_or_else(|| anyhow::anyhow!("face sample {} has no picture", s.origin))?;
            // Crop: keep 85-100% of each side at a random offset.
            let keep = rng.gen_range(0.85..=1.0f32);
            let (cw, ch) = (((img.width as f32 * keep) as usize).max(1), ((img.height as f32 * keep) as usize).max(1));
            let (x0, y0) = (rng.gen_range(0..=img.width - cw), rng.gen_range(0..=img.height - ch));
            let mut c = img.crop(x0, y0, x0 + cw, y0 + ch);
            let m = Affine::random(rng, (cw as f32 / 2.0, ch as f32 / 2.0), 8.0, 0.05, 0.05);
            let mean = c.data.iter().sum::<f32>() / c.data.len() as f32;
            c = warp(&c, m, mean);
            if rng.gen_bool(0.5) {
                for row in c.data.chunks_mut(cw) {
                    row.reverse();
                }
            }
            // Lighting: gamma and a left-right illumination gradient.
            let gamma = rng.gen_range(0.6..1.6f32);
            let grad = rng.gen_range(-0.3..0.3f32);
            for (i, v) in c.data.iter_mut().enumerate() {
                let x = (i % cw) as f32 / cw as f32 - 0.5;
                *v = (v.max(0.0).powf(gamma) * (1.0 + grad * x)).clamp(0.0, 1.0);
            }
            Ok(image_to_input(&c, cfg).or_else(|_| plain_input(s, cfg))?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_inverse_round_trips() {
        let mut rng = rand::thread_rng();
        let m = Affine::random(&mut rng, (10.0, 5.0), 10.0, 0.2, 0.1);
        let (x, y) = m.apply(3.0, 4.0);
        let (bx, by) = m.inverse().apply(x, y);
        assert!((bx - 3.0).abs() < 1e-4 && (by - 4.0).abs() < 1e-4);
    }

    #[test]
    fn morph_grows_and_thins_ink() {
        let mut data = vec![1.0; 25];
        data[12] = 0.0;
        let img = GrayImage::new(5, 5, data).unwrap();
        assert_eq!(morph(&img, true).data.iter().filter(|&&v| v == 0.0).count(), 9);
        assert_eq!(morph(&img, false).data.iter().filter(|&&v| v == 0.0).count(), 0);
    }
}
