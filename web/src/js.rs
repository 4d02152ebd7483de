//! The browser's own services the app borrows rather than compiling in:
//! gunzipping a snapshot file and packing a scenario for a share link
//! (`DecompressionStream`, `CompressionStream("deflate-raw")` and
//! base64url, the same format as `pfnscope_view::link::pack`), so the
//! bundle carries no inflate code (pfnscope-import's `gzip` feature is off
//! in the web build); fetching a built-in scenario file; the clipboard;
//! `localStorage`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(inline_js = "
export async function pfnscope_gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
export async function pfnscope_fetch_text(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(r.status + ' ' + r.statusText);
  return await r.text();
}
export async function pfnscope_pack(text) {
  const s = new Blob([text]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  const b = new Uint8Array(await new Response(s).arrayBuffer());
  let bin = '';
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
}
export async function pfnscope_unpack(packed) {
  const bin = atob(packed.replace(/-/g, '+').replace(/_/g, '/'));
  const b = Uint8Array.from(bin, c => c.charCodeAt(0));
  const s = new Blob([b]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return await new Response(s).text();
}
export async function pfnscope_copy(text) {
  await navigator.clipboard.writeText(text);
}
export function pfnscope_store_get(key) {
  try { return localStorage.getItem(key); } catch (e) { return null; }
}
export function pfnscope_store_set(key, value) {
  try { localStorage.setItem(key, value); return true; } catch (e) { return false; }
}
")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn pfnscope_gunzip(bytes: &[u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn pfnscope_fetch_text(url: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn pfnscope_pack(text: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn pfnscope_unpack(packed: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn pfnscope_copy(text: &str) -> Result<JsValue, JsValue>;
    fn pfnscope_store_get(key: &str) -> Option<String>;
    fn pfnscope_store_set(key: &str, value: &str) -> bool;
}

/// A JS failure as a sentence.
fn why(e: JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(e) => String::from(e.message()),
        None => e.as_string().unwrap_or_else(|| "unknown error".into()),
    }
}

fn text(v: Result<JsValue, JsValue>) -> Result<String, String> {
    v.map(|v| v.as_string().unwrap_or_default()).map_err(why)
}

/// A gzip-compressed snapshot file, decompressed, or why it could not be.
pub async fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    match pfnscope_gunzip(bytes).await {
        Ok(v) => Ok(js_sys::Uint8Array::new(&v).to_vec()),
        Err(e) => Err(format!("not a gzip-compressed snapshot ({})", why(e))),
    }
}

/// A file next to the page, as text.
pub async fn fetch_text(url: &str) -> Result<String, String> {
    text(pfnscope_fetch_text(url).await).map_err(|e| format!("{url}: {e}"))
}

/// A scenario file packed for a share link.
pub async fn pack(scenario_text: &str) -> Result<String, String> {
    text(pfnscope_pack(scenario_text).await)
}

/// A share link's packed scenario as its file.
pub async fn unpack(packed: &str) -> Result<String, String> {
    text(pfnscope_unpack(packed).await).map_err(|e| format!("the link's scenario does not unpack ({e})"))
}

/// Copies text to the clipboard.
pub async fn copy(text: &str) -> Result<(), String> {
    pfnscope_copy(text).await.map(|_| ()).map_err(why)
}

/// A value kept in the browser across reloads.
pub fn store_get(key: &str) -> Option<String> {
    pfnscope_store_get(key)
}

/// Keeps a value across reloads; false when the browser refuses.
pub fn store_set(key: &str, value: &str) -> bool {
    pfnscope_store_set(key, value)
}
