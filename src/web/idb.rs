//! The IndexedDB enrolment store, written against web-sys directly: the store needs one
//! open with an upgrade path, `getAll`, `get`, and write transactions awaited to their
//! `complete` event, about a hundred lines, where a wrapper crate would add its own
//! transaction model (and bytes) for no gain.
//!
//! Layout (schema version [`SCHEMA_VERSION`]):
//! - `identities`, key path `id`: `{id, samples: Float32Array[], template: Float32Array,
//!   updated: ms since epoch}`;
//! - `meta`, out-of-line keys: `"model"` -> `{fingerprint, name, embeddingDim, metric}`,
//!   the model every stored embedding was made with.
//!
//! Every change is one transaction, awaited to `complete`: when a transaction aborts (quota
//! exceeded, a duplicate key, the page closing), IndexedDB rolls all of it back, so the
//! earlier state stays whole.

use super::errors::{describe, err};
use crate::error::{Error, ErrorCode, Result};
use crate::verify::gallery::{self, Identity};
use js_sys::{Array, Float32Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest,
    IdbTransaction, IdbTransactionMode, IdbVersionChangeEvent,
};

/// Bump with a migration step in [`upgrade`] whenever the layout changes.
pub const SCHEMA_VERSION: u32 = 1;
const IDENTITIES: &str = "identities";
const META: &str = "meta";
pub const MODEL_KEY: &str = "model";

/// `indexedDB` of this global (window or worker), if the environment has one.
pub fn factory() -> Option<IdbFactory> {
    let f = Reflect::get(&js_sys::global(), &"indexedDB".into()).ok()?;
    f.dyn_into().ok()
}

/// A request's result, once it succeeds. The promise's resolve and reject functions are
/// the request's own handlers, so no Rust closure has to outlive this call.
async fn request(req: &IdbRequest) -> Result<JsValue> {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    match JsFuture::from(p).await {
        Ok(_) => req.result().map_err(|e| storage(&e)),
        Err(_) => Err(req.error().ok().flatten().map_or_else(
            || err(ErrorCode::StorageError, "IndexedDB request failed"),
            |e| dom_error(&e),
        )),
    }
}

fn storage(e: &JsValue) -> Error {
    err(ErrorCode::StorageError, format!("IndexedDB: {}", describe(e)))
}

/// Maps the DOMException a request or transaction failed with to our codes.
fn dom_error(e: &web_sys::DomException) -> Error {
    match e.name().as_str() {
        "QuotaExceededError" => err(
            ErrorCode::StorageFull,
            format!("the browser's storage is full; nothing was written ({})", e.message()),
        ),
        "ConstraintError" => err(
            ErrorCode::DuplicateId,
            format!("already enrolled (pass replace: true to replace): {}", e.message()),
        ),
        name => err(ErrorCode::StorageError, format!("IndexedDB {name}: {}", e.message())),
    }
}

/// Creates or migrates the object stores. `old` is the version the database had (0 when new).
fn upgrade(db: &IdbDatabase, old: u32) -> std::result::Result<(), JsValue> {
    if old < 1 {
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&"id".into());
        db.create_object_store_with_optional_parameters(IDENTITIES, &params)?;
        db.create_object_store(META)?;
    }
    // Later versions add steps here: `if old < 2 { ... }`, each taking the previous layout
    // to the next inside the upgrade transaction, so no enrolment is lost on upgrade.
    Ok(())
}

/// One change to the store.
pub enum Write {
    /// Insert an identity; fails (and aborts the transaction) if the id exists.
    Add(Identity),
    /// Insert or replace an identity.
    Put(Identity),
    Delete(String),
    Clear,
    /// A `meta` entry.
    Meta(&'static str, JsValue),
}

pub struct Db {
    db: IdbDatabase,
    pub name: String,
}

impl Db {
    pub async fn open(name: &str) -> Result<Db> {
        let factory = factory()
            .ok_or_else(|| err(ErrorCode::StorageError, "this environment has no IndexedDB"))?;
        let req: IdbOpenDbRequest =
            factory.open_with_u32(name, SCHEMA_VERSION).map_err(|e| storage(&e))?;
        let on_upgrade = Closure::<dyn FnMut(IdbVersionChangeEvent)>::new({
            let req = req.clone();
            move |e: IdbVersionChangeEvent| {
                if let Some(db) = req.result().ok().and_then(|d| d.dyn_into::<IdbDatabase>().ok()) {
                    if let Err(x) = upgrade(&db, e.old_version() as u32) {
                        web_sys::console::error_2(
                            &"siamese-wasm: IndexedDB upgrade failed".into(),
                            &x,
                        );
                        if let Some(tx) = req.transaction() {
                            let _ = tx.abort();
                        }
                    }
                }
            }
        });
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let result = request(&req).await;
        req.set_onupgradeneeded(None);
        drop(on_upgrade);
        let db: IdbDatabase = result?.dyn_into().map_err(|e| storage(&e))?;
        // Another tab asking to upgrade the schema: step aside instead of blocking it. This
        // connection then fails its next request with a storage error, and a reload picks
        // up the new version.
        let on_versionchange = Closure::<dyn FnMut()>::new({
            let db = db.clone();
            move || db.close()
        });
        db.set_onversionchange(Some(on_versionchange.as_ref().unchecked_ref()));
        on_versionchange.forget();
        Ok(Db { db, name: name.to_string() })
    }

    fn tx(&self, stores: &[&str], mode: IdbTransactionMode) -> Result<IdbTransaction> {
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        self.db.transaction_with_str_sequence_and_mode(&names, mode).map_err(|e| storage(&e))
    }

    pub async fn meta(&self, key: &str) -> Result<JsValue> {
        let tx = self.tx(&[META], IdbTransactionMode::Readonly)?;
        let req = tx
            .object_store(META)
            .map_err(|e| storage(&e))?
            .get(&key.into())
            .map_err(|e| storage(&e))?;
        request(&req).await
    }

    /// Every stored identity.
    pub async fn identities(&self) -> Result<Vec<Identity>> {
        let tx = self.tx(&[IDENTITIES], IdbTransactionMode::Readonly)?;
        let req = tx
            .object_store(IDENTITIES)
            .map_err(|e| storage(&e))?
            .get_all()
            .map_err(|e| storage(&e))?;
        let all: Array = request(&req).await?.unchecked_into();
        all.iter().map(|r| from_record(&r)).collect()
    }

    /// Applies `writes` in one transaction and waits for it to commit. On any failure the
    /// whole transaction is rolled back and the error says why.
    pub async fn write(&self, writes: Vec<Write>) -> Result<()> {
        let tx = self.tx(&[IDENTITIES, META], IdbTransactionMode::Readwrite)?;
        let done = Promise::new(&mut |resolve, reject| {
            tx.set_oncomplete(Some(&resolve));
            tx.set_onabort(Some(&reject));
        });
        let queued = (|| -> std::result::Result<(), JsValue> {
            let ids = tx.object_store(IDENTITIES)?;
            let meta = tx.object_store(META)?;
            for w in &writes {
                match w {
                    Write::Add(i) => drop(ids.add(&to_record(i))?),
                    Write::Put(i) => drop(ids.put(&to_record(i))?),
                    Write::Delete(id) => drop(ids.delete(&id.into())?),
                    Write::Clear => drop(ids.clear()?),
                    Write::Meta(k, v) => drop(meta.put_with_key(v, &(*k).into())?),
                }
            }
            Ok(())
        })();
        if let Err(e) = queued {
            let _ = tx.abort();
            let _ = JsFuture::from(done).await;
            return Err(storage(&e));
        }
        match JsFuture::from(done).await {
            Ok(_) => Ok(()),
            Err(_) => Err(tx.error().map_or_else(
                || {
                    err(
                        ErrorCode::StorageError,
                        "the IndexedDB transaction was aborted; nothing was written",
                    )
                },
                |e| dom_error(&e),
            )),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.db.close();
    }
}

fn to_record(i: &Identity) -> JsValue {
    let o = Object::new();
    let samples: Array =
        i.samples.iter().map(|s| JsValue::from(Float32Array::from(s.as_slice()))).collect();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&o, &k.into(), v);
    };
    set("id", &i.id.as_str().into());
    set("samples", &samples);
    if !i.strokes.is_empty() {
        set("strokes", &serde_wasm_bindgen::to_value(&i.strokes).unwrap_or(JsValue::UNDEFINED));
    }
    set("template", &Float32Array::from(gallery::template(&i.samples).as_slice()));
    set("updated", &js_sys::Date::now().into());
    o.into()
}

fn from_record(r: &JsValue) -> Result<Identity> {
    let bad = || err(ErrorCode::StorageError, "a stored identity record is malformed");
    let id = Reflect::get(r, &"id".into()).ok().and_then(|v| v.as_string()).ok_or_else(bad)?;
    let samples =
        Reflect::get(r, &"samples".into()).ok().filter(Array::is_array).ok_or_else(bad)?;
    let samples = samples
        .unchecked_into::<Array>()
        .iter()
        .map(|s| s.dyn_into::<Float32Array>().map(|a| a.to_vec()).map_err(|_| bad()))
        .collect::<Result<Vec<_>>>()?;
    let strokes = match Reflect::get(r, &"strokes".into()) {
        Ok(v) if !v.is_undefined() => serde_wasm_bindgen::from_value(v).map_err(|_| bad())?,
        _ => vec![],
    };
    Ok(Identity { id, samples, strokes })
}
