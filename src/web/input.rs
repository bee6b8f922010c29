//! What JavaScript hands us, turned into pixels, strokes or an embedding.
//!
//! Images: `ImageData` and `{width, height, data}` RGBA objects are read directly; every
//! other drawable (canvas, `OffscreenCanvas`, `<img>`, `ImageBitmap`, `<video>`) is drawn
//! once onto an `OffscreenCanvas` and read back, which works the same in a page and in a
//! worker. Strokes: `[[{x, y, t?, p?}, ...], ...]`.

use super::errors::{describe, err};
use crate::error::{ErrorCode, Result};
use crate::input::strokes::Strokes;
use js_sys::{Array, Float32Array, Function, Reflect, Uint8Array, Uint8ClampedArray};
use wasm_bindgen::{JsCast, JsValue};

/// One enrolment or query sample.
pub enum Sample {
    Pixels {
        width: usize,
        height: usize,
        rgba: Vec<u8>,
    },
    Strokes(Strokes),
    /// A ready embedding (a `Float32Array` of the model's dimension).
    Embedding(Vec<f32>),
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn size_of(v: &JsValue, key: &str) -> Option<f64> {
    get(v, key).as_f64()
}

/// A dimension as a pixel count: a non-negative integer.
fn pixels(x: f64, what: &str) -> Result<usize> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64 {
        Ok(x as usize)
    } else {
        Err(err(
            ErrorCode::BadInput,
            format!("image {what} must be a whole number of pixels (got {x})"),
        ))
    }
}

/// Reads an image input as RGBA.
pub fn read_image(v: &JsValue) -> Result<(usize, usize, Vec<u8>)> {
    if v.is_null() || v.is_undefined() || !v.is_object() {
        return Err(err(ErrorCode::BadInput, "expected an image (ImageData, canvas, OffscreenCanvas, <img>, ImageBitmap or {width, height, data})"));
    }
    let data = get(v, "data");
    if !data.is_undefined() {
        let (w, h) = match (size_of(v, "width"), size_of(v, "height")) {
            (Some(w), Some(h)) => (pixels(w, "width")?, pixels(h, "height")?),
            _ => {
                return Err(err(
                    ErrorCode::BadInput,
                    "an RGBA input needs numeric width and height",
                ))
            }
        };
        if w == 0 || h == 0 {
            return Err(err(ErrorCode::EmptyImage, format!("image is {w}x{h}")));
        }
        let rgba = if let Some(a) = data.dyn_ref::<Uint8ClampedArray>() {
            a.to_vec()
        } else if let Some(a) = data.dyn_ref::<Uint8Array>() {
            a.to_vec()
        } else if Array::is_array(&data) {
            let a: &Array = data.unchecked_ref();
            let mut out = Vec::with_capacity(a.length() as usize);
            for x in a.iter() {
                match x.as_f64() {
                    Some(x) if x.is_finite() => out.push(x.clamp(0.0, 255.0).round() as u8),
                    Some(_) => {
                        return Err(err(
                            ErrorCode::NotFinite,
                            "pixel data has NaN or infinite values",
                        ))
                    }
                    None => return Err(err(ErrorCode::BadInput, "pixel data must be numbers")),
                }
            }
            out
        } else {
            return Err(err(
                ErrorCode::BadInput,
                "data must be a Uint8ClampedArray, Uint8Array or array of RGBA bytes",
            ));
        };
        if rgba.len() != w * h * 4 {
            return Err(err(
                ErrorCode::BadShape,
                format!("{} bytes for a {w}x{h} RGBA image (expected {})", rgba.len(), w * h * 4),
            ));
        }
        return Ok((w, h, rgba));
    }
    draw_and_read(v)
}

/// Draws any `CanvasImageSource` onto an `OffscreenCanvas` and reads its pixels.
fn draw_and_read(src: &JsValue) -> Result<(usize, usize, Vec<u8>)> {
    // Intrinsic size first: an <img>'s or <video>'s `width` is its layout size.
    let dims = |wk: &str, hk: &str| Some((size_of(src, wk)?, size_of(src, hk)?));
    let (w, h) = dims("naturalWidth", "naturalHeight")
        .or_else(|| dims("videoWidth", "videoHeight"))
        .or_else(|| dims("width", "height"))
        .ok_or_else(|| err(ErrorCode::BadInput, "not an image: expected ImageData, a canvas, OffscreenCanvas, <img>, ImageBitmap or {width, height, data}"))?;
    let (w, h) = (pixels(w, "width")?, pixels(h, "height")?);
    if w == 0 || h == 0 {
        let hint = if get(src, "complete").as_bool() == Some(false) {
            " (the image has not loaded yet: await img.decode() first)"
        } else {
            ""
        };
        return Err(err(ErrorCode::EmptyImage, format!("image is {w}x{h}{hint}")));
    }
    let canvas = web_sys::OffscreenCanvas::new(w as u32, h as u32)
        .map_err(|e| err(ErrorCode::BadInput, format!("this environment cannot draw images (no OffscreenCanvas): pass {{width, height, data}} RGBA instead ({})", describe(&e))))?;
    let ctx: web_sys::OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into().ok())
        .ok_or_else(|| err(ErrorCode::BadInput, "cannot get a 2D context to read the image"))?;
    let draw: Function = get(ctx.as_ref(), "drawImage").unchecked_into();
    draw.call3(ctx.as_ref(), src, &0.into(), &0.into()).map_err(|e| {
        err(ErrorCode::BadInput, format!("cannot draw this input as an image: {}", describe(&e)))
    })?;
    let data = ctx.get_image_data(0.0, 0.0, w as f64, h as f64).map_err(|e| {
        err(
            ErrorCode::BadInput,
            format!("cannot read the image's pixels (a cross-origin image?): {}", describe(&e)),
        )
    })?;
    Ok((w, h, data.data().0))
}

/// Reads pen strokes: `[[{x, y, t?, p?}, ...], ...]`.
pub fn read_strokes(v: &JsValue) -> Result<Strokes> {
    if !Array::is_array(v) {
        return Err(err(
            ErrorCode::BadInput,
            "strokes must be an array of strokes, each an array of {x, y, t?, p?} points",
        ));
    }
    serde_wasm_bindgen::from_value(v.clone()).map_err(|e| {
        err(ErrorCode::BadInput, format!("strokes must be [[{{x, y, t?, p?}}, ...], ...]: {e}"))
    })
}

/// Reads an embedding given as a `Float32Array` or an array of numbers.
pub fn read_embedding(v: &JsValue, dim: usize) -> Result<Vec<f32>> {
    let e = if let Some(a) = v.dyn_ref::<Float32Array>() {
        a.to_vec()
    } else if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        a.iter()
            .map(|x| {
                x.as_f64()
                    .map(|x| x as f32)
                    .ok_or_else(|| err(ErrorCode::BadInput, "an embedding must hold numbers"))
            })
            .collect::<Result<_>>()?
    } else {
        return Err(err(
            ErrorCode::BadInput,
            "an embedding must be a Float32Array or an array of numbers",
        ));
    };
    if e.len() != dim {
        return Err(err(
            ErrorCode::BadShape,
            format!("an embedding of {} values; the model's have {dim}", e.len()),
        ));
    }
    if e.iter().any(|x| !x.is_finite()) {
        return Err(err(ErrorCode::NotFinite, "the embedding has NaN or infinite values"));
    }
    Ok(e)
}

/// Any sample: a `Float32Array` is an embedding, an array is strokes, anything else an image.
pub fn read_sample(v: &JsValue, dim: usize) -> Result<Sample> {
    if v.is_instance_of::<Float32Array>() {
        Ok(Sample::Embedding(read_embedding(v, dim)?))
    } else if Array::is_array(v) {
        Ok(Sample::Strokes(read_strokes(v)?))
    } else {
        let (width, height, rgba) = read_image(v)?;
        Ok(Sample::Pixels { width, height, rgba })
    }
}
