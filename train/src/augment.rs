//! Domain augmentations, applied before the shared preprocessing: for handwriting small
//! affine warps, pen widths from thin to thick, and phone photographs of paper
//! (perspective, uneven light, blur, sensor noise, JPEG); crops, flips and lighting for
//! faces.

use crate::data::Sample;
use anyhow::Result;
use rand::Rng;
use siamese_wasm::input::preprocess::{image_to_input, GrayImage};
use siamese_wasm::input::strokes::{render, strokes_to_input, Point};
use siamese_wasm::runtime::metadata::{Preprocess, PreprocessMode};

/// A 2x3 affine map (x', y') = (a x + b y + c, d x + e y + f).
#[derive(Debug, Clone, Copy)]
pub struct Affine([f32; 6]);

impl Affine {
    /// Rotation, shear and anisotropic scale about `centre`.
    pub fn random(
        rng: &mut impl Rng,
        centre: (f32, f32),
        rot_deg: f32,
        shear: f32,
        scale: f32,
    ) -> Self {
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
    resample(img, fill, |x, y| inv.apply(x, y))
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

/// A projective map (x', y') = ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)).
#[derive(Debug, Clone, Copy)]
pub struct Homography([f32; 9]);

impl Homography {
    /// A camera not square to the page: the four corners of a `w x h` picture moved inwards
    /// or outwards by up to `strength` of each side, as a phone held at an angle sees it.
    pub fn random_tilt(rng: &mut impl Rng, w: f32, h: f32, strength: f32) -> Self {
        let src = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
        let mut dst = src;
        for p in &mut dst {
            p.0 += rng.gen_range(-strength..=strength) * w;
            p.1 += rng.gen_range(-strength..=strength) * h;
        }
        Self::from_corners(src, dst)
    }

    /// The map taking each `src` corner to its `dst` corner (a direct linear solve).
    pub fn from_corners(src: [(f32, f32); 4], dst: [(f32, f32); 4]) -> Self {
        let mut m = [[0.0f64; 9]; 8];
        for (k, (&(x, y), &(u, v))) in src.iter().zip(&dst).enumerate() {
            let (x, y, u, v) = (x as f64, y as f64, u as f64, v as f64);
            m[2 * k] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            m[2 * k + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        // Gauss-Jordan with partial pivoting on the 8 x 9 augmented system.
        for c in 0..8 {
            let piv = (c..8).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs())).unwrap();
            m.swap(c, piv);
            let d = m[c][c];
            for v in &mut m[c] {
                *v /= d;
            }
            for r in 0..8 {
                if r != c {
                    let f = m[r][c];
                    let pivot_row = m[c];
                    for (v, p) in m[r].iter_mut().zip(pivot_row) {
                        *v -= f * p;
                    }
                }
            }
        }
        let h: Vec<f32> = (0..8).map(|r| m[r][8] as f32).collect();
        Homography([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0])
    }

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let m = self.0;
        let z = m[6] * x + m[7] * y + m[8];
        ((m[0] * x + m[1] * y + m[2]) / z, (m[3] * x + m[4] * y + m[5]) / z)
    }

    fn inverse(&self) -> Homography {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        let co = [
            e * i - f * h,
            c * h - b * i,
            b * f - c * e,
            f * g - d * i,
            a * i - c * g,
            c * d - a * f,
            d * h - e * g,
            b * g - a * h,
            a * e - b * d,
        ];
        let det = a * co[0] + b * co[3] + c * co[6];
        Homography(co.map(|v| v / det))
    }
}

/// Samples `img` through the inverse of `map` (bilinear), `fill` outside.
fn resample(img: &GrayImage, fill: f32, source_of: impl Fn(f32, f32) -> (f32, f32)) -> GrayImage {
    let (w, h) = (img.width, img.height);
    let mut out = vec![fill; w * h];
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = source_of(x as f32 + 0.5, y as f32 + 0.5);
            let (fx, fy) = (sx - 0.5, sy - 0.5);
            let (x0, y0) = (fx.floor(), fy.floor());
            let (tx, ty) = (fx - x0, fy - y0);
            let px = |xx: f32, yy: f32| -> f32 {
                if xx < 0.0 || yy < 0.0 || xx >= w as f32 || yy >= h as f32 {
                    fill
                } else {
                    img.data[yy as usize * w + xx as usize]
                }
            };
            out[y * w + x] = (1.0 - ty) * ((1.0 - tx) * px(x0, y0) + tx * px(x0 + 1.0, y0))
                + ty * ((1.0 - tx) * px(x0, y0 + 1.0) + tx * px(x0 + 1.0, y0 + 1.0));
        }
    }
    GrayImage { width: w, height: h, data: out }
}

/// Gaussian blur of standard deviation `sigma` pixels (separable, edges clamped).
pub fn blur(img: &GrayImage, sigma: f32) -> GrayImage {
    if sigma <= 0.05 {
        return img.clone();
    }
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let norm: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / norm).collect();
    let (w, h) = (img.width as isize, img.height as isize);
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let o = j as isize - r;
                    let (sx, sy) = if horizontal {
                        ((x + o).clamp(0, w - 1), y)
                    } else {
                        (x, (y + o).clamp(0, h - 1))
                    };
                    acc += kv * src[(sy * w + sx) as usize];
                }
                out[(y * w + x) as usize] = acc;
            }
        }
        out
    };
    let data = pass(&pass(&img.data, true), false);
    GrayImage { width: img.width, height: img.height, data }
}

/// Round trip through JPEG at `quality` (1-100), as a photo shared from a phone is.
pub fn jpeg(img: &GrayImage, quality: u8) -> Result<GrayImage> {
    let bytes: Vec<u8> =
        img.data.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
    let mut out = vec![];
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode(
        &bytes,
        img.width as u32,
        img.height as u32,
        image::ExtendedColorType::L8,
    )?;
    crate::data::decode_image(&out)
}

/// A phone photograph of a signature on paper: the camera tilted (perspective), light
/// falling unevenly over grey-ish paper, ink not quite black, focus and hand shake
/// (blur), sensor noise and JPEG. Strengths stay within what the library's
/// preprocessing reads as paper (its paper level is the border's median, and ink starts
/// 15% above it), so the augmented picture is one a user's photo could give.
pub fn phone_photo(img: &GrayImage, rng: &mut impl Rng) -> Result<GrayImage> {
    let (w, h) = (img.width as f32, img.height as f32);
    let tilt = Homography::random_tilt(rng, w, h, 0.08).inverse();
    let mut out = resample(img, 1.0, |x, y| tilt.apply(x, y));
    let paper = rng.gen_range(0.8..=1.0f32);
    let ink = rng.gen_range(0.0..=0.2f32);
    let (gx, gy) = (rng.gen_range(-0.08..=0.08f32), rng.gen_range(-0.08..=0.08f32));
    for (i, v) in out.data.iter_mut().enumerate() {
        let (x, y) = ((i % img.width) as f32 / w - 0.5, (i / img.width) as f32 / h - 0.5);
        let light = 1.0 + gx * x + gy * y;
        *v = (ink + (paper - ink) * *v) * light;
    }
    out = blur(&out, rng.gen_range(0.0..=0.8));
    let noise = rng.gen_range(0.0..=0.02f32);
    for v in &mut out.data {
        // Sum of uniforms: close enough to Gaussian sensor noise.
        let n: f32 = (0..4).map(|_| rng.gen_range(-0.5..0.5f32)).sum::<f32>() * noise;
        *v = (*v + n).clamp(0.0, 1.0);
    }
    jpeg(&out, rng.gen_range(35..=90))
}

/// The model input for a sample, without augmentation (validation, evaluation). A
/// sample with both a picture and strokes uses the picture.
pub fn plain_input(s: &Sample, cfg: &Preprocess) -> Result<Vec<f32>> {
    Ok(match (s.picture(), s.trajectory()) {
        (Some(img), _) => image_to_input(&img, cfg)?,
        (None, Some(st)) => strokes_to_input(&st, cfg)?,
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
                let st = s.trajectory().unwrap();
                let pts = st.iter().flatten();
                let n = st.iter().map(Vec::len).sum::<usize>().max(1) as f32;
                let (cx, cy) = pts.fold((0.0, 0.0), |a, p| (a.0 + p.x / n, a.1 + p.y / n));
                let m = Affine::random(rng, (cx, cy), 8.0, 0.2, 0.12);
                let warped: Vec<Vec<Point>> = st
                    .iter()
                    .map(|s| {
                        s.iter()
                            .map(|p| {
                                let (x, y) = m.apply(p.x, p.y);
                                Point { x, y, ..*p }
                            })
                            .collect()
                    })
                    .collect();
                // Canvases drawn with another line width than the library's renderer, from
                // a fine stylus to a thick finger.
                let width = cfg.stroke_width * rng.gen_range(0.4..2.5);
                // A warp cannot remove ink, but stay robust like the picture path below.
                let drawn = render(&warped, cfg, width).map_err(anyhow::Error::from);
                // Another renderer's antialiasing: a slight blur of some drawings.
                let drawn = drawn.map(|img| {
                    if rng.gen_bool(0.3) {
                        blur(&img, rng.gen_range(0.3..1.0))
                    } else {
                        img
                    }
                });
                drawn
                    .and_then(|img| Ok(image_to_input(&img, cfg)?))
                    .or_else(|_| plain_input(s, cfg))
            } else {
                let img = s.picture().unwrap();
                let m = Affine::random(
                    rng,
                    (img.width as f32 / 2.0, img.height as f32 / 2.0),
                    8.0,
                    0.2,
                    0.12,
                );
                let mut img = warp(&img, m, 1.0);
                // Pens from thin to thick: up to two pixels of growth or thinning.
                let pen = rng.gen_range(0..6);
                match pen {
                    0 => img = morph(&img, true),
                    1 => img = morph(&img, false),
                    2 => img = morph(&morph(&img, true), true),
                    _ => {}
                }
                // Half of the scans as a phone would photograph the paper instead (not a
                // thinned one: a hairline that a blurred photo loses is not a signature a
                // user's photo would show either).
                if pen != 1 && rng.gen_bool(0.5) {
                    img = phone_photo(&img, rng)?;
                }
                // Thinning can erase a faint drawing entirely; fall back to the original.
                image_to_input(&img, cfg).or_else(|_| plain_input(s, cfg))
            }
        }
        PreprocessMode::Face | PreprocessMode::FaceRgb => {
            let img = s
                .picture()
                .ok_or_else(|| anyhow::anyhow!("face sample {} has no picture", s.origin))?;
            // Crop: keep 85-100% of each side at a random offset.
            let keep = rng.gen_range(0.85..=1.0f32);
            let (cw, ch) = (
                ((img.width as f32 * keep) as usize).max(1),
                ((img.height as f32 * keep) as usize).max(1),
            );
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
    fn homography_maps_its_corners_and_inverts() {
        let src = [(0.0, 0.0), (40.0, 0.0), (40.0, 20.0), (0.0, 20.0)];
        let dst = [(2.0, 1.0), (37.0, -1.0), (41.0, 22.0), (-1.0, 19.0)];
        let m = Homography::from_corners(src, dst);
        for (s, d) in src.iter().zip(&dst) {
            let (x, y) = m.apply(s.0, s.1);
            assert!(
                (x - d.0).abs() < 1e-3 && (y - d.1).abs() < 1e-3,
                "{s:?} -> ({x}, {y}), want {d:?}"
            );
        }
        let (x, y) = m.apply(13.0, 7.0);
        let (bx, by) = m.inverse().apply(x, y);
        assert!((bx - 13.0).abs() < 1e-3 && (by - 7.0).abs() < 1e-3);
    }

    #[test]
    fn blur_keeps_the_mean_and_spreads_a_point() {
        let mut data = vec![1.0; 121];
        data[60] = 0.0;
        let img = GrayImage::new(11, 11, data).unwrap();
        let b = blur(&img, 1.0);
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&b.data) - mean(&img.data)).abs() < 1e-4);
        assert!(b.data[60] > 0.5 && b.data[59] < 1.0 && b.data[0] > 0.999);
    }

    #[test]
    fn a_phone_photo_of_a_signature_still_reads_as_the_signature() {
        use rand::SeedableRng;
        use siamese_wasm::verify::metrics::cosine;
        // A bar of ink on white paper, 200 x 80.
        let data = (0..200 * 80)
            .map(|i| {
                if (30..50).contains(&(i / 200)) && (40..160).contains(&(i % 200)) {
                    0.0
                } else {
                    1.0
                }
            })
            .collect();
        let img = GrayImage::new(200, 80, data).unwrap();
        let cfg = Preprocess::ink(64, 128);
        let clean = image_to_input(&img, &cfg).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..20 {
            let photo = phone_photo(&img, &mut rng).unwrap();
            assert_ne!(photo.data, img.data);
            let x = image_to_input(&photo, &cfg).expect("the preprocessing still finds the ink");
            assert!(
                cosine(&x, &clean) > 0.7,
                "a photo no longer looks like its scan (cosine {})",
                cosine(&x, &clean)
            );
        }
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
