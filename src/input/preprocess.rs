//! From pixels to the model's input tensor, exactly as the model's metadata says.
//! The trainer calls these same functions, so training and the browser see one picture.

use crate::error::{Error, ErrorCode, Result};
use crate::runtime::metadata::{Preprocess, PreprocessMode};

/// `rgba` is a `width x height` 8-bit RGBA picture, or the error says why not.
fn check_rgba(width: usize, height: usize, rgba: &[u8]) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::new(ErrorCode::EmptyImage, format!("image is {width}x{height}")));
    }
    if rgba.len() != width * height * 4 {
        return Err(Error::new(
            ErrorCode::BadShape,
            format!(
                "{} bytes for a {width}x{height} RGBA image (expected {})",
                rgba.len(),
                width * height * 4
            ),
        ));
    }
    Ok(())
}

/// A grayscale picture, luminance in [0, 1] (1 = white), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl GrayImage {
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::new(ErrorCode::EmptyImage, format!("image is {width}x{height}")));
        }
        if data.len() != width * height {
            return Err(Error::new(
                ErrorCode::BadShape,
                format!("{} values for a {width}x{height} image", data.len()),
            ));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(ErrorCode::NotFinite, "image has NaN or infinite values"));
        }
        Ok(GrayImage { width, height, data })
    }

    /// From 8-bit RGBA (canvas `ImageData` layout); transparent pixels are composited over
    /// white, as a page shows an empty canvas.
    pub fn from_rgba(width: usize, height: usize, rgba: &[u8]) -> Result<Self> {
        check_rgba(width, height, rgba)?;
        let data = rgba
            .chunks_exact(4)
            .map(|p| {
                let luma =
                    (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
                let a = p[3] as f32 / 255.0;
                a * luma + (1.0 - a)
            })
            .collect();
        Ok(GrayImage { width, height, data })
    }

    /// From 8-bit grayscale.
    pub fn from_luma8(width: usize, height: usize, luma: &[u8]) -> Result<Self> {
        Self::new(width, height, luma.iter().map(|&v| v as f32 / 255.0).collect())
    }

    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Crop to `[x0, x1) x [y0, y1)`.
    pub fn crop(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> GrayImage {
        let (w, h) = (x1 - x0, y1 - y0);
        let mut data = Vec::with_capacity(w * h);
        for y in y0..y1 {
            data.extend_from_slice(&self.data[y * self.width + x0..y * self.width + x1]);
        }
        GrayImage { width: w, height: h, data }
    }

    /// Resize with a triangle filter widened by the scale factor when shrinking, so thin
    /// strokes fade instead of vanishing (what PIL calls antialiased bilinear).
    pub fn resize(&self, width: usize, height: usize) -> GrayImage {
        let horiz = resample_weights(self.width, width);
        let vert = resample_weights(self.height, height);
        let mut tmp = vec![0.0f32; width * self.height];
        for y in 0..self.height {
            let row = &self.data[y * self.width..(y + 1) * self.width];
            for (x, (start, w)) in horiz.iter().enumerate() {
                tmp[y * width + x] = w.iter().enumerate().map(|(k, wk)| wk * row[start + k]).sum();
            }
        }
        let mut out = vec![0.0f32; width * height];
        for (y, (start, w)) in vert.iter().enumerate() {
            for (k, wk) in w.iter().enumerate() {
                let src = &tmp[(start + k) * width..(start + k + 1) * width];
                for x in 0..width {
                    out[y * width + x] += wk * src[x];
                }
            }
        }
        GrayImage { width, height, data: out }
    }
}

/// For each output sample: the first input index and the normalised filter weights.
fn resample_weights(n_in: usize, n_out: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = n_in as f32 / n_out as f32;
    let support = scale.max(1.0);
    (0..n_out)
        .map(|o| {
            let centre = (o as f32 + 0.5) * scale - 0.5;
            let lo = ((centre - support).floor() as isize + 1).max(0) as usize;
            let hi = ((centre + support).ceil() as isize - 1)
                .min(n_in as isize - 1)
                .max(lo as isize) as usize;
            let mut w: Vec<f32> =
                (lo..=hi).map(|i| (1.0 - (i as f32 - centre).abs() / support).max(0.0)).collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            } else {
                // The centre fell outside the picture (tiny inputs): take the nearest pixel.
                w.iter_mut().for_each(|v| *v = 0.0);
                let nearest = (centre.round().max(0.0) as usize).min(n_in - 1);
                return (nearest, vec![1.0]);
            }
            (lo, w)
        })
        .collect()
}

/// Ink below this level (after background removal) is treated as paper.
const INK_FLOOR: f32 = 0.15;
/// Ink at or above this level defines the bounding box.
const INK_BOX: f32 = 0.3;

/// Ink map in [0, 1] (1 = full ink) with the background removed. Dark ink on light paper
/// and light ink on a dark background are both read, by looking at the border.
pub fn ink_map(img: &GrayImage) -> Vec<f32> {
    let (w, h) = (img.width, img.height);
    let mut border = Vec::with_capacity(2 * (w + h));
    for x in 0..w {
        border.push(img.get(x, 0));
        border.push(img.get(x, h - 1));
    }
    for y in 0..h {
        border.push(img.get(0, y));
        border.push(img.get(w - 1, y));
    }
    let border_mean = border.iter().sum::<f32>() / border.len() as f32;
    let ink: Vec<f32> = if border_mean >= 0.5 {
        img.data.iter().map(|v| 1.0 - v).collect()
    } else {
        img.data.clone()
    };
    // Paper level: the median of the border. (Not of the whole picture: a small or bold
    // drawing can cover more than half of its own bounding box.)
    let mid = border.len() / 2;
    let mut border_ink: Vec<f32> =
        if border_mean >= 0.5 { border.iter().map(|v| 1.0 - v).collect() } else { border };
    let paper = *border_ink.select_nth_unstable_by(mid, |a, b| a.partial_cmp(b).unwrap()).1;
    let range = (1.0 - paper).max(1e-3);
    ink.iter()
        .map(|v| {
            let x = ((v - paper) / range).clamp(0.0, 1.0);
            if x < INK_FLOOR {
                0.0
            } else {
                x
            }
        })
        .collect()
}

/// Bounding box `[x0, x1) x [y0, y1)` of the ink, or `NoInk`.
pub fn ink_bbox(ink: &[f32], width: usize, height: usize) -> Result<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] >= INK_BOX {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x0 == usize::MAX {
        return Err(Error::new(ErrorCode::NoInk, "no ink found: the picture is blank"));
    }
    Ok((x0, y0, x1, y1))
}

/// Places `ink` (an ink map) into a `height x width` tensor: cropped to its ink, scaled
/// with its aspect ratio kept to fill the area inside the margin, centred.
pub fn fit_ink(ink: &GrayImage, cfg: &Preprocess) -> Result<Vec<f32>> {
    let (x0, y0, x1, y1) = ink_bbox(&ink.data, ink.width, ink.height)?;
    let crop = ink.crop(x0, y0, x1, y1);
    let inner_w = (cfg.width as f32 * (1.0 - 2.0 * cfg.margin)).max(1.0);
    let inner_h = (cfg.height as f32 * (1.0 - 2.0 * cfg.margin)).max(1.0);
    let scale = (inner_w / crop.width as f32).min(inner_h / crop.height as f32);
    let w = ((crop.width as f32 * scale).round() as usize).clamp(1, cfg.width);
    let h = ((crop.height as f32 * scale).round() as usize).clamp(1, cfg.height);
    let small = crop.resize(w, h);
    let mut out = vec![0.0f32; cfg.width * cfg.height];
    let (ox, oy) = ((cfg.width - w) / 2, (cfg.height - h) / 2);
    for y in 0..h {
        out[(oy + y) * cfg.width + ox..(oy + y) * cfg.width + ox + w]
            .copy_from_slice(&small.data[y * w..(y + 1) * w]);
    }
    Ok(out)
}

/// Centre crop to the target aspect ratio, resize, standardise.
pub fn face_input(img: &GrayImage, cfg: &Preprocess) -> Result<Vec<f32>> {
    let target = cfg.width as f32 / cfg.height as f32;
    let aspect = img.width as f32 / img.height as f32;
    let (cw, ch) = if aspect > target {
        (((img.height as f32 * target).round() as usize).max(1), img.height)
    } else {
        (img.width, ((img.width as f32 / target).round() as usize).max(1))
    };
    let (x0, y0) = ((img.width - cw) / 2, (img.height - ch) / 2);
    let mut out = img.crop(x0, y0, x0 + cw, y0 + ch).resize(cfg.width, cfg.height).data;
    standardize(&mut out)?;
    Ok(out)
}

/// Zero mean, unit variance; a uniform picture has nothing to encode.
pub fn standardize(v: &mut [f32]) -> Result<()> {
    let (mean, sd) = spread(v)?;
    let inv = 1.0 / sd;
    v.iter_mut().for_each(|x| *x = (*x - mean) * inv);
    Ok(())
}

/// Mean and standard deviation of a picture's values; a uniform picture has nothing to
/// encode (`no_ink`).
fn spread(v: &[f32]) -> Result<(f32, f32)> {
    let n = v.len() as f32;
    let mean = v.iter().sum::<f32>() / n;
    let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n).sqrt();
    if sd < 1e-3 {
        return Err(Error::new(ErrorCode::NoInk, "the picture is uniform: nothing to encode"));
    }
    Ok((mean, sd))
}

/// A colour picture as three planes (red, green, blue), each in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub planes: [GrayImage; 3],
}

impl RgbImage {
    /// From 8-bit RGBA; transparent pixels are composited over white, as for [`GrayImage`].
    pub fn from_rgba(width: usize, height: usize, rgba: &[u8]) -> Result<Self> {
        check_rgba(width, height, rgba)?;
        let plane = |c: usize| {
            let data = rgba.chunks_exact(4).map(|p| {
                let a = p[3] as f32 / 255.0;
                a * p[c] as f32 / 255.0 + (1.0 - a)
            });
            GrayImage { width, height, data: data.collect() }
        };
        Ok(RgbImage { planes: [plane(0), plane(1), plane(2)] })
    }

    /// A grayscale picture as colour: three equal planes.
    pub fn from_gray(img: &GrayImage) -> Self {
        RgbImage { planes: [img.clone(), img.clone(), img.clone()] }
    }
}

impl RgbImage {
    pub fn width(&self) -> usize {
        self.planes[0].width
    }

    pub fn height(&self) -> usize {
        self.planes[0].height
    }

    /// The region `[x0, x1) x [y0, y1)`, clipped to the picture.
    pub fn crop(&self, x0: f32, y0: f32, x1: f32, y1: f32) -> Result<RgbImage> {
        let clip = |v: f32, n: usize| (v.round().max(0.0) as usize).min(n);
        let (a, b) = (clip(x0, self.width()), clip(x1, self.width()));
        let (c, d) = (clip(y0, self.height()), clip(y1, self.height()));
        if b <= a || d <= c {
            return Err(Error::new(
                ErrorCode::EmptyImage,
                format!(
                    "the region ({x0}, {y0})-({x1}, {y1}) is outside the {}x{} picture",
                    self.width(),
                    self.height()
                ),
            ));
        }
        Ok(RgbImage { planes: self.planes.each_ref().map(|p| p.crop(a, c, b, d)) })
    }

    /// Padded with black to a square (centred, the odd pixel after, as face-api.js's
    /// `padToSquare`; or all at the end, as its detector's input), then resized to `side`.
    pub fn to_square(&self, side: usize, centred: bool) -> RgbImage {
        let (w, h) = (self.width(), self.height());
        let big = w.max(h);
        let (ox, oy) = if centred { ((big - w) / 2, (big - h) / 2) } else { (0, 0) };
        self.on_black(big, ox, oy).resized(side)
    }

    /// The picture placed at (`ox`, `oy`) on a black `side` x `side` square.
    pub fn on_black(&self, side: usize, ox: usize, oy: usize) -> RgbImage {
        let (w, h) = (self.width(), self.height());
        RgbImage {
            planes: self.planes.each_ref().map(|plane| {
                let mut square = vec![0.0f32; side * side];
                for y in 0..h {
                    square[(oy + y) * side + ox..(oy + y) * side + ox + w]
                        .copy_from_slice(&plane.data[y * w..(y + 1) * w]);
                }
                GrayImage { width: side, height: side, data: square }
            }),
        }
    }

    /// Each plane resized to `side` x `side`.
    pub fn resized(&self, side: usize) -> RgbImage {
        RgbImage { planes: self.planes.each_ref().map(|p| p.resize(side, side)) }
    }

    /// A `side` x `side` picture sampled (bilinearly; black outside) from a square turned
    /// by `theta` radians about (`cx`, `cy`), which sits at (`fx * side`, `fy * side`) in
    /// the output.
    pub fn sample_turned(
        &self,
        cx: f32,
        cy: f32,
        theta: f32,
        side: usize,
        fx: f32,
        fy: f32,
    ) -> RgbImage {
        let (c, s) = (theta.cos(), theta.sin());
        let n = side as f32;
        RgbImage {
            planes: self.planes.each_ref().map(|p| {
                let at = |x: isize, y: isize| {
                    if x >= 0 && y >= 0 && (x as usize) < p.width && (y as usize) < p.height {
                        p.get(x as usize, y as usize)
                    } else {
                        0.0
                    }
                };
                let mut data = vec![0.0f32; side * side];
                for v in 0..side {
                    for u in 0..side {
                        // Pixel centres: output (u + 0.5, v + 0.5) -> source, then to the
                        // grid of source pixel centres.
                        let (du, dv) = (u as f32 + 0.5 - fx * n, v as f32 + 0.5 - fy * n);
                        let (sx, sy) = (cx + c * du - s * dv - 0.5, cy + s * du + c * dv - 0.5);
                        let (x0, y0) = (sx.floor(), sy.floor());
                        let (ax, ay) = (sx - x0, sy - y0);
                        let (x0, y0) = (x0 as isize, y0 as isize);
                        data[v * side + u] = (1.0 - ay)
                            * ((1.0 - ax) * at(x0, y0) + ax * at(x0 + 1, y0))
                            + ay * ((1.0 - ax) * at(x0, y0 + 1) + ax * at(x0 + 1, y0 + 1));
                    }
                }
                GrayImage { width: side, height: side, data }
            }),
        }
    }

    /// Luminance, weighted as [`GrayImage::from_rgba`] does.
    pub fn to_gray(&self) -> GrayImage {
        let [r, g, b] = &self.planes;
        let data = r
            .data
            .iter()
            .zip(&g.data)
            .zip(&b.data)
            .map(|((r, g), b)| 0.299 * r + 0.587 * g + 0.114 * b)
            .collect();
        GrayImage { width: self.width(), height: self.height(), data }
    }

    /// 8-bit RGBA (opaque), as a canvas's `ImageData` holds it.
    pub fn to_rgba(&self) -> Vec<u8> {
        let [r, g, b] = &self.planes;
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        r.data
            .iter()
            .zip(&g.data)
            .zip(&b.data)
            .flat_map(|((r, g), b)| [byte(*r), byte(*g), byte(*b), 255])
            .collect()
    }

    /// The planes one after another: an NCHW tensor's data.
    pub fn into_planar(self) -> Vec<f32> {
        self.planes.into_iter().flat_map(|p| p.data).collect()
    }
}

/// [`PreprocessMode::FaceRgb`]: pad the shorter side with black to a square, centred,
/// resize, planes in order. Values stay in [0, 1]: the recogniser's own mean subtraction is
/// folded into its first convolution by the converter.
pub fn face_rgb_input(img: &RgbImage, cfg: &Preprocess) -> Result<Vec<f32>> {
    let out = img.to_square(cfg.width, true).into_planar();
    spread(&out)?;
    Ok(out)
}

/// The model input for a picture, following `cfg`.
pub fn image_to_input(img: &GrayImage, cfg: &Preprocess) -> Result<Vec<f32>> {
    match cfg.mode {
        PreprocessMode::Ink => {
            let ink = GrayImage { width: img.width, height: img.height, data: ink_map(img) };
            fit_ink(&ink, cfg)
        }
        PreprocessMode::Face => face_input(img, cfg),
        PreprocessMode::FaceRgb => face_rgb_input(&RgbImage::from_gray(img), cfg),
    }
}

/// The model input for 8-bit RGBA pixels (a canvas's `ImageData`), following `cfg`: colour
/// for a colour model, luminance for the others.
pub fn rgba_to_input(
    width: usize,
    height: usize,
    rgba: &[u8],
    cfg: &Preprocess,
) -> Result<Vec<f32>> {
    match cfg.mode {
        PreprocessMode::FaceRgb => face_rgb_input(&RgbImage::from_rgba(width, height, rgba)?, cfg),
        _ => image_to_input(&GrayImage::from_rgba(width, height, rgba)?, cfg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_with_box(w: usize, h: usize, bx: (usize, usize, usize, usize)) -> GrayImage {
        let mut data = vec![1.0; w * h];
        for y in bx.1..bx.3 {
            for x in bx.0..bx.2 {
                data[y * w + x] = 0.0;
            }
        }
        GrayImage::new(w, h, data).unwrap()
    }

    #[test]
    fn rgba_composites_transparency_over_white() {
        let img = GrayImage::from_rgba(2, 1, &[0, 0, 0, 0, 0, 0, 0, 255]).unwrap();
        assert_eq!(img.data, vec![1.0, 0.0]);
        assert_eq!(GrayImage::from_rgba(0, 3, &[]).unwrap_err().code, ErrorCode::EmptyImage);
        assert_eq!(GrayImage::from_rgba(2, 2, &[0; 15]).unwrap_err().code, ErrorCode::BadShape);
        assert_eq!(GrayImage::new(1, 1, vec![f32::NAN]).unwrap_err().code, ErrorCode::NotFinite);
    }

    #[test]
    fn resize_keeps_mean_and_constant() {
        let img = GrayImage::new(4, 4, (0..16).map(|v| v as f32 / 15.0).collect()).unwrap();
        let small = img.resize(2, 2);
        let m0 = img.data.iter().sum::<f32>() / 16.0;
        let m1 = small.data.iter().sum::<f32>() / 4.0;
        assert!((m0 - m1).abs() < 1e-5);
        let flat = GrayImage::new(5, 3, vec![0.25; 15]).unwrap().resize(11, 7);
        assert!(flat.data.iter().all(|v| (v - 0.25).abs() < 1e-6));
    }

    #[test]
    fn ink_is_cropped_centred_and_aspect_kept() {
        // A 20x10 dark box anywhere on a page fills the inner width of a 32x32 input.
        let cfg = Preprocess { margin: 0.0, ..Preprocess::ink(32, 32) };
        let a = image_to_input(&page_with_box(100, 80, (10, 10, 30, 20)), &cfg).unwrap();
        let b = image_to_input(&page_with_box(100, 80, (60, 50, 80, 60)), &cfg).unwrap();
        assert_eq!(a, b, "position on the page must not matter");
        // 2:1 box -> 32x16 block centred vertically: rows 8..24 inked.
        assert!(a[0] == 0.0 && a[7 * 32 + 5] == 0.0);
        assert!(a[8 * 32] > 0.99 && a[23 * 32 + 31] > 0.99);
        assert_eq!(a[24 * 32 + 10], 0.0);
    }

    #[test]
    fn light_ink_on_dark_is_read_too() {
        let cfg = Preprocess::ink(16, 16);
        let dark = page_with_box(40, 40, (5, 5, 20, 20));
        let inverted = GrayImage::new(40, 40, dark.data.iter().map(|v| 1.0 - v).collect()).unwrap();
        assert_eq!(image_to_input(&dark, &cfg).unwrap(), image_to_input(&inverted, &cfg).unwrap());
    }

    #[test]
    fn a_drawing_covering_most_of_its_picture_keeps_its_ink() {
        // A bold dot filling 80% of its canvas: the paper is read from the border.
        let img = page_with_box(10, 10, (1, 1, 9, 9));
        let x = image_to_input(&img, &Preprocess::ink(8, 8)).unwrap();
        assert!(x.iter().any(|&v| v > 0.99));
    }

    #[test]
    fn blank_pictures_have_no_ink() {
        let blank = GrayImage::new(30, 20, vec![1.0; 600]).unwrap();
        assert_eq!(
            image_to_input(&blank, &Preprocess::ink(16, 16)).unwrap_err().code,
            ErrorCode::NoInk
        );
        assert_eq!(
            image_to_input(&blank, &Preprocess::face(16, 16)).unwrap_err().code,
            ErrorCode::NoInk
        );
    }

    #[test]
    fn colour_faces_are_padded_to_a_square_with_black_and_keep_their_colours() {
        let cfg = Preprocess::face_rgb(4, 4);
        // A 4x2 picture (wide): one black row above, one below; red left half, blue right.
        let mut rgba = vec![];
        for _ in 0..2 {
            for x in 0..4 {
                rgba.extend(if x < 2 { [255, 0, 0, 255] } else { [0, 0, 255, 255] });
            }
        }
        let x = rgba_to_input(4, 2, &rgba, &cfg).unwrap();
        assert_eq!(x.len(), 3 * 16);
        let (r, g, b) = (&x[..16], &x[16..32], &x[32..]);
        assert_eq!(&r[..4], &[0.0; 4], "padding is black");
        assert_eq!(&r[4..8], &[1.0, 1.0, 0.0, 0.0]);
        assert_eq!(&b[8..12], &[0.0, 0.0, 1.0, 1.0]);
        assert!(g.iter().all(|&v| v == 0.0));
        // Grayscale gives three equal planes; uniform pictures are refused.
        let gray = GrayImage::new(3, 3, (0..9).map(|v| v as f32 / 8.0).collect()).unwrap();
        let y = image_to_input(&gray, &cfg).unwrap();
        assert!(y[..16] == y[16..32] && y[16..32] == y[32..]);
        assert_eq!(rgba_to_input(2, 2, &[9; 16], &cfg).unwrap_err().code, ErrorCode::NoInk);
        assert_eq!(rgba_to_input(2, 2, &[9; 15], &cfg).unwrap_err().code, ErrorCode::BadShape);
    }

    #[test]
    fn turned_sampling_rotates_about_the_given_point() {
        // A 4x4 picture whose top row is white: turned by 90 degrees about its centre
        // (the eyes' line now vertical), the white row becomes the left-hand column.
        let mut data = vec![0.0f32; 16];
        data[..4].fill(1.0);
        let img = RgbImage::from_gray(&GrayImage::new(4, 4, data).unwrap());
        let same = img.sample_turned(2.0, 2.0, 0.0, 4, 0.5, 0.5);
        assert_eq!(same.planes[0].data, img.planes[0].data, "no turn is the identity");
        let turned = img.sample_turned(2.0, 2.0, std::f32::consts::FRAC_PI_2, 4, 0.5, 0.5);
        let col: Vec<f32> = (0..4).map(|y| turned.planes[0].get(0, y)).collect();
        assert!(col.iter().all(|v| (v - 1.0).abs() < 1e-5), "{:?}", turned.planes[0].data);
        assert!(turned.planes[0].get(3, 1).abs() < 1e-5);
        // Outside the picture is black.
        assert_eq!(img.sample_turned(100.0, 100.0, 0.0, 2, 0.5, 0.5).planes[1].data, vec![0.0; 4]);
    }

    #[test]
    fn faces_are_standardised_and_lighting_invariant() {
        let cfg = Preprocess::face(8, 8);
        let img =
            GrayImage::new(10, 12, (0..120).map(|v| (v % 7) as f32 / 10.0).collect()).unwrap();
        let x = image_to_input(&img, &cfg).unwrap();
        let mean = x.iter().sum::<f32>() / 64.0;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 64.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3);
        let brighter =
            GrayImage::new(10, 12, img.data.iter().map(|v| 0.1 + 0.5 * v).collect()).unwrap();
        let y = image_to_input(&brighter, &cfg).unwrap();
        assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-4));
    }
}
