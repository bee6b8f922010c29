//! `Verifier`: the class JavaScript uses. It owns one encoder and a gallery, kept in memory
//! for search and mirrored to IndexedDB.
//!
//! Instances that open the same database in one JavaScript realm share one gallery (a
//! registry of live galleries by database name), so an enrolment made through one is seen
//! by the other at once. Other tabs and workers are told through a `BroadcastChannel` and
//! re-read the database before their next gallery operation.

use super::errors::{describe, err, to_js, JsResult};
use super::idb::{self, Db, Write};
use super::input::{read_embedding, read_sample, read_strokes, Sample};
use crate::error::{ErrorCode, Result};
use crate::face::{embed_largest_face, FaceBox, FaceFinder};
use crate::input::preprocess::RgbImage;
use crate::input::strokes::Strokes;
use crate::runtime::encoder::Encoder;
use crate::runtime::metadata::ModelMetadata;
use crate::verify::calibrate;
use crate::verify::dynamics::{self, is_timed, Trajectory};
use crate::verify::export::{fingerprint, hex, short, GalleryExport, ModelRef};
use crate::verify::gallery::{
    check_id, check_strokes, duplicate, unknown, Gallery, Identity, Match,
};
use crate::verify::metrics::Metric;
use crate::verify::rule::Rule;
use js_sys::{Array, Float32Array, Function, Object, Promise, Reflect, Uint8Array};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// The IndexedDB database used when `options.db` is not given.
const DEFAULT_DB: &str = "siamese-wasm";

/// A gallery and where it is kept.
struct Shared {
    model: ModelRef,
    gallery: RefCell<Gallery>,
    db: Option<Db>,
    /// Set when another tab or worker changed the database; the next operation re-reads it.
    stale: Rc<Cell<bool>>,
    channel: Option<web_sys::BroadcastChannel>,
    _on_message: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
}

thread_local! {
    static OPEN: RefCell<HashMap<String, Weak<Shared>>> = RefCell::new(HashMap::new());
}

impl Shared {
    /// Re-reads the database if another context changed it.
    async fn refresh(&self) -> Result<()> {
        if let (Some(db), true) = (&self.db, self.stale.get()) {
            self.stale.set(false);
            let ids = db.identities().await?;
            *self.gallery.borrow_mut() = gallery_of(&self.model, ids)?;
        }
        Ok(())
    }

    /// Commits `writes` to the database (when there is one), then tells other contexts.
    async fn commit(&self, writes: Vec<Write>) -> Result<()> {
        if let Some(db) = &self.db {
            db.write(writes).await?;
            if let Some(c) = &self.channel {
                let _ = c.post_message(&"changed".into());
            }
        }
        Ok(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(c) = &self.channel {
            c.set_onmessage(None);
            c.close();
        }
    }
}

fn gallery_of(model: &ModelRef, ids: Vec<Identity>) -> Result<Gallery> {
    let mut g = Gallery::new(model.embedding_dim, model.metric);
    for i in ids {
        g.insert_identity(i, true)?;
    }
    Ok(g)
}

struct Inner {
    encoder: Encoder,
    /// With `options.faces`: pictures are embedded by their largest face, found and aligned.
    faces: Option<FaceFinder>,
    threshold: Cell<f32>,
    /// The largest pen-motion distance accepted for online signatures.
    motion_threshold: Cell<f32>,
    shared: Rc<Shared>,
}

/// A loaded encoder with its enrolment gallery.
#[wasm_bindgen]
pub struct Verifier {
    inner: Rc<Inner>,
}

/// Options of `Verifier.load`, read from a plain JS object.
struct LoadOptions {
    db: DbChoice,
    threshold: Option<f32>,
    operating_point: Option<PointChoice>,
    on_progress: Option<Function>,
    reset: bool,
    metadata: Option<ModelMetadata>,
    /// `options.faces`: the face detector and landmark models (bytes or URLs).
    faces: Option<(JsValue, JsValue)>,
}

/// `options.operatingPoint`: one of the model's named points, or a false-accept rate.
enum PointChoice {
    Named(String),
    Far(f64),
}

impl PointChoice {
    /// The threshold this choice gives on `meta`'s operating points.
    fn threshold(&self, meta: &ModelMetadata) -> Result<f32> {
        let op = meta.operating_points.as_ref().ok_or_else(|| err(ErrorCode::BadOptions, "options.operatingPoint: this model carries no operating points; set options.threshold instead"))?;
        match self {
            PointChoice::Named(name) => op.get(name).map(|p| p.threshold).ok_or_else(|| {
                let names: Vec<&str> = op.points.iter().map(|p| p.name.as_str()).collect();
                err(ErrorCode::BadOptions, format!("options.operatingPoint: this model has no point {name:?} (it has {})", names.join(", ")))
            }),
            PointChoice::Far(far) => op.threshold_for_far(*far).ok_or_else(|| err(ErrorCode::BadOptions, format!("options.operatingPoint: a false-accept rate of {far} is outside what the model's validation data can tell"))),
        }
    }
}

/// Where `options.db` says the gallery lives.
enum DbChoice {
    /// Not given: IndexedDB [`DEFAULT_DB`] where there is IndexedDB, else memory (Node).
    Default,
    Named(String),
    /// `false` or `null`: in memory only.
    Memory,
}

impl DbChoice {
    /// The IndexedDB name to open, or `None` for an in-memory gallery.
    fn resolve(&self) -> Result<Option<String>> {
        let have_idb = idb::factory().is_some();
        match self {
            DbChoice::Default => Ok(have_idb.then(|| DEFAULT_DB.to_string())),
            DbChoice::Named(_) if !have_idb => Err(err(
                ErrorCode::StorageError,
                "this environment has no IndexedDB; pass {db: false} for an in-memory gallery",
            )),
            DbChoice::Named(n) => Ok(Some(n.clone())),
            DbChoice::Memory => Ok(None),
        }
    }
}

fn opt(o: &JsValue, k: &str) -> JsValue {
    if o.is_object() {
        Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// An aligned face crop as `{width, height, data}` RGBA, ready for `new ImageData(...)`.
fn crop_to_js(crop: &RgbImage) -> JsValue {
    let o = Object::new();
    let _ = Reflect::set(&o, &"width".into(), &(crop.width() as u32).into());
    let _ = Reflect::set(&o, &"height".into(), &(crop.height() as u32).into());
    let _ = Reflect::set(
        &o,
        &"data".into(),
        &js_sys::Uint8ClampedArray::from(crop.to_rgba().as_slice()),
    );
    o.into()
}

fn is_absent(v: &JsValue) -> bool {
    v.is_undefined()
}

impl LoadOptions {
    fn read(o: &JsValue) -> Result<Self> {
        if !(o.is_undefined() || o.is_null() || o.is_object()) {
            return Err(err(ErrorCode::BadOptions, "options must be an object"));
        }
        let db = opt(o, "db");
        let db = if is_absent(&db) {
            DbChoice::Default
        } else if db.is_null() || db.as_bool() == Some(false) {
            DbChoice::Memory
        } else if let Some(s) = db.as_string().filter(|s| !s.is_empty()) {
            DbChoice::Named(s)
        } else {
            return Err(err(
                ErrorCode::BadOptions,
                "options.db must be a database name, or false for an in-memory gallery",
            ));
        };
        let threshold = opt(o, "threshold");
        let threshold = if is_absent(&threshold) {
            None
        } else {
            Some(threshold.as_f64().filter(|t| t.is_finite()).ok_or_else(|| {
                err(ErrorCode::BadOptions, "options.threshold must be a finite number")
            })? as f32)
        };
        let op = opt(o, "operatingPoint");
        let operating_point = if is_absent(&op) {
            None
        } else if let Some(name) = op.as_string() {
            Some(PointChoice::Named(name))
        } else if let Some(far) = op.as_f64().filter(|f| f.is_finite() && *f > 0.0 && *f <= 1.0) {
            Some(PointChoice::Far(far))
        } else {
            return Err(err(ErrorCode::BadOptions, "options.operatingPoint must be a point's name ('eer', 'far1', 'far01') or a false-accept rate in (0, 1]"));
        };
        if operating_point.is_some() && threshold.is_some() {
            return Err(err(
                ErrorCode::BadOptions,
                "give options.threshold or options.operatingPoint, not both",
            ));
        }
        let p = opt(o, "onProgress");
        let on_progress =
            if is_absent(&p) {
                None
            } else {
                Some(p.dyn_into::<Function>().map_err(|_| {
                    err(ErrorCode::BadOptions, "options.onProgress must be a function")
                })?)
            };
        let m = opt(o, "metadata");
        let metadata = if is_absent(&m) {
            None
        } else {
            Some(
                serde_wasm_bindgen::from_value(m)
                    .map_err(|e| err(ErrorCode::BadOptions, format!("options.metadata: {e}")))?,
            )
        };
        let f = opt(o, "faces");
        // false or null: whole pictures (the package's entry gives models.face its face
        // models unless told so).
        let faces = if is_absent(&f) || f.is_null() || f.as_bool() == Some(false) {
            None
        } else {
            let (d, l) = (opt(&f, "detector"), opt(&f, "landmarks"));
            if !f.is_object() || is_absent(&d) || is_absent(&l) {
                return Err(err(ErrorCode::BadOptions, "options.faces must be {detector, landmarks} (the face models' bytes or URLs), or false"));
            }
            Some((d, l))
        };
        Ok(LoadOptions {
            db,
            threshold,
            operating_point,
            on_progress,
            reset: opt(o, "reset").is_truthy(),
            metadata,
            faces,
        })
    }

    fn progress(&self, phase: &str, loaded: f64, total: Option<f64>) {
        if let Some(f) = &self.on_progress {
            let o = Object::new();
            let _ = Reflect::set(&o, &"phase".into(), &phase.into());
            let _ = Reflect::set(&o, &"loaded".into(), &loaded.into());
            let _ = Reflect::set(&o, &"total".into(), &total.map_or(JsValue::NULL, JsValue::from));
            let _ = f.call1(&JsValue::NULL, &o);
        }
    }
}

fn read_id(v: &JsValue) -> Result<String> {
    v.as_string().ok_or_else(|| err(ErrorCode::BadInput, "the id must be a string"))
}

fn call0(o: &JsValue, name: &str) -> std::result::Result<JsValue, JsValue> {
    Reflect::get(o, &name.into())?.dyn_into::<Function>()?.call0(o)
}

/// Fetches `url`, reporting download progress.
async fn fetch_bytes(url: &str, opts: &LoadOptions) -> Result<Vec<u8>> {
    let failed =
        |m: String| err(ErrorCode::FetchFailed, format!("cannot fetch the model from {url}: {m}"));
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| failed("no fetch() here; pass the model's bytes".into()))?;
    let resp = fetch.call1(&JsValue::NULL, &url.into()).map_err(|e| failed(describe(&e)))?;
    let resp: web_sys::Response = JsFuture::from(Promise::from(resp))
        .await
        .map_err(|e| failed(describe(&e)))?
        .unchecked_into();
    if !resp.ok() {
        return Err(failed(format!("HTTP {} {}", resp.status(), resp.status_text())));
    }
    let total = call_get(&resp, "content-length").and_then(|v| v.parse::<f64>().ok());
    // Chunk by chunk only for a caller who follows the download: each chunk is a round trip
    // through the page's event loop (docs/design.md).
    match resp.body().filter(|_| opts.on_progress.is_some()) {
        Some(body) => {
            let mut bytes = Vec::with_capacity(total.unwrap_or(0.0) as usize);
            let reader = body.get_reader();
            loop {
                let chunk = JsFuture::from(Promise::from(
                    call0(&reader, "read").map_err(|e| failed(describe(&e)))?,
                ))
                .await
                .map_err(|e| failed(describe(&e)))?;
                if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
                    break;
                }
                let value: Uint8Array = Reflect::get(&chunk, &"value".into())
                    .map_err(|e| failed(describe(&e)))?
                    .unchecked_into();
                let at = bytes.len();
                bytes.resize(at + value.length() as usize, 0);
                value.copy_to(&mut bytes[at..]);
                opts.progress("download", bytes.len() as f64, total);
            }
            Ok(bytes)
        }
        None => {
            let buf = JsFuture::from(resp.array_buffer().map_err(|e| failed(describe(&e)))?)
                .await
                .map_err(|e| failed(describe(&e)))?;
            let bytes = Uint8Array::new(&buf).to_vec();
            opts.progress("download", bytes.len() as f64, total);
            Ok(bytes)
        }
    }
}

fn call_get(resp: &web_sys::Response, header: &str) -> Option<String> {
    let headers = Reflect::get(resp, &"headers".into()).ok()?;
    let get: Function = Reflect::get(&headers, &"get".into()).ok()?.dyn_into().ok()?;
    get.call1(&headers, &header.into()).ok()?.as_string()
}

/// The model's bytes from a `Uint8Array`, `ArrayBuffer`, typed-array view, URL or string.
async fn model_bytes(model: &JsValue, opts: &LoadOptions) -> Result<Vec<u8>> {
    if let Some(a) = model.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if model.is_instance_of::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(model).to_vec());
    }
    if let Some(v) =
        model.dyn_ref::<js_sys::Object>().filter(|_| js_sys::ArrayBuffer::is_view(model))
    {
        let buf = Reflect::get(v, &"buffer".into()).unwrap_or(JsValue::UNDEFINED);
        let off = Reflect::get(v, &"byteOffset".into()).ok().and_then(|x| x.as_f64()).unwrap_or(0.0)
            as u32;
        let len = Reflect::get(v, &"byteLength".into()).ok().and_then(|x| x.as_f64()).unwrap_or(0.0)
            as u32;
        return Ok(Uint8Array::new_with_byte_offset_and_length(&buf, off, len).to_vec());
    }
    let url = if let Some(s) = model.as_string() {
        s
    } else if model.is_object()
        && Reflect::get(model, &"href".into()).map(|h| h.is_string()).unwrap_or(false)
    {
        Reflect::get(model, &"href".into()).unwrap().as_string().unwrap()
    } else {
        return Err(err(
            ErrorCode::BadInput,
            "the model must be its bytes (Uint8Array or ArrayBuffer) or a URL",
        ));
    };
    fetch_bytes(&url, opts).await
}

/// The engine's own SHA-256 of `bytes` (`crypto.subtle.digest`, the same digest as
/// [`fingerprint`]), started now, where the engine offers it: browsers do in secure contexts
/// (https, localhost), Node.js from version 19.
///
/// Why: the fingerprint hashes the whole model; the engine's digest runs natively, off the
/// main thread, while the encoder is built, where ours in wasm took milliseconds of the
/// page's first load (docs/design.md).
fn engine_sha256(bytes: &[u8]) -> Option<Promise> {
    let get = |o: &JsValue, k: &str| Reflect::get(o, &k.into()).ok().filter(|v| v.is_object());
    let subtle = get(&js_sys::global(), "crypto").and_then(|c| get(&c, "subtle"))?;
    let digest = Reflect::get(&subtle, &"digest".into()).ok()?.dyn_into::<Function>().ok()?;
    digest
        .call2(&subtle, &"SHA-256".into(), &Uint8Array::from(bytes))
        .ok()?
        .dyn_into::<Promise>()
        .ok()
}

/// Opens (or joins) the gallery for `model` in database `name`.
async fn open_shared(name: Option<String>, model: &ModelRef, reset: bool) -> Result<Rc<Shared>> {
    let Some(name) = name else {
        return Ok(Rc::new(Shared {
            model: model.clone(),
            gallery: RefCell::new(Gallery::new(model.embedding_dim, model.metric)),
            db: None,
            stale: Rc::new(Cell::new(false)),
            channel: None,
            _on_message: None,
        }));
    };
    if let Some(live) = OPEN.with(|o| o.borrow().get(&name).and_then(Weak::upgrade)) {
        if live.model.fingerprint == model.fingerprint {
            return Ok(live);
        }
        return Err(mismatch(&name, &live.model, model));
    }
    let db = Db::open(&name).await?;
    let stored: Option<ModelRef> = {
        let v = db.meta(idb::MODEL_KEY).await?;
        if v.is_undefined() {
            None
        } else {
            serde_wasm_bindgen::from_value(v).ok()
        }
    };
    let mut ids = db.identities().await?;
    let binding = serde_wasm_bindgen::to_value(model)
        .map_err(|e| err(ErrorCode::StorageError, e.to_string()))?;
    match stored {
        Some(s) if s.fingerprint == model.fingerprint => {}
        // Embeddings of another model are never compared: refuse, unless asked to start over
        // or there is nothing enrolled to lose.
        Some(s) if !ids.is_empty() && !reset => return Err(mismatch(&name, &s, model)),
        Some(_) => {
            db.write(vec![Write::Clear, Write::Meta(idb::MODEL_KEY, binding)]).await?;
            ids.clear();
        }
        None => db.write(vec![Write::Meta(idb::MODEL_KEY, binding)]).await?,
    }
    let gallery = gallery_of(model, ids)?;
    let stale = Rc::new(Cell::new(false));
    let channel = web_sys::BroadcastChannel::new(&format!("siamese-wasm:{name}")).ok();
    let on_message = channel.as_ref().map(|c| {
        let stale = stale.clone();
        let f = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| stale.set(true));
        c.set_onmessage(Some(f.as_ref().unchecked_ref()));
        f
    });
    let shared = Rc::new(Shared {
        model: model.clone(),
        gallery: RefCell::new(gallery),
        db: Some(db),
        stale,
        channel,
        _on_message: on_message,
    });
    OPEN.with(|o| o.borrow_mut().insert(name, Rc::downgrade(&shared)));
    Ok(shared)
}

fn mismatch(db: &str, stored: &ModelRef, model: &ModelRef) -> crate::Error {
    err(
        ErrorCode::ModelMismatch,
        format!(
            "database '{db}' holds embeddings made by another model ('{}', fingerprint {}…), which cannot be compared with '{}' ({}…). Re-enrol with this model: load with {{reset: true}} to clear that database, or use another db name",
            stored.name,
            short(&stored.fingerprint),
            model.name,
            short(&model.fingerprint)
        ),
    )
}

#[derive(Serialize)]
struct VerifyResult<'a> {
    id: &'a str,
    score: f32,
    threshold: f32,
    #[serde(rename = "match")]
    is_match: bool,
    /// Present when both the query and the enrolment are timed pen strokes.
    #[serde(skip_serializing_if = "Option::is_none")]
    motion: Option<MotionResult>,
}

#[derive(Serialize)]
struct MotionResult {
    distance: f32,
    threshold: f32,
    #[serde(rename = "match")]
    is_match: bool,
}

#[derive(Serialize)]
struct IdentifyHit {
    id: String,
    score: f32,
    #[serde(rename = "match")]
    is_match: bool,
}

#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    samples: usize,
}

fn to_js_value<T: Serialize>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::UNDEFINED)
}

/// Runs `f` as a promise; our errors become JS errors with codes.
fn promise<F>(f: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    future_to_promise(async move { f.await.map_err(to_js) })
}

impl Inner {
    /// The rule at this verifier's current thresholds.
    fn rule(&self) -> Rule {
        Rule { score: self.threshold.get(), motion: self.motion_threshold.get() }
    }

    fn dim(&self) -> usize {
        self.encoder.meta.embedding_dim
    }

    /// A picture's embedding: of its largest face (found and aligned) when the verifier
    /// has face models, else of the whole picture.
    fn embed_pixels(&self, width: usize, height: usize, rgba: &[u8]) -> Result<Vec<f32>> {
        match &self.faces {
            Some(f) => Ok(embed_largest_face(
                &self.encoder,
                f,
                &RgbImage::from_rgba(width, height, rgba)?,
            )?
            .1),
            None => self.encoder.embed_rgba(width, height, rgba),
        }
    }

    fn face_finder(&self) -> Result<&FaceFinder> {
        self.faces.as_ref().ok_or_else(|| err(ErrorCode::BadOptions, "this verifier has no face models: load it with options.faces = {detector, landmarks}"))
    }

    fn embed_sample(&self, s: Sample) -> Result<Vec<f32>> {
        match s {
            Sample::Pixels { width, height, rgba } => self.embed_pixels(width, height, &rgba),
            Sample::Strokes(s) => self.encoder.embed_strokes(&s),
            Sample::Embedding(e) => Ok(e),
        }
    }

    fn embed_any(&self, input: &JsValue) -> Result<Vec<f32>> {
        self.embed_sample(read_sample(input, self.dim())?)
    }

    /// The embedding of any input and, for timed pen strokes, the strokes themselves.
    fn embed_keeping_strokes(&self, input: &JsValue) -> Result<(Vec<f32>, Option<Strokes>)> {
        match read_sample(input, self.dim())? {
            Sample::Strokes(s) if is_timed(&s) => Ok((self.encoder.embed_strokes(&s)?, Some(s))),
            other => Ok((self.embed_sample(other)?, None)),
        }
    }
}

#[wasm_bindgen]
impl Verifier {
    /// Loads a model (bytes or URL) and opens its gallery.
    #[wasm_bindgen(unchecked_return_type = "Verifier")]
    pub async fn load(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer | string | URL")]
        model: JsValue,
        #[wasm_bindgen(unchecked_param_type = "LoadOptions")] options: Option<JsValue>,
    ) -> JsResult<Verifier> {
        Self::load_inner(model, options.unwrap_or(JsValue::UNDEFINED)).await.map_err(to_js)
    }

    async fn load_inner(model: JsValue, options: JsValue) -> Result<Verifier> {
        super::init();
        let opts = LoadOptions::read(&options)?;
        let bytes = model_bytes(&model, &opts).await?;
        // The engine hashes the model off the main thread while the encoder is built.
        let digest = engine_sha256(&bytes);
        opts.progress("compile", bytes.len() as f64, Some(bytes.len() as f64));
        let encoder = Encoder::from_bytes(&bytes, opts.metadata.clone())?;
        // Before the store opens, so a point the model lacks changes nothing.
        let chosen =
            opts.operating_point.as_ref().map(|c| c.threshold(&encoder.meta)).transpose()?;
        let faces = match &opts.faces {
            Some((d, l)) => Some(FaceFinder::from_bytes(
                &model_bytes(d, &opts).await?,
                &model_bytes(l, &opts).await?,
            )?),
            None => None,
        };
        let model_fingerprint = match digest {
            Some(p) => JsFuture::from(p).await.ok().map(|d| hex(&Uint8Array::new(&d).to_vec())),
            None => None,
        }
        .unwrap_or_else(|| fingerprint(&bytes));
        let model = ModelRef {
            fingerprint: model_fingerprint,
            name: encoder.meta.name.clone(),
            embedding_dim: encoder.meta.embedding_dim,
            metric: encoder.meta.metric,
        };
        drop(bytes);
        opts.progress("store", 0.0, None);
        let shared = open_shared(opts.db.resolve()?, &model, opts.reset).await?;
        let threshold = opts.threshold.or(chosen).unwrap_or(encoder.meta.threshold);
        opts.progress("ready", 1.0, Some(1.0));
        Ok(Verifier {
            inner: Rc::new(Inner {
                encoder,
                faces,
                threshold: Cell::new(threshold),
                motion_threshold: Cell::new(dynamics::THRESHOLD),
                shared,
            }),
        })
    }

    /// The embedding of an image (of its largest face, with face models).
    pub fn embed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageInput")] input: JsValue,
    ) -> JsResult<Float32Array> {
        let (w, h, rgba) = super::input::read_image(&input).map_err(to_js)?;
        let e = self.inner.embed_pixels(w, h, &rgba).map_err(to_js)?;
        Ok(Float32Array::from(e.as_slice()))
    }

    /// The faces in an image, best score first: `[{x, y, width, height, score}]` in pixels.
    #[wasm_bindgen(js_name = detectFaces, unchecked_return_type = "FaceBox[]")]
    pub fn detect_faces(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageInput")] input: JsValue,
    ) -> JsResult<JsValue> {
        let run = || -> Result<Vec<FaceBox>> {
            let finder = self.inner.face_finder()?;
            let (w, h, rgba) = super::input::read_image(&input)?;
            finder.detect(&RgbImage::from_rgba(w, h, &rgba)?)
        };
        Ok(to_js_value(&run().map_err(to_js)?))
    }

    /// The crop of the face in `box` (a `detectFaces` result) that the recogniser sees:
    /// `{width, height, data}` RGBA, ready for `new ImageData(data, width, height)`.
    #[wasm_bindgen(js_name = alignFace, unchecked_return_type = "{width: number, height: number, data: Uint8ClampedArray}")]
    pub fn align_face(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageInput")] input: JsValue,
        #[wasm_bindgen(unchecked_param_type = "FaceBox")] face: JsValue,
    ) -> JsResult<JsValue> {
        let run = || -> Result<JsValue> {
            let finder = self.inner.face_finder()?;
            let face: FaceBox = serde_wasm_bindgen::from_value(face)
                .map_err(|e| err(ErrorCode::BadInput, format!("the face box: {e}")))?;
            if ![face.x, face.y, face.width, face.height].iter().all(|v| v.is_finite())
                || face.width <= 0.0
                || face.height <= 0.0
            {
                return Err(err(
                    ErrorCode::BadInput,
                    "the face box needs finite x, y and a positive width and height",
                ));
            }
            let (w, h, rgba) = super::input::read_image(&input)?;
            Ok(crop_to_js(&finder.align(&RgbImage::from_rgba(w, h, &rgba)?, &face)?))
        };
        run().map_err(to_js)
    }

    /// The face `embed` would use, the largest one, and its aligned crop:
    /// `{box, crop: {width, height, data}}`; `no_face` when there is none.
    #[wasm_bindgen(js_name = largestFace, unchecked_return_type = "{box: FaceBox, crop: {width: number, height: number, data: Uint8ClampedArray}}")]
    pub fn largest_face(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ImageInput")] input: JsValue,
    ) -> JsResult<JsValue> {
        let run = || -> Result<JsValue> {
            let finder = self.inner.face_finder()?;
            let (w, h, rgba) = super::input::read_image(&input)?;
            let (face, crop) = finder.largest_face(&RgbImage::from_rgba(w, h, &rgba)?)?;
            let o = Object::new();
            let _ = Reflect::set(&o, &"box".into(), &to_js_value(&face));
            let _ = Reflect::set(&o, &"crop".into(), &crop_to_js(&crop));
            Ok(o.into())
        };
        run().map_err(to_js)
    }

    /// Whether pictures are embedded by their largest face (`options.faces` was given).
    #[wasm_bindgen(getter, js_name = findsFaces)]
    pub fn finds_faces(&self) -> bool {
        self.inner.faces.is_some()
    }

    /// The embedding of an already preprocessed input: `channels * height * width` values
    /// (planes one after another, each row-major), as the model's metadata describes (for
    /// callers who preprocess themselves, and for timing the network alone).
    #[wasm_bindgen(js_name = embedInput)]
    pub fn embed_input(&self, input: &Float32Array) -> JsResult<Float32Array> {
        let e = self.inner.encoder.embed_input(&input.to_vec()).map_err(to_js)?;
        Ok(Float32Array::from(e.as_slice()))
    }

    /// The embedding of a pen drawing, rendered as the trainer renders pen data.
    #[wasm_bindgen(js_name = embedStrokes)]
    pub fn embed_strokes(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Strokes")] strokes: JsValue,
    ) -> JsResult<Float32Array> {
        let s = read_strokes(&strokes).map_err(to_js)?;
        let e = self.inner.encoder.embed_strokes(&s).map_err(to_js)?;
        Ok(Float32Array::from(e.as_slice()))
    }

    /// The model's score between two embeddings (higher is more alike).
    pub fn similarity(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] a: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] b: &JsValue,
    ) -> JsResult<f32> {
        let d = self.inner.dim();
        let (a, b) = (read_embedding(a, d).map_err(to_js)?, read_embedding(b, d).map_err(to_js)?);
        Ok(self.inner.encoder.similarity(&a, &b))
    }

    /// Accept when `score >= threshold`. Starts at the model's calibrated threshold or
    /// `options.threshold`.
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f32 {
        self.inner.threshold.get()
    }

    #[wasm_bindgen(setter)]
    pub fn set_threshold(&self, t: f32) -> JsResult<()> {
        if !t.is_finite() {
            return Err(to_js(err(ErrorCode::BadOptions, "the threshold must be a finite number")));
        }
        self.inner.threshold.set(t);
        Ok(())
    }

    /// For online signatures (timed pen strokes enrolled and verified): accept only when
    /// the pen-motion distance is at most this, as well as the score reaching
    /// `threshold`. Starts at the library's calibrated value (see models/README.md).
    #[wasm_bindgen(getter, js_name = motionThreshold)]
    pub fn motion_threshold(&self) -> f32 {
        self.inner.motion_threshold.get()
    }

    #[wasm_bindgen(setter, js_name = motionThreshold)]
    pub fn set_motion_threshold(&self, t: f32) -> JsResult<()> {
        if !(t.is_finite() && t > 0.0) {
            return Err(to_js(err(
                ErrorCode::BadOptions,
                "the motion threshold must be a positive finite number",
            )));
        }
        self.inner.motion_threshold.set(t);
        Ok(())
    }

    /// The model's metadata (name, version, preprocess, embedding_dim, metric, threshold,
    /// training_data).
    #[wasm_bindgen(getter, unchecked_return_type = "ModelMetadata")]
    pub fn metadata(&self) -> JsValue {
        to_js_value(&self.inner.encoder.meta)
    }

    /// SHA-256 of the model's bytes; the gallery is tied to it.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.inner.shared.model.fingerprint.clone()
    }

    /// The IndexedDB database name, or `null` for an in-memory gallery.
    #[wasm_bindgen(getter)]
    pub fn db(&self) -> Option<String> {
        self.inner.shared.db.as_ref().map(|d| d.name.clone())
    }

    /// Enrols `id` from images, drawings or embeddings, in one transaction.
    #[wasm_bindgen(unchecked_return_type = "Promise<{id: string, samples: number}>")]
    pub fn enroll(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Input[]")] inputs: JsValue,
        #[wasm_bindgen(unchecked_param_type = "{replace?: boolean}")] options: Option<JsValue>,
    ) -> Promise {
        let inner = self.inner.clone();
        let options = options.unwrap_or(JsValue::UNDEFINED);
        promise(async move {
            let id = read_id(&id)?;
            check_id(&id)?;
            let replace = opt(&options, "replace").is_truthy();
            if !Array::is_array(&inputs) || inputs.unchecked_ref::<Array>().length() == 0 {
                return Err(err(
                    ErrorCode::BadInput,
                    "enroll takes an array of one or more samples",
                ));
            }
            // Every sample is embedded before anything is written: one bad sample enrols nothing.
            let embedded = inputs
                .unchecked_ref::<Array>()
                .iter()
                .map(|x| inner.embed_keeping_strokes(&x))
                .collect::<Result<Vec<_>>>()?;
            let n = embedded.len();
            let (samples, strokes): (Vec<Vec<f32>>, Vec<Option<Strokes>>) =
                embedded.into_iter().unzip();
            // Timed strokes for every sample: an online signature, whose motion is kept too.
            let strokes: Vec<Strokes> =
                strokes.into_iter().collect::<Option<_>>().unwrap_or_default();
            let ident = Identity { id: id.clone(), samples, strokes };
            // The drawings' trajectories are checked before anything is written.
            check_strokes(&id, &ident.strokes, n)?;
            let shared = &inner.shared;
            shared.refresh().await?;
            if !replace && shared.gallery.borrow().contains(&id) {
                return Err(duplicate(&id));
            }
            shared
                .commit(vec![if replace {
                    Write::Put(ident.clone())
                } else {
                    Write::Add(ident.clone())
                }])
                .await?;
            shared.gallery.borrow_mut().insert_identity(ident, true)?;
            Ok(to_js_value(&Listed { id: &id, samples: n }))
        })
    }

    /// Scores `input` against `id`'s template.
    #[wasm_bindgen(unchecked_return_type = "Promise<VerifyResult>")]
    pub fn verify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Input")] input: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let id = read_id(&id)?;
            let (q, strokes) = inner.embed_keeping_strokes(&input)?;
            inner.shared.refresh().await?;
            let g = inner.shared.gallery.borrow();
            let score = g.score(&id, &q)?;
            let rule = inner.rule();
            // Online signatures must also be written like the enrolled ones: a forger who
            // copies the shape rarely copies the order, direction and rhythm of the strokes.
            let motion = match &strokes {
                // A drawing with no usable motion (a pen that never moved) is as far as can be.
                Some(s) if g.has_motion(&id) => Trajectory::from_strokes(s)
                    .map_or(Ok(Some(f32::MAX)), |t| g.motion_distance(&id, &t))?
                    .map(|distance| MotionResult {
                        distance,
                        threshold: rule.motion,
                        is_match: rule.motion_matches(distance),
                    }),
                _ => None,
            };
            let is_match = rule.accepts(score, motion.as_ref().map(|m| m.distance));
            let threshold = rule.score;
            Ok(to_js_value(&VerifyResult { id: &id, score, threshold, is_match, motion }))
        })
    }

    /// The `k` (default 5) enrolled identities most like `input`, best first.
    #[wasm_bindgen(unchecked_return_type = "Promise<IdentifyResult[]>")]
    pub fn identify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Input")] input: JsValue,
        k: Option<u32>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let q = inner.embed_any(&input)?;
            inner.shared.refresh().await?;
            let hits: Vec<Match> =
                inner.shared.gallery.borrow().search(&q, k.unwrap_or(5) as usize)?;
            let rule = inner.rule();
            let hits: Vec<IdentifyHit> = hits
                .into_iter()
                .map(|m| IdentifyHit {
                    is_match: rule.score_matches(m.score),
                    id: m.id,
                    score: m.score,
                })
                .collect();
            Ok(to_js_value(&hits))
        })
    }

    /// Enrolled ids with their sample counts, in enrolment order.
    #[wasm_bindgen(unchecked_return_type = "Promise<{id: string, samples: number}[]>")]
    pub fn list(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.shared.refresh().await?;
            let g = inner.shared.gallery.borrow();
            let l: Vec<Listed> = g
                .ids()
                .iter()
                .map(|id| Listed { id, samples: g.samples(id).map_or(0, |s| s.len()) })
                .collect();
            Ok(to_js_value(&l))
        })
    }

    /// Removes one identity.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn remove(&self, #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let id = read_id(&id)?;
            let shared = &inner.shared;
            shared.refresh().await?;
            if !shared.gallery.borrow().contains(&id) {
                return Err(unknown(&id));
            }
            shared.commit(vec![Write::Delete(id.clone())]).await?;
            shared.gallery.borrow_mut().remove(&id)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Removes every identity.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn clear(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.shared.commit(vec![Write::Clear]).await?;
            inner.shared.gallery.borrow_mut().clear();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The whole gallery as a JSON-safe object (embeddings as arrays of numbers).
    #[wasm_bindgen(js_name = exportGallery, unchecked_return_type = "Promise<GalleryExport>")]
    pub fn export_gallery(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.shared.refresh().await?;
            let e = GalleryExport::new(
                inner.shared.model.clone(),
                inner.shared.gallery.borrow().identities(),
            );
            Ok(to_js_value(&e))
        })
    }

    /// Imports an export (object or JSON text) in one transaction. It is checked whole
    /// first: a malformed import, another model's, or (without `replace`) one naming an
    /// enrolled id changes nothing.
    #[wasm_bindgen(js_name = importGallery, unchecked_return_type = "Promise<{imported: number}>")]
    pub fn import_gallery(
        &self,
        #[wasm_bindgen(unchecked_param_type = "GalleryExport | string")] data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "{replace?: boolean}")] options: Option<JsValue>,
    ) -> Promise {
        let inner = self.inner.clone();
        let options = options.unwrap_or(JsValue::UNDEFINED);
        promise(async move {
            let shared = &inner.shared;
            let e: GalleryExport = if let Some(text) = data.as_string() {
                GalleryExport::from_json(&text, &shared.model)?
            } else {
                let e: GalleryExport = serde_wasm_bindgen::from_value(data).map_err(|x| {
                    err(ErrorCode::BadImport, format!("malformed gallery export: {x}"))
                })?;
                e.validate(&shared.model)?;
                e
            };
            let replace = opt(&options, "replace").is_truthy();
            shared.refresh().await?;
            if !replace {
                if let Some(dup) =
                    e.identities.iter().find(|i| shared.gallery.borrow().contains(&i.id))
                {
                    return Err(err(ErrorCode::DuplicateId, format!("'{}' is already enrolled; nothing was imported (pass {{replace: true}} to replace)", dup.id)));
                }
            }
            let n = e.identities.len();
            let writes = e
                .identities
                .iter()
                .map(|i| if replace { Write::Put(i.clone()) } else { Write::Add(i.clone()) })
                .collect();
            shared.commit(writes).await?;
            let mut g = shared.gallery.borrow_mut();
            for i in e.identities {
                g.insert_identity(i, true)?;
            }
            let o = Object::new();
            let _ = Reflect::set(&o, &"imported".into(), &(n as f64).into());
            Ok(o.into())
        })
    }

    /// Thresholds from scores of genuine and impostor pairs (see the free `calibrate`).
    #[wasm_bindgen(unchecked_return_type = "Calibration")]
    pub fn calibrate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] genuine: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] impostor: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "{targetFar?: number}")] options: Option<JsValue>,
    ) -> JsResult<JsValue> {
        calibrate_js(genuine, impostor, &options.unwrap_or(JsValue::UNDEFINED))
    }

    /// Number of enrolled identities (as of the last gallery operation).
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.shared.gallery.borrow().len()
    }
}

fn scores(v: &JsValue, what: &str) -> Result<Vec<f32>> {
    let s = if let Some(a) = v.dyn_ref::<Float32Array>() {
        a.to_vec()
    } else if Array::is_array(v) {
        v.unchecked_ref::<Array>()
            .iter()
            .map(|x| {
                x.as_f64().map(|x| x as f32).ok_or_else(|| {
                    err(ErrorCode::BadInput, format!("{what} scores must be numbers"))
                })
            })
            .collect::<Result<_>>()?
    } else {
        return Err(err(ErrorCode::BadInput, format!("{what} scores must be an array of numbers")));
    };
    if s.is_empty() {
        return Err(err(ErrorCode::BadInput, format!("no {what} scores")));
    }
    if s.iter().any(|x| !x.is_finite()) {
        return Err(err(
            ErrorCode::NotFinite,
            format!("{what} scores have NaN or infinite values"),
        ));
    }
    Ok(s)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Calibration {
    threshold: f32,
    eer: f64,
    eer_threshold: f32,
    far: f64,
    frr: f64,
}

fn calibrate_js(genuine: &JsValue, impostor: &JsValue, options: &JsValue) -> JsResult<JsValue> {
    (|| -> Result<JsValue> {
        let g = scores(genuine, "genuine")?;
        let i = scores(impostor, "impostor")?;
        let e = calibrate::eer(&g, &i);
        let target = opt(options, "targetFar");
        let threshold = if is_absent(&target) {
            e.threshold
        } else {
            let t = target.as_f64().filter(|t| (0.0..=1.0).contains(t)).ok_or_else(|| {
                err(ErrorCode::BadOptions, "targetFar must be a number in [0, 1]")
            })?;
            calibrate::threshold_for_far(&i, t)
        };
        let p = calibrate::rates_at(&g, &i, threshold);
        Ok(to_js_value(&Calibration {
            threshold,
            eer: e.eer,
            eer_threshold: e.threshold,
            far: p.far,
            frr: p.frr,
        }))
    })()
    .map_err(to_js)
}

/// Thresholds from scores: `threshold` is the EER point, or with `{targetFar}` the most
/// lenient threshold whose false-accept rate on these impostors is at most `targetFar`;
/// `far` and `frr` are the rates at `threshold`.
#[wasm_bindgen(unchecked_return_type = "Calibration")]
pub fn calibrate(
    #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] genuine: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] impostor: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "{targetFar?: number}")] options: Option<JsValue>,
) -> JsResult<JsValue> {
    calibrate_js(genuine, impostor, &options.unwrap_or(JsValue::UNDEFINED))
}

/// Loads and runs a small built-in network once, so that the engine has the model-loading code
/// compiled before the first real `Verifier.load` (most of a page's first load is that one-time
/// compilation). Call it while the page is idle, after import; it stores nothing.
#[wasm_bindgen(js_name = warmUp)]
pub fn warm_up() -> JsResult<()> {
    super::init();
    crate::runtime::encoder::warm_up().map_err(to_js)
}

/// Score between two embeddings: cosine (default) or negated Euclidean distance.
#[wasm_bindgen]
pub fn similarity(
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] a: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] b: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "'cosine' | 'euclidean'")] metric: Option<JsValue>,
) -> JsResult<f32> {
    let metric = metric.unwrap_or(JsValue::UNDEFINED);
    let m = match metric.as_string().as_deref() {
        None | Some("cosine") => Metric::Cosine,
        Some("euclidean") => Metric::Euclidean,
        Some(o) => {
            return Err(to_js(err(
                ErrorCode::BadOptions,
                format!("unknown metric '{o}' (cosine or euclidean)"),
            )))
        }
    };
    let len = |v: &JsValue| {
        v.dyn_ref::<Float32Array>()
            .map(|a| a.length() as usize)
            .or_else(|| Array::is_array(v).then(|| v.unchecked_ref::<Array>().length() as usize))
            .unwrap_or(0)
    };
    let d = len(a);
    if d == 0 {
        return Err(to_js(err(
            ErrorCode::BadInput,
            "embeddings must be non-empty Float32Arrays or arrays of numbers",
        )));
    }
    let (a, b) = (read_embedding(a, d).map_err(to_js)?, read_embedding(b, d).map_err(to_js)?);
    Ok(m.score(&a, &b))
}
