//! Faces in a picture: where they are (a detector), where their eyes, nose and mouth are
//! (68 landmarks), and the crop a face recogniser expects. The two networks are face-api.js's
//! tiny face detector and tiny 68-point landmark net, converted to ONNX by
//! `siamese-train convert-faceapi`; the decoding, non-maximum suppression and cropping
//! around them are here, after face-api.js's own (`TinyYolov2Base.extractBoxes`,
//! `FaceLandmark68NetBase.postProcess`, `FaceLandmarks.align`), so that the recogniser sees
//! the crops it was made for.

use crate::error::{Error, ErrorCode, Result};
use crate::input::preprocess::RgbImage;
use crate::runtime::encoder::{bad_model, run_plan, runnable};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tract_core::prelude::*;

/// The `metadata_props` key that marks a face detector or landmark model (JSON of
/// [`FaceModel`]).
pub const FACE_MODEL_KEY: &str = "face_model";

/// What a face model is and how to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FaceModel {
    /// Tiny-YOLOv2 output `[1, 5 * anchors, n, n]`; input side `input_size`.
    Detector { input_size: usize, anchors: Vec<[f32; 2]>, iou_threshold: f32, score_threshold: f32 },
    /// `[1, 2 * points]` x, y relative to the input side.
    Landmarks { input_size: usize, points: usize },
}

/// A face's box in picture pixels, and the detector's confidence in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub score: f32,
}

impl FaceBox {
    fn area(&self) -> f32 {
        self.width * self.height
    }

    /// Intersection over union.
    pub fn iou(&self, o: &FaceBox) -> f32 {
        let w = (self.x + self.width).min(o.x + o.width) - self.x.max(o.x);
        let h = (self.y + self.height).min(o.y + o.height) - self.y.max(o.y);
        let inter = w.max(0.0) * h.max(0.0);
        let union = self.area() + o.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

struct Net {
    plan: Arc<TypedRunnableModel>,
    model: FaceModel,
    /// "detector" or "landmark", for messages.
    what: &'static str,
}

impl Net {
    fn from_bytes(bytes: &[u8], what: &'static str) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::new(
                ErrorCode::BadModel,
                format!("the face {what} model is empty (0 bytes)"),
            ));
        }
        let proto = crate::runtime::onnx::decode(bytes)
            .map_err(|e| bad_model(&format!("the face {what} is not an ONNX model"), e))?;
        let json =
            proto.metadata_props.iter().find(|p| p.key == FACE_MODEL_KEY).map(|p| p.value.clone());
        let model: FaceModel =
            json.and_then(|j| serde_json::from_str(&j).ok()).ok_or_else(|| {
                Error::new(
                    ErrorCode::BadModel,
                    format!("the face {what} model carries no `{FACE_MODEL_KEY}` metadata"),
                )
            })?;
        let side = match &model {
            FaceModel::Detector { input_size, .. } | FaceModel::Landmarks { input_size, .. } => {
                *input_size
            }
        };
        let plan = runnable(proto, [1, 3, side, side], &format!("the face {what} graph"))?;
        Ok(Net { plan, model, what })
    }

    fn run(&self, input: Vec<f32>, side: usize) -> Result<Vec<f32>> {
        run_plan(&self.plan, [1, 3, side, side], input, &format!("the face {} model", self.what))
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// Decodes a Tiny-YOLOv2 output (`[5 * anchors, n, n]`, NCHW) into boxes relative to the
/// detector's square input (0..1), keeping those scoring above `threshold`.
pub fn decode_boxes(out: &[f32], anchors: &[[f32; 2]], threshold: f32) -> Vec<FaceBox> {
    let per = 5 * anchors.len();
    let n = ((out.len() / per) as f32).sqrt().round() as usize;
    let at = |c: usize, row: usize, col: usize| out[(c * n + row) * n + col];
    let mut boxes = vec![];
    for row in 0..n {
        for col in 0..n {
            for (a, anchor) in anchors.iter().enumerate() {
                let score = sigmoid(at(a * 5 + 4, row, col));
                if score <= threshold {
                    continue;
                }
                let cx = (col as f32 + sigmoid(at(a * 5, row, col))) / n as f32;
                let cy = (row as f32 + sigmoid(at(a * 5 + 1, row, col))) / n as f32;
                let w = at(a * 5 + 2, row, col).exp() * anchor[0] / n as f32;
                let h = at(a * 5 + 3, row, col).exp() * anchor[1] / n as f32;
                boxes.push(FaceBox {
                    x: cx - w / 2.0,
                    y: cy - h / 2.0,
                    width: w,
                    height: h,
                    score,
                });
            }
        }
    }
    boxes
}

/// Greedy non-maximum suppression: best score first, dropping boxes that overlap a kept
/// one by more than `iou`.
pub fn non_max_suppression(mut boxes: Vec<FaceBox>, iou: f32) -> Vec<FaceBox> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<FaceBox> = vec![];
    for b in boxes {
        if kept.iter().all(|k| k.iou(&b) <= iou) {
            kept.push(b);
        }
    }
    kept
}

/// The face detector and landmark net together: boxes, landmarks, aligned crops.
pub struct FaceFinder {
    detector: Net,
    landmarks: Net,
}

impl std::fmt::Debug for FaceFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceFinder")
            .field("detector", &self.detector.model)
            .field("landmarks", &self.landmarks.model)
            .finish()
    }
}

impl FaceFinder {
    pub fn from_bytes(detector: &[u8], landmarks: &[u8]) -> Result<Self> {
        let (d, l) =
            (Net::from_bytes(detector, "detector")?, Net::from_bytes(landmarks, "landmark")?);
        match (&d.model, &l.model) {
            // The alignment reads the eyes and mouth by their indices in the 68-point scheme.
            (FaceModel::Detector { .. }, FaceModel::Landmarks { points: 68, .. }) => {
                Ok(FaceFinder { detector: d, landmarks: l })
            }
            _ => Err(Error::new(
                ErrorCode::BadModel,
                "expected a face detector and a 68-point face landmark model, in that order",
            )),
        }
    }

    /// Faces in `img`, best score first, boxes in picture pixels clipped to it. The picture
    /// is padded at its end to a square and resized to the detector's input, as
    /// face-api.js does; and twice more inside a black border a quarter and a half of its
    /// side wide, because the tiny detector misses faces that fill the whole picture (a
    /// face crop, a close webcam). All runs' boxes go through one non-maximum suppression.
    /// (On the face training identities, the border runs cut the pictures without a face
    /// found from 1319 to 584 of 1563.)
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<FaceBox>> {
        let FaceModel::Detector { input_size, anchors, iou_threshold, score_threshold } =
            &self.detector.model
        else {
            unreachable!()
        };
        let mut found = vec![];
        let side = img.width().max(img.height());
        for border in [0, side / 4, side / 2] {
            // The picture at (border, border) on a black square border wider on each side,
            // padded at its end to a square first.
            let framed = img.on_black(side + 2 * border, border, border);
            let s = (side + 2 * border) as f32;
            let out = self.detector.run(framed.resized(*input_size).into_planar(), *input_size)?;
            let b = border as f32;
            found.extend(decode_boxes(&out, anchors, *score_threshold).into_iter().map(|f| {
                FaceBox {
                    x: f.x * s - b,
                    y: f.y * s - b,
                    width: f.width * s,
                    height: f.height * s,
                    score: f.score,
                }
            }));
        }
        let (w, h) = (img.width() as f32, img.height() as f32);
        let faces = non_max_suppression(found, *iou_threshold)
            .into_iter()
            .filter_map(|b| {
                let (x0, y0) = (b.x.max(0.0), b.y.max(0.0));
                let (x1, y1) = ((b.x + b.width).min(w), (b.y + b.height).min(h));
                (x1 > x0 && y1 > y0).then_some(FaceBox {
                    x: x0,
                    y: y0,
                    width: x1 - x0,
                    height: y1 - y0,
                    score: b.score,
                })
            })
            .collect();
        Ok(faces)
    }

    /// The 68 landmarks of the face in `face`, in picture pixels.
    pub fn landmarks(&self, img: &RgbImage, face: &FaceBox) -> Result<Vec<[f32; 2]>> {
        let FaceModel::Landmarks { input_size, points } = &self.landmarks.model else {
            unreachable!()
        };
        let crop = img.crop(face.x, face.y, face.x + face.width, face.y + face.height)?;
        let (cw, ch) = (crop.width() as f32, crop.height() as f32);
        let (x0, y0) = ((face.x.round().max(0.0)), (face.y.round().max(0.0)));
        let side = cw.max(ch);
        let out =
            self.landmarks.run(crop.to_square(*input_size, true).into_planar(), *input_size)?;
        if out.len() != 2 * points {
            return Err(Error::new(
                ErrorCode::BadModel,
                format!("the landmark model gave {} values for {points} points", out.len()),
            ));
        }
        // Relative to the centred square: undo the padding (`to_square` puts the odd pixel
        // after), then place in the picture.
        let (px, py) = (((side - cw) / 2.0).floor(), ((side - ch) / 2.0).floor());
        Ok(out.chunks_exact(2).map(|p| [x0 + p[0] * side - px, y0 + p[1] * side - py]).collect())
    }

    /// The crop the recogniser expects for the face in `face`: face-api.js's "dlib" box (a
    /// square around the mean of the two eye centres and the mouth centre, 0.43 of its side
    /// above it, its side the mean eye-to-mouth distance / 0.45), turned so that the eyes
    /// are level: a similarity transform, sampled bilinearly, black outside the picture.
    /// face-api.js takes the box without turning it; turning it lowered the EER on the face
    /// training identities (docs/design.md).
    pub fn align(&self, img: &RgbImage, face: &FaceBox) -> Result<RgbImage> {
        let pts = self.landmarks(img, face)?;
        let centre = |r: std::ops::Range<usize>| {
            let n = r.len() as f32;
            let (sx, sy) = pts[r].iter().fold((0.0, 0.0), |(a, b), p| (a + p[0], b + p[1]));
            [sx / n, sy / n]
        };
        // Points 36-41 are the eye on the picture's left, 42-47 the other, 48-67 the mouth.
        let (left_eye, right_eye, mouth) = (centre(36..42), centre(42..48), centre(48..68));
        let dist = |p: [f32; 2]| ((mouth[0] - p[0]).powi(2) + (mouth[1] - p[1]).powi(2)).sqrt();
        let size = ((dist(left_eye) + dist(right_eye)) / 2.0 / 0.45).floor();
        if size.is_nan() || size < 1.0 {
            return Err(Error::new(ErrorCode::NoFace, "the face's landmarks collapse to a point"));
        }
        let (rx, ry) = (
            (left_eye[0] + right_eye[0] + mouth[0]) / 3.0,
            (left_eye[1] + right_eye[1] + mouth[1]) / 3.0,
        );
        let theta = (right_eye[1] - left_eye[1]).atan2(right_eye[0] - left_eye[0]);
        Ok(img.sample_turned(rx, ry, theta, size as usize, 0.5, 0.43))
    }

    /// The aligned crop of the largest face in `img`, or `no_face`.
    pub fn largest_face(&self, img: &RgbImage) -> Result<(FaceBox, RgbImage)> {
        let faces = self.detect(img)?;
        let face = faces
            .into_iter()
            .max_by(|a, b| a.area().total_cmp(&b.area()))
            .ok_or_else(|| Error::new(ErrorCode::NoFace, "no face found in the picture"))?;
        Ok((face, self.align(img, &face)?))
    }
}

/// Detect, align, embed: the embedding of the largest face in `img` and its box.
pub fn embed_largest_face(
    encoder: &crate::runtime::encoder::Encoder,
    finder: &FaceFinder,
    img: &RgbImage,
) -> Result<(FaceBox, Vec<f32>)> {
    let (face, crop) = finder.largest_face(img)?;
    Ok((face, encoder.embed_rgb(&crop)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_decode_from_cells_and_anchors() {
        // One anchor, a 2x2 grid; only cell (row 1, col 0) scores (logit 2 -> 0.88).
        let anchors = [[1.0, 2.0]];
        let n = 2;
        let mut out = vec![0.0f32; 5 * n * n];
        let idx = |c: usize, row: usize, col: usize| (c * n + row) * n + col;
        // Every other logit is 0: scores of 0.5 (not above the threshold), offsets of 0.5
        // cell, sizes of exp(0) = 1 anchor.
        out[idx(4, 1, 0)] = 2.0;
        let b = decode_boxes(&out, &anchors, 0.5);
        assert_eq!(b.len(), 1);
        // Centre (0 + 0.5) / 2, (1 + 0.5) / 2; size anchor / n.
        let want =
            FaceBox { x: 0.25 - 0.25, y: 0.75 - 0.5, width: 0.5, height: 1.0, score: sigmoid(2.0) };
        assert!((b[0].x - want.x).abs() < 1e-6 && (b[0].y - want.y).abs() < 1e-6);
        assert!((b[0].width - want.width).abs() < 1e-6 && (b[0].height - want.height).abs() < 1e-6);
        assert!(decode_boxes(&out, &anchors, 0.9).is_empty());
    }

    #[test]
    fn suppression_keeps_the_best_of_overlapping_boxes() {
        let b = |x: f32, score: f32| FaceBox { x, y: 0.0, width: 10.0, height: 10.0, score };
        // 0 and 1 overlap by 9/11 (IoU 0.82); 2 is apart.
        let kept = non_max_suppression(vec![b(0.0, 0.7), b(1.0, 0.9), b(50.0, 0.6)], 0.4);
        assert_eq!(kept, vec![b(1.0, 0.9), b(50.0, 0.6)]);
        assert!((b(0.0, 1.0).iou(&b(5.0, 1.0)) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(b(0.0, 1.0).iou(&b(20.0, 1.0)), 0.0);
    }
}
