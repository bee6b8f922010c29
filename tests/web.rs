//! In-browser tests (headless Chromium via wasm-bindgen-test and chromedriver): the wasm
//! build against the native reference, the IndexedDB store's persistence and sharing, the
//! error codes of bad input (and that a failure changes nothing), and export/import.
#![cfg(target_arch = "wasm32")]

mod common;
use common::*;
use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array};
use siamese_wasm::web::{similarity, Verifier};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SIGNATURE: &[u8] = include_bytes!("../models/signature.onnx");
const FACE: &[u8] = include_bytes!("../models/face.onnx");
const REFERENCE: &str = include_str!("fixtures/reference-embeddings.json");

#[wasm_bindgen(inline_js = r#"
export function rgba(w, h, bytes) { return new ImageData(new Uint8ClampedArray(bytes), w, h); }
export function canvasOf(imageData, offscreen) {
  const c = offscreen ? new OffscreenCanvas(imageData.width, imageData.height) : document.createElement('canvas');
  c.width = imageData.width; c.height = imageData.height;
  c.getContext('2d').putImageData(imageData, 0, 0);
  return c;
}
export function blankCanvas(w, h) {
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, w, h); return c;
}
export function jsonRoundTrip(v) { return JSON.parse(JSON.stringify(v)); }
export function stringify(v) { return JSON.stringify(v); }
export function uniqueName(p) { return p + '-' + Math.random().toString(36).slice(2); }
"#)]
extern "C" {
    fn rgba(w: u32, h: u32, bytes: &[u8]) -> JsValue;
    #[wasm_bindgen(js_name = canvasOf)]
    fn canvas_of(image_data: &JsValue, offscreen: bool) -> JsValue;
    #[wasm_bindgen(js_name = blankCanvas)]
    fn blank_canvas(w: u32, h: u32) -> JsValue;
    #[wasm_bindgen(js_name = jsonRoundTrip)]
    fn json_round_trip(v: &JsValue) -> JsValue;
    fn stringify(v: &JsValue) -> String;
    #[wasm_bindgen(js_name = uniqueName)]
    fn unique_name(prefix: &str) -> String;
}

fn options(db: &str) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"db".into(), &db.into()).unwrap();
    o.into()
}

async fn load(model: &[u8], db: &str) -> Verifier {
    Verifier::load(Uint8Array::from(model).into(), Some(options(db)))
        .await
        .unwrap_or_else(|e| panic!("load failed: {e:?}"))
}

async fn ok(p: js_sys::Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| panic!("rejected: {}", code_and_message(&e)))
}

fn code_and_message(e: &JsValue) -> String {
    format!(
        "{:?} {:?}",
        Reflect::get(e, &"code".into()).ok().and_then(|c| c.as_string()),
        Reflect::get(e, &"message".into()).ok().and_then(|c| c.as_string())
    )
}

/// The `code` a failed call carries.
fn code(e: JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
    Reflect::get(&e, &"code".into()).unwrap().as_string().expect("an error without a code")
}

async fn rejects(p: js_sys::Promise) -> String {
    code(JsFuture::from(p).await.expect_err("expected a rejection"))
}

fn strokes_js(s: &siamese_wasm::input::strokes::Strokes) -> JsValue {
    serde_wasm_bindgen::to_value(s).unwrap()
}

fn arr(items: Vec<JsValue>) -> JsValue {
    items.into_iter().collect::<Array>().into()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

async fn listing(v: &Verifier) -> String {
    stringify(&ok(v.list()).await)
}

#[wasm_bindgen_test]
async fn wasm_embeddings_equal_native_tract() {
    let r: Reference = serde_json::from_str(REFERENCE).unwrap();
    assert_eq!(
        r.signature_model,
        siamese_wasm::verify::export::fingerprint(SIGNATURE),
        "reference is stale: UPDATE_REFERENCE=1 cargo test --test reference"
    );
    let sig = load(SIGNATURE, &unique_name("ref")).await;
    let face = load(FACE, &unique_name("ref")).await;
    let img = rgba(SIG_W as u32, SIG_H as u32, &signature_rgba(SIG_W, SIG_H, 0.0));
    let e = sig.embed(img.clone()).unwrap().to_vec();
    assert!(
        max_diff(&e, &r.signature_image) <= 1e-5,
        "signature image: {}",
        max_diff(&e, &r.signature_image)
    );
    let e = sig.embed_strokes(strokes_js(&signature_strokes(0.0))).unwrap().to_vec();
    assert!(
        max_diff(&e, &r.signature_strokes) <= 1e-5,
        "strokes: {}",
        max_diff(&e, &r.signature_strokes)
    );
    let e = face
        .embed(rgba(FACE_W as u32, FACE_H as u32, &face_rgba(FACE_W, FACE_H, 0.3)))
        .unwrap()
        .to_vec();
    assert!(max_diff(&e, &r.face_image) <= 1e-5, "face: {}", max_diff(&e, &r.face_image));

    // Every image kind goes through the same pixels: canvas, OffscreenCanvas, plain object.
    let want = sig.embed(img.clone()).unwrap().to_vec();
    // embedInput takes the preprocessed tensor and runs the same network.
    let meta = siamese_wasm::runtime::encoder::read_metadata(SIGNATURE).unwrap().unwrap();
    let gray = siamese_wasm::input::preprocess::GrayImage::from_rgba(
        SIG_W,
        SIG_H,
        &signature_rgba(SIG_W, SIG_H, 0.0),
    )
    .unwrap();
    let x = siamese_wasm::input::preprocess::image_to_input(&gray, &meta.preprocess).unwrap();
    assert!(
        max_diff(&sig.embed_input(&Float32Array::from(x.as_slice())).unwrap().to_vec(), &want)
            < 1e-6
    );
    assert_eq!(code(sig.embed_input(&Float32Array::new_with_length(5)).unwrap_err()), "bad_shape");
    for input in [canvas_of(&img, false), canvas_of(&img, true)] {
        assert!(max_diff(&sig.embed(input).unwrap().to_vec(), &want) < 1e-6);
    }
    let plain = Object::new();
    Reflect::set(&plain, &"width".into(), &(SIG_W as u32).into()).unwrap();
    Reflect::set(&plain, &"height".into(), &(SIG_H as u32).into()).unwrap();
    Reflect::set(
        &plain,
        &"data".into(),
        &Uint8Array::from(signature_rgba(SIG_W, SIG_H, 0.0).as_slice()),
    )
    .unwrap();
    assert!(max_diff(&sig.embed(plain.into()).unwrap().to_vec(), &want) < 1e-6);
}

#[wasm_bindgen_test]
async fn the_fingerprint_is_the_model_s_sha256_with_and_without_web_crypto() {
    // The test page is served from localhost, a secure context, so a load hashes the model
    // with the engine's crypto.subtle; with `crypto` hidden it falls back to our own SHA-256.
    let global = js_sys::global();
    let subtle =
        Reflect::get(&Reflect::get(&global, &"crypto".into()).unwrap(), &"subtle".into()).unwrap();
    assert!(
        subtle.is_object(),
        "no crypto.subtle on this page: the engine's digest would go untested"
    );
    for model in [SIGNATURE, FACE] {
        let want = siamese_wasm::verify::export::fingerprint(model);
        assert_eq!(load(model, &unique_name("fp")).await.fingerprint(), want);
        let own = Reflect::get_own_property_descriptor(
            global.unchecked_ref::<Object>(),
            &"crypto".into(),
        )
        .unwrap();
        let hidden = Object::new();
        Reflect::set(&hidden, &"value".into(), &JsValue::UNDEFINED).unwrap();
        Reflect::set(&hidden, &"configurable".into(), &true.into()).unwrap();
        Reflect::define_property(global.unchecked_ref::<Object>(), &"crypto".into(), &hidden)
            .unwrap();
        assert!(Reflect::get(&global, &"crypto".into()).unwrap().is_undefined());
        let without = load(model, &unique_name("fp")).await.fingerprint();
        match own.is_undefined() {
            true => Reflect::delete_property(global.unchecked_ref::<Object>(), &"crypto".into())
                .unwrap(),
            false => Reflect::define_property(
                global.unchecked_ref::<Object>(),
                &"crypto".into(),
                own.unchecked_ref(),
            )
            .unwrap(),
        };
        assert!(Reflect::get(&global, &"crypto".into()).unwrap().is_object(), "crypto restored");
        assert_eq!(without, want);
    }
}

#[wasm_bindgen_test]
async fn enrolments_persist_across_instances() {
    let db = unique_name("persist");
    let v = load(SIGNATURE, &db).await;
    let samples = arr((0..3).map(|k| strokes_js(&signature_strokes(k as f32 * 0.15))).collect());
    ok(v.enroll("ann".into(), samples, None)).await;
    drop(v); // closes the database; the next load reads it back from IndexedDB
    let v = load(SIGNATURE, &db).await;
    assert_eq!(listing(&v).await, r#"[{"id":"ann","samples":3}]"#);
    let same = ok(v.verify("ann".into(), strokes_js(&signature_strokes(0.07)))).await;
    let other = ok(v.verify("ann".into(), strokes_js(&other_strokes()))).await;
    let score = |r: &JsValue| Reflect::get(r, &"score".into()).unwrap().as_f64().unwrap();
    let is_match = |r: &JsValue| Reflect::get(r, &"match".into()).unwrap().as_bool().unwrap();
    assert!(is_match(&same), "same drawing should match: {}", stringify(&same));
    assert!(!is_match(&other), "a different drawing should not: {}", stringify(&other));
    assert!(score(&same) > score(&other));
    let hits = ok(v.identify(strokes_js(&signature_strokes(0.07)), Some(3))).await;
    assert_eq!(
        Reflect::get(&Array::from(&hits).get(0), &"id".into()).unwrap().as_string().unwrap(),
        "ann"
    );
}

#[wasm_bindgen_test]
async fn two_instances_share_one_database() {
    let db = unique_name("shared");
    let a = load(SIGNATURE, &db).await;
    let b = load(SIGNATURE, &db).await;
    ok(a.enroll("bo".into(), arr(vec![strokes_js(&signature_strokes(0.0))]), None)).await;
    assert_eq!(listing(&b).await, r#"[{"id":"bo","samples":1}]"#);
    ok(b.remove("bo".into())).await;
    assert_eq!(listing(&a).await, "[]");
    ok(b.enroll("cy".into(), arr(vec![strokes_js(&other_strokes())]), None)).await;
    drop((a, b));
    assert_eq!(listing(&load(SIGNATURE, &db).await).await, r#"[{"id":"cy","samples":1}]"#);
}

#[wasm_bindgen_test]
async fn bad_input_gets_its_code_and_changes_nothing() {
    let db = unique_name("bad");
    let v = load(SIGNATURE, &db).await;
    ok(v.enroll("ann".into(), arr(vec![strokes_js(&signature_strokes(0.0))]), None)).await;
    let before = listing(&v).await;
    let exported = stringify(&ok(v.export_gallery()).await);

    // Models: truncated, empty, not ONNX.
    for bytes in [&SIGNATURE[..SIGNATURE.len() / 2], &[][..], b"not a model at all"] {
        let e = Verifier::load(Uint8Array::from(bytes).into(), Some(options(&db)))
            .await
            .err()
            .expect("a bad model must not load");
        assert_eq!(code(e), "bad_model");
    }
    // Images: wrong size for the data, zero size, blank, NaN pixels; not an image at all.
    let short = Object::new();
    Reflect::set(&short, &"width".into(), &10.into()).unwrap();
    Reflect::set(&short, &"height".into(), &10.into()).unwrap();
    Reflect::set(&short, &"data".into(), &Uint8Array::new_with_length(40)).unwrap();
    assert_eq!(code(v.embed(short.clone().into()).unwrap_err()), "bad_shape");
    assert_eq!(code(v.embed(blank_canvas(0, 10)).unwrap_err()), "empty_image");
    assert_eq!(code(v.embed(blank_canvas(200, 80)).unwrap_err()), "no_ink");
    let nan = Array::new();
    for _ in 0..400 {
        nan.push(&f64::NAN.into());
    }
    Reflect::set(&short, &"data".into(), &nan).unwrap();
    assert_eq!(code(v.embed(short.into()).unwrap_err()), "not_finite");
    assert_eq!(code(v.embed(JsValue::from(42)).unwrap_err()), "bad_input");
    // Strokes: none, empty, NaN, malformed.
    assert_eq!(code(v.embed_strokes(arr(vec![])).unwrap_err()), "no_ink");
    assert_eq!(code(v.embed_strokes(arr(vec![arr(vec![])])).unwrap_err()), "no_ink");
    let p = Object::new();
    Reflect::set(&p, &"x".into(), &f64::NAN.into()).unwrap();
    Reflect::set(&p, &"y".into(), &1.into()).unwrap();
    assert_eq!(code(v.embed_strokes(arr(vec![arr(vec![p.into()])])).unwrap_err()), "not_finite");
    assert_eq!(code(v.embed_strokes(arr(vec![JsValue::from("x")])).unwrap_err()), "bad_input");
    // Embeddings: NaN, wrong length.
    let mut e = vec![0.1f32; 128];
    e[3] = f32::NAN;
    assert_eq!(
        code(
            v.similarity(
                &Float32Array::from(e.as_slice()).into(),
                &Float32Array::from(e.as_slice()).into()
            )
            .unwrap_err()
        ),
        "not_finite"
    );
    assert_eq!(
        code(
            v.similarity(
                &Float32Array::new_with_length(3).into(),
                &Float32Array::new_with_length(3).into()
            )
            .unwrap_err()
        ),
        "bad_shape"
    );

    // The gallery: a blank drawing among good ones enrols nothing; unknown and duplicate ids.
    let blank_enrol = arr(vec![strokes_js(&signature_strokes(0.0)), blank_canvas(100, 50)]);
    assert_eq!(rejects(v.enroll("new".into(), blank_enrol, None)).await, "no_ink");
    assert_eq!(rejects(v.enroll("new".into(), arr(vec![]), None)).await, "bad_input");
    assert_eq!(
        rejects(v.enroll("".into(), arr(vec![strokes_js(&other_strokes())]), None)).await,
        "bad_input"
    );
    assert_eq!(
        rejects(v.verify("nobody".into(), strokes_js(&other_strokes()))).await,
        "unknown_id"
    );
    assert_eq!(rejects(v.remove("nobody".into())).await, "unknown_id");
    assert_eq!(
        rejects(v.enroll("ann".into(), arr(vec![strokes_js(&other_strokes())]), None)).await,
        "duplicate_id"
    );

    // Imports: malformed, wrong format, a bad embedding inside, another model's, a duplicate.
    let good: JsValue = json_round_trip(&ok(v.export_gallery()).await);
    assert_eq!(rejects(v.import_gallery("{not json".into(), None)).await, "bad_import");
    assert_eq!(rejects(v.import_gallery(Object::new().into(), None)).await, "bad_import");
    let broken = json_round_trip(&good);
    let ids: Array = Reflect::get(&broken, &"identities".into()).unwrap().unchecked_into();
    let first = ids.get(0);
    Reflect::set(&first, &"id".into(), &"zed".into()).unwrap();
    let samples: Array = Reflect::get(&first, &"samples".into()).unwrap().unchecked_into();
    samples.get(0).unchecked_into::<Array>().pop();
    assert_eq!(rejects(v.import_gallery(broken, None)).await, "bad_import");
    assert_eq!(rejects(v.import_gallery(good.clone(), None)).await, "duplicate_id");
    let face = load(FACE, &unique_name("face")).await;
    assert_eq!(rejects(face.import_gallery(good, None)).await, "model_mismatch");
    // Another model on this database: refused, and the enrolments are kept.
    let e = Verifier::load(Uint8Array::from(FACE).into(), Some(options(&db)))
        .await
        .err()
        .expect("a database is tied to its model");
    assert_eq!(code(e), "model_mismatch");

    assert_eq!(listing(&v).await, before, "failed calls changed the gallery");
    assert_eq!(stringify(&ok(v.export_gallery()).await), exported);
    drop(v);
    let again = load(SIGNATURE, &db).await;
    assert_eq!(listing(&again).await, before, "failed calls changed the database");
}

#[wasm_bindgen_test]
async fn export_then_import_round_trips_exactly() {
    let a = load(SIGNATURE, &unique_name("export")).await;
    ok(a.enroll(
        "ann".into(),
        arr((0..3).map(|k| strokes_js(&signature_strokes(k as f32 * 0.2))).collect()),
        None,
    ))
    .await;
    ok(a.enroll(
        "bo".into(),
        arr(vec![
            strokes_js(&other_strokes()),
            rgba(SIG_W as u32, SIG_H as u32, &signature_rgba(SIG_W, SIG_H, 0.5)),
        ]),
        None,
    ))
    .await;
    let exported = ok(a.export_gallery()).await;
    // Through JSON text, as a file would carry it.
    let text = stringify(&exported);
    let db = unique_name("import");
    let b = load(SIGNATURE, &db).await;
    let n = ok(b.import_gallery(text.clone().into(), None)).await;
    assert_eq!(Reflect::get(&n, &"imported".into()).unwrap().as_f64(), Some(2.0));
    assert_eq!(stringify(&ok(b.export_gallery()).await), text);
    drop(b);
    let b = load(SIGNATURE, &db).await;
    assert_eq!(
        stringify(&ok(b.export_gallery()).await),
        text,
        "the import did not persist exactly"
    );
    // Same scores from both.
    let q = strokes_js(&signature_strokes(0.1));
    let (sa, sb) =
        (ok(a.verify("ann".into(), q.clone())).await, ok(b.verify("ann".into(), q)).await);
    assert_eq!(stringify(&sa), stringify(&sb));
}

/// The same drawing written backwards: each stroke's points in reverse order, with times
/// that still run forwards. It looks the same; the pen moved the other way.
fn written_backwards(
    s: &siamese_wasm::input::strokes::Strokes,
) -> siamese_wasm::input::strokes::Strokes {
    s.iter()
        .rev()
        .map(|stroke| {
            let times: Vec<Option<f64>> = stroke.iter().map(|p| p.t).collect();
            stroke
                .iter()
                .rev()
                .zip(times)
                .map(|(p, t)| siamese_wasm::input::strokes::Point { t, ..*p })
                .collect()
        })
        .collect()
}

#[wasm_bindgen_test]
async fn online_signatures_are_checked_for_how_they_were_written() {
    let db = unique_name("motion");
    let v = load(SIGNATURE, &db).await;
    ok(v.enroll(
        "ann".into(),
        arr((0..3).map(|k| strokes_js(&signature_strokes(k as f32 * 0.15))).collect()),
        None,
    ))
    .await;
    let field = |r: &JsValue, path: &[&str]| {
        path.iter().fold(r.clone(), |o, k| Reflect::get(&o, &(*k).into()).unwrap())
    };
    let genuine = ok(v.verify("ann".into(), strokes_js(&signature_strokes(0.07)))).await;
    let forged = written_backwards(&signature_strokes(0.07));
    let copy = ok(v.verify("ann".into(), strokes_js(&forged))).await;
    let (g, c) = (stringify(&genuine), stringify(&copy));
    // Both look like ann's signature...
    assert!(field(&copy, &["score"]).as_f64().unwrap() >= v.threshold() as f64, "{c}");
    // ...but only the genuine one moves like it.
    assert_eq!(field(&genuine, &["motion", "match"]).as_bool(), Some(true), "{g}");
    assert_eq!(field(&genuine, &["match"]).as_bool(), Some(true), "{g}");
    assert_eq!(field(&copy, &["motion", "match"]).as_bool(), Some(false), "{c}");
    assert_eq!(field(&copy, &["match"]).as_bool(), Some(false), "{c}");
    assert!(
        field(&copy, &["motion", "distance"]).as_f64()
            > field(&genuine, &["motion", "distance"]).as_f64()
    );
    // The motion is stored: a new instance on the same database decides the same.
    drop(v);
    let v = load(SIGNATURE, &db).await;
    assert_eq!(stringify(&ok(v.verify("ann".into(), strokes_js(&forged))).await), c);
    // An image query, or an identity enrolled from images, has no motion to compare.
    let img = rgba(SIG_W as u32, SIG_H as u32, &signature_rgba(SIG_W, SIG_H, 0.07));
    assert!(field(&ok(v.verify("ann".into(), img.clone())).await, &["motion"]).is_undefined());
    ok(v.enroll("bo".into(), arr(vec![img]), None)).await;
    assert!(
        field(&ok(v.verify("bo".into(), strokes_js(&forged))).await, &["motion"]).is_undefined()
    );
    // The motion threshold is the application's to move, within reason.
    assert_eq!(code(v.set_motion_threshold(-1.0).unwrap_err()), "bad_options");
    assert_eq!(code(v.set_motion_threshold(f32::NAN).unwrap_err()), "bad_options");
    v.set_motion_threshold(1e6).unwrap();
    assert_eq!(
        field(&ok(v.verify("ann".into(), strokes_js(&forged))).await, &["match"]).as_bool(),
        Some(true)
    );
    // A pen that never moves has no trajectory: such a drawing cannot be enrolled as an
    // online signature, and nothing is enrolled.
    let still = signature_strokes(0.0)[0][0];
    let blip = vec![(0..10)
        .map(|k| siamese_wasm::input::strokes::Point { t: Some(k as f64 * 10.0), ..still })
        .collect::<Vec<_>>()];
    assert_eq!(rejects(v.enroll("cy".into(), arr(vec![strokes_js(&blip)]), None)).await, "no_ink");
    assert_eq!(listing(&v).await, r#"[{"id":"ann","samples":3},{"id":"bo","samples":1}]"#);
}

#[wasm_bindgen_test]
fn similarity_and_calibration() {
    let a = Float32Array::from(&[1.0f32, 0.0][..]);
    let b = Float32Array::from(&[0.6f32, 0.8][..]);
    assert!((similarity(&a.clone().into(), &b.clone().into(), None).unwrap() - 0.6).abs() < 1e-6);
    let d = similarity(&a.into(), &b.into(), Some("euclidean".into())).unwrap();
    assert!((d + (0.16f32 + 0.64).sqrt()).abs() < 1e-6);
    let g: JsValue = arr([0.9, 0.8, 0.7, 0.4].iter().map(|&x| JsValue::from(x)).collect());
    let i: JsValue = arr([0.1, 0.2, 0.3, 0.75].iter().map(|&x| JsValue::from(x)).collect());
    let c = siamese_wasm::web::calibrate(&g, &i, None).unwrap();
    assert!(
        (Reflect::get(&c, &"eer".into()).unwrap().as_f64().unwrap() - 0.25).abs() < 1e-9,
        "{}",
        stringify(&c)
    );
    let o = Object::new();
    Reflect::set(&o, &"targetFar".into(), &0.0.into()).unwrap();
    let c = siamese_wasm::web::calibrate(&g, &i, Some(o.into())).unwrap();
    assert_eq!(Reflect::get(&c, &"far".into()).unwrap().as_f64(), Some(0.0));
    assert!(Reflect::get(&c, &"threshold".into()).unwrap().as_f64().unwrap() > 0.75);
}

/// The simd128 int8 kernel and the gallery's int8 pass run in wasm exactly as natively:
/// search equals a brute-force f32 ranking, scores included, on a crowded 128-d gallery.
#[wasm_bindgen_test]
fn gallery_search_in_wasm_is_exact() {
    use siamese_wasm::verify::gallery::Gallery;
    use siamese_wasm::verify::metrics::{dot, dot_i8, l2_normalize, Metric};
    for n in [0usize, 15, 16, 17, 128, 131] {
        let a: Vec<i8> = (0..n).map(|i| (((i * 37) % 255) as i32 - 127) as i8).collect();
        let b: Vec<i8> = (0..n).map(|i| (127 - ((i * 91) % 255) as i32) as i8).collect();
        assert_eq!(
            dot_i8(&a, &b),
            a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum::<i32>(),
            "n={n}"
        );
    }
    let mut s = 99u32;
    let mut next = move || {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let base: Vec<f32> = (0..128).map(|_| next()).collect();
    let unit = |mut v: Vec<f32>| {
        l2_normalize(&mut v);
        v
    };
    let mut g = Gallery::new(128, Metric::Cosine);
    for i in 0..2000 {
        g.insert(
            &format!("id{i}"),
            vec![unit(base.iter().map(|b| b + 0.05 * next()).collect())],
            false,
        )
        .unwrap();
    }
    let q = unit(base.iter().map(|b| b + 0.05 * next()).collect());
    let mut want: Vec<(String, f32)> =
        g.ids().iter().map(|id| (id.clone(), dot(&q, g.template(id).unwrap()))).collect();
    want.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    want.truncate(5);
    let got: Vec<(String, f32)> =
        g.search(&q, 5).unwrap().into_iter().map(|m| (m.id, m.score)).collect();
    assert_eq!(got, want);
}

/// A 3x3 convolution with bias and ReLU (`ci` -> `co` channels over `h` x `w`, padding `pad`
/// on every side, stride `stride`) run by tract against plain sums of products: the largest
/// difference, and the names of the plan's ops. The plan is tract's own, or with `ours` the one
/// the library builds (`encoder::runnable`).
#[allow(clippy::too_many_arguments)]
fn conv_relu_against_plain_sums(
    ci: usize,
    co: usize,
    h: usize,
    w: usize,
    pad: usize,
    stride: usize,
    ours: bool,
    next: &mut impl FnMut() -> f32,
) -> (f64, Vec<String>) {
    use prost::Message;
    use siamese_wasm::runtime::onnx as pb;
    use siamese_wasm::runtime::onnx::{attr_ints, f32_tensor, node, onnx_model, value_info};
    use tract_onnx::prelude::*;
    let x: Vec<f32> = (0..ci * h * w).map(|_| next()).collect();
    let wt: Vec<f32> = (0..co * ci * 9).map(|_| next()).collect();
    let b: Vec<f32> = (0..co).map(|_| next()).collect();
    let attribute = vec![
        attr_ints("kernel_shape", &[3, 3]),
        attr_ints("pads", &[pad as i64; 4]),
        attr_ints("strides", &[stride as i64; 2]),
    ];
    let conv = node("Conv", "", &["x", "w", "b"], &["c"], attribute);
    let relu = node("Relu", "", &["c"], &["y"], vec![]);
    let graph = pb::GraphProto {
        node: vec![conv, relu],
        initializer: vec![f32_tensor("w", &[co, ci, 3, 3], &wt), f32_tensor("b", &[co], &b)],
        input: vec![value_info("x", &[Some(1), Some(ci), Some(h), Some(w)])],
        output: vec![value_info("y", &[])],
        ..Default::default()
    };
    let proto = onnx_model(graph);
    let plan = if ours {
        siamese_wasm::runtime::encoder::runnable(proto, [1, ci, h, w], "test").unwrap()
    } else {
        tract_onnx::onnx()
            .model_for_read(&mut &proto.encode_to_vec()[..])
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap()
    };
    let ops = plan.model().nodes.iter().map(|n| n.op.name().to_string()).collect();
    let input =
        tract_ndarray::Array4::from_shape_vec((1, ci, h, w), x.clone()).unwrap().into_tensor();
    let out = plan.run(tvec!(input.into())).unwrap();
    let got = out[0].to_plain_array_view::<f32>().unwrap();
    let (oh, ow) = ((h + 2 * pad - 3) / stride + 1, (w + 2 * pad - 3) / stride + 1);
    assert_eq!(got.shape(), [1, co, oh, ow]);
    let mut worst = 0f64;
    for o in 0..co {
        for y in 0..oh {
            for xx in 0..ow {
                let mut sum = b[o] as f64;
                for c in 0..ci {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = (
                                (y * stride + ky) as isize - pad as isize,
                                (xx * stride + kx) as isize - pad as isize,
                            );
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                sum += wt[((o * ci + c) * 3 + ky) * 3 + kx] as f64
                                    * x[(c * h + iy as usize) * w + ix as usize] as f64;
                            }
                        }
                    }
                }
                worst = worst.max((got[[0, o, y, xx]] as f64 - sum.max(0.0)).abs());
            }
        }
    }
    (worst, ops)
}

/// A seeded generator of values in [-0.5, 0.5).
fn uniform(seed: u32) -> impl FnMut() -> f32 {
    let mut s = seed;
    move || {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    }
}

/// `proto` (one f32 input of `shape`) run on `x` by our plan and by tract-onnx's optimised
/// plan: our plan, its output, and tract-onnx's output.
fn ours_and_tract_onnx_s(
    proto: siamese_wasm::runtime::onnx::ModelProto,
    shape: [usize; 4],
    x: &[f32],
) -> (std::sync::Arc<tract_onnx::prelude::TypedRunnableModel>, Vec<f32>, Vec<f32>) {
    use prost::Message;
    use tract_onnx::prelude::*;
    let run = |plan: &std::sync::Arc<TypedRunnableModel>| {
        let input = tract_ndarray::Array4::from_shape_vec(
            (shape[0], shape[1], shape[2], shape[3]),
            x.to_vec(),
        )
        .unwrap()
        .into_tensor();
        plan.run(tvec!(input.into())).unwrap()[0]
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<f32>>()
    };
    let theirs = tract_onnx::onnx()
        .model_for_read(&mut &proto.encode_to_vec()[..])
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let ours = siamese_wasm::runtime::encoder::runnable(proto, shape, "test").unwrap();
    let (got, want) = (run(&ours), run(&theirs));
    (ours, got, want)
}

/// tract's f32 convolutions run on our wasm kernel (src/runtime/kernels/gemm.rs): dispatch names it, and
/// convolutions with bias and ReLU fused equal plain sums of products, at sizes that fill no
/// tile exactly (border tiles on both sides), through eager and lazy im2col.
#[wasm_bindgen_test]
fn convolutions_on_our_kernel_equal_plain_sums() {
    use tract_onnx::prelude::*;
    siamese_wasm::web::init();
    let picked = tract_linalg::MmmDispatch::native()
        .preferred_kernel(DatumType::F32, Some(32), Some(144), Some(2048))
        .unwrap();
    assert_eq!(picked.name(), siamese_wasm::runtime::kernels::gemm::KERNEL_NAME);
    let mut next = uniform(7);
    // (input channels, output channels, height, width, padding). The last one's im2col
    // buffer (144 x 2048 floats) is over tract's eager limit in wasm, so it gathers lazily.
    for (ci, co, h, w, pad) in
        [(3, 6, 13, 11, 1), (16, 20, 9, 7, 0), (1, 16, 31, 67, 1), (16, 32, 32, 64, 1)]
    {
        let (worst, ops) = conv_relu_against_plain_sums(ci, co, h, w, pad, 1, false, &mut next);
        assert!(ops.iter().any(|o| o == "OptMatMul"), "{ops:?}");
        assert!(worst < 1e-5, "{ci}->{co} channels at {h}x{w}: off by {worst}");
    }
}

/// tract runs convolutions with output rows of 128 points or more directly, on our wasm
/// four-channel kernel (src/runtime/kernels/conv.rs): tract's routine table picks it, such convolutions
/// become `DirectSpatialConv` and equal plain sums (the signature network's first convolution,
/// odd widths with points left over, several input channels, no padding, stride 2); the
/// library's plans run one-channel convolutions directly at any width (the face network's
/// first convolution, and narrower) and only those; and the kernel itself equals plain sums
/// for every run length up to 21, contiguous and strided.
#[wasm_bindgen_test]
fn direct_convolutions_on_our_kernel_equal_plain_sums() {
    use siamese_wasm::runtime::kernels::conv::{conv_w4_f32, KERNEL_NAME};
    use tract_linalg::routines::{best_for, Func};
    use tract_onnx::prelude::*;
    siamese_wasm::web::init();
    let picked = best_for(Func::ConvW4, DatumType::F32, &tract_linalg::isa::native())
        .expect("a conv_w4 kernel");
    assert_eq!(picked.name(), KERNEL_NAME);
    let mut next = uniform(11);
    for (ci, co, h, w, pad, stride) in
        [(1, 16, 64, 128, 1, 1), (3, 8, 9, 133, 1, 1), (2, 4, 5, 130, 0, 1), (1, 4, 7, 261, 1, 2)]
    {
        let (worst, ops) =
            conv_relu_against_plain_sums(ci, co, h, w, pad, stride, false, &mut next);
        assert!(ops.iter().any(|o| o == "DirectSpatialConv"), "{ci}->{co} at {h}x{w}: {ops:?}");
        assert!(worst < 1e-5, "{ci}->{co} channels at {h}x{w}, stride {stride}: off by {worst}");
    }
    for (ci, co, h, w, direct) in
        [(1, 16, 64, 64, true), (1, 8, 13, 11, true), (16, 32, 32, 64, false)]
    {
        let (worst, ops) = conv_relu_against_plain_sums(ci, co, h, w, 1, 1, true, &mut next);
        assert_eq!(
            ops.iter().any(|o| o == "DirectSpatialConv"),
            direct,
            "{ci}->{co} at {h}x{w}: {ops:?}"
        );
        assert!(worst < 1e-5, "{ci}->{co} channels at {h}x{w} in our plan: off by {worst}");
    }

    let input: Vec<f32> = (0..200).map(|_| next()).collect();
    let offsets = [0isize, 1, 2, 30, 31, 32, 60, 61, 62];
    let taps: Vec<f32> = (0..4 * offsets.len()).map(|_| next()).collect();
    let bias = [0.1, -0.2, 0.3, -0.4];
    for in_stride in [1usize, 2] {
        for len in 0..=21 {
            let oc_stride = 24;
            let mut out = vec![f32::NAN; 4 * oc_stride];
            unsafe {
                conv_w4_f32(
                    input.as_ptr(),
                    out.as_mut_ptr(),
                    &taps,
                    &offsets,
                    &bias,
                    len,
                    in_stride as isize,
                    oc_stride as isize,
                )
            };
            for o in 0..4 {
                for i in 0..oc_stride {
                    let got = out[o * oc_stride + i];
                    if i >= len {
                        assert!(
                            got.is_nan(),
                            "stride {in_stride}, length {len}: wrote point {i} of channel {o}"
                        );
                        continue;
                    }
                    let want = offsets.iter().enumerate().fold(bias[o] as f64, |s, (t, &off)| {
                        s + taps[o * offsets.len() + t] as f64
                            * input[off as usize + i * in_stride] as f64
                    });
                    assert!((got as f64 - want).abs() < 1e-5, "stride {in_stride}, length {len}, channel {o}, point {i}: {got} against {want}");
                }
            }
        }
    }
}

/// Our 2x2 max pool (src/runtime/ops/max_pool.rs, simd128 in wasm) gives exactly tract's maxima, at widths
/// that leave outputs to the scalar tail, odd sizes, and the signature network's first pool.
#[wasm_bindgen_test]
fn our_max_pool_gives_tract_s_maxima() {
    use siamese_wasm::runtime::onnx as pb;
    use siamese_wasm::runtime::onnx::{attr_ints, node, onnx_model, value_info};
    siamese_wasm::web::init();
    let mut next = uniform(5);
    for shape in [[1usize, 2, 5, 7], [2, 3, 4, 19], [1, 1, 9, 2], [1, 16, 64, 128], [1, 3, 6, 30]] {
        let node = node(
            "MaxPool",
            "",
            &["x"],
            &["y"],
            vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
        );
        let dims: Vec<Option<usize>> = shape.iter().map(|&d| Some(d)).collect();
        let graph = pb::GraphProto {
            node: vec![node],
            input: vec![value_info("x", &dims)],
            output: vec![value_info("y", &[])],
            ..Default::default()
        };
        let proto = onnx_model(graph);
        let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| next()).collect();
        let (ours, got, want) = ours_and_tract_onnx_s(proto, shape, &x);
        assert!(ours.model().nodes.iter().any(|n| n.op.name() == "MaxPool2x2"), "{shape:?}");
        assert_eq!(want.len(), shape[0] * shape[1] * (shape[2] / 2) * (shape[3] / 2));
        assert_eq!(got, want, "{shape:?}");
    }
}

/// Our projection (src/runtime/ops/dense.rs, 32 outputs at a time with simd128 in wasm, the rest one at a
/// time) and L2 normalisation (src/runtime/ops/l2_norm.rs) compute what tract's operators compute, at
/// sizes that leave outputs to the tail, with several rows and without a bias.
#[wasm_bindgen_test]
fn our_projection_and_normalisation_compute_what_tract_computes() {
    use siamese_wasm::runtime::onnx as pb;
    use siamese_wasm::runtime::onnx::{attr_int, f32_tensor, node, onnx_model, value_info};
    siamese_wasm::web::init();
    let mut next = uniform(11);
    for (shape, n, bias) in
        [([1usize, 128, 4, 8], 128, true), ([3, 1, 5, 7], 45, true), ([2, 3, 2, 2], 33, false)]
    {
        let k = shape[1] * shape[2] * shape[3];
        let mut g = pb::GraphProto::default();
        g.input.push(value_info("x", &shape.map(Some)));
        g.output.push(value_info("y", &[]));
        g.node.push(node("Flatten", "", &["x"], &["f"], vec![]));
        g.initializer.push(f32_tensor(
            "w",
            &[k, n],
            &(0..k * n).map(|_| next()).collect::<Vec<_>>(),
        ));
        let mut inputs = vec!["f", "w"];
        if bias {
            g.initializer.push(f32_tensor("b", &[n], &(0..n).map(|_| next()).collect::<Vec<_>>()));
            inputs.push("b");
        }
        g.node.push(node("Gemm", "", &inputs, &["h"], vec![]));
        g.node.push(node(
            "LpNormalization",
            "",
            &["h"],
            &["y"],
            vec![attr_int("axis", 1), attr_int("p", 2)],
        ));
        let proto = onnx_model(g);
        let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| next()).collect();
        let (ours, got, want) = ours_and_tract_onnx_s(proto, shape, &x);
        let names: Vec<_> = ours.model().nodes.iter().map(|n| n.op.name().to_string()).collect();
        assert!(
            names.contains(&"Dense".to_string()) && names.contains(&"L2Normalize".to_string()),
            "{names:?}"
        );
        assert_eq!(want.len(), shape[0] * n);
        let worst = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-5, "{shape:?} -> {n}: off by {worst}");
    }
}

/// `warmUp` runs its built-in network in the browser and changes no later embedding.
#[wasm_bindgen_test]
async fn warm_up_runs_and_changes_no_embedding() {
    let x: Vec<f32> = (0..64 * 128).map(|i| ((i * 7919) % 100) as f32 / 100.0).collect();
    let before = load(SIGNATURE, &unique_name("warm-before"))
        .await
        .embed_input(&Float32Array::from(x.as_slice()))
        .unwrap()
        .to_vec();
    siamese_wasm::web::warm_up().unwrap();
    let after = load(SIGNATURE, &unique_name("warm-after"))
        .await
        .embed_input(&Float32Array::from(x.as_slice()))
        .unwrap()
        .to_vec();
    assert_eq!(before, after);
}

/// How many times this test binary's own static constructor has run.
static CONSTRUCTOR_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn count_constructor_run() {
    CONSTRUCTOR_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

// A static constructor like inventory's (tract's kernel registrations are such).
#[used]
#[link_section = ".init_array"]
static COUNT_CONSTRUCTOR_RUN: extern "C" fn() = count_constructor_run;

/// Static constructors run once per instance (`web::init`, which loading calls; this test
/// harness skips start functions), not at the start of every exported function, which cost
/// about 0.2 ms per call. Every test, and every promise callback below, enters the module
/// through an export.
#[wasm_bindgen_test]
async fn static_constructors_run_once() {
    let v = load(SIGNATURE, &unique_name("ctors")).await;
    assert_eq!(CONSTRUCTOR_RUNS.load(std::sync::atomic::Ordering::Relaxed), 1);
    for _ in 0..3 {
        ok(v.list()).await;
    }
    assert_eq!(CONSTRUCTOR_RUNS.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// In the browser, where our kernels, pools and direct stems run, the library's plan of each
/// shipped network (built by its own ONNX import, src/runtime/import.rs) computes what tract-onnx's
/// front end and tract's own optimisation compute, to 1e-5 of the largest output.
#[wasm_bindgen_test]
fn shipped_networks_compute_what_tract_onnx_computes() {
    use tract_onnx::prelude::*;
    siamese_wasm::web::init();
    let models: [(&str, &[u8], [usize; 4]); 5] = [
        ("signature", SIGNATURE, [1, 1, 64, 128]),
        ("face", FACE, [1, 1, 64, 64]),
        ("face recognition", include_bytes!("../models/face-recognition.onnx"), [1, 3, 150, 150]),
        ("face detector", include_bytes!("../models/face-detector.onnx"), [1, 3, 128, 128]),
        ("face landmarks", include_bytes!("../models/face-landmarks.onnx"), [1, 3, 112, 112]),
    ];
    let mut next = uniform(3);
    for (what, bytes, shape) in models {
        let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| next()).collect();
        let run = |plan: &std::sync::Arc<TypedRunnableModel>| {
            let input = tract_ndarray::Array4::from_shape_vec(
                (shape[0], shape[1], shape[2], shape[3]),
                x.clone(),
            )
            .unwrap()
            .into_tensor();
            plan.run(tvec!(input.into())).unwrap()[0]
                .to_plain_array_view::<f32>()
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<f32>>()
        };
        let theirs = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .unwrap()
            .with_input_fact(0, f32::fact(shape).into())
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let ours = siamese_wasm::runtime::encoder::runnable(
            siamese_wasm::runtime::onnx::decode(bytes).unwrap(),
            shape,
            what,
        )
        .unwrap();
        let (want, got) = (run(&theirs), run(&ours));
        assert_eq!(got.len(), want.len(), "{what}");
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let scale = want.iter().map(|v| v.abs()).fold(0f32, f32::max);
        assert!(scale > 0.0 && worst <= 1e-5 * scale, "{what}: off by {worst} of {scale}");
    }
}
