//! Decompresses a gzip snapshot file with the browser's own
//! `DecompressionStream`, so the bundle carries no inflate code.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(inline_js = "export async function pfnscope_gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn pfnscope_gunzip(bytes: &[u8]) -> Result<JsValue, JsValue>;
}

/// The decompressed bytes, or why they could not be had.
pub async fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    match pfnscope_gunzip(bytes).await {
        Ok(v) => Ok(js_sys::Uint8Array::new(&v).to_vec()),
        Err(e) => Err(match e.dyn_ref::<js_sys::Error>() {
            Some(e) => format!("not a gzip-compressed snapshot ({})", String::from(e.message())),
            None => "not a gzip-compressed snapshot".into(),
        }),
    }
}
