//! Exports for slides: the map (with its words) and each chart as PNG, a
//! played trace as a WebM video recorded from the map's canvas, and the
//! scenario as a file. The browser encodes; the bundle carries no encoder.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = "
function save(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
export function pfnscope_save_text(name, text) {
  save(new Blob([text], { type: 'text/plain' }), name);
}
// Layers (canvases by id, drawn in order at the first one's size) into
// one PNG; with parts > 1, the picture cut into that many equal columns,
// one PNG each. A 'ruler' layer goes to the left of the others, on the
// page's background.
export function pfnscope_save_png(ids, name, parts) {
  const ruler = ids[0] === 'ruler' ? document.getElementById('ruler') : null;
  const layers = ids.filter(id => id !== 'ruler').map(id => document.getElementById(id)).filter(c => c);
  if (!layers.length) return false;
  const left = ruler ? ruler.width : 0;
  const w = layers[0].width, h = layers[0].height, pw = Math.floor(w / parts);
  for (let i = 0; i < parts; i++) {
    const out = document.createElement('canvas');
    out.width = pw + left; out.height = h;
    const ctx = out.getContext('2d');
    if (ruler) {
      const app = document.querySelector('.app');
      ctx.fillStyle = app ? getComputedStyle(app).backgroundColor : '#fff';
      ctx.fillRect(0, 0, out.width, h);
      ctx.drawImage(ruler, 0, 0);
    }
    for (const c of layers) ctx.drawImage(c, i * pw, 0, pw, h, left, 0, pw, h);
    out.toBlob(b => save(b, parts > 1 ? name.replace('.png', '-' + (i + 1) + '.png') : name), 'image/png');
  }
  return true;
}
let recorder = null;
export function pfnscope_record_start(ids) {
  const layers = ids.map(id => document.getElementById(id)).filter(c => c);
  if (!layers.length || typeof MediaRecorder === 'undefined') return false;
  const out = document.createElement('canvas');
  out.width = layers[0].width; out.height = layers[0].height;
  const ctx = out.getContext('2d');
  const chunks = [];
  const paint = () => {
    if (!recorder) return;
    for (const c of layers) ctx.drawImage(c, 0, 0);
    requestAnimationFrame(paint);
  };
  const r = new MediaRecorder(out.captureStream(30), { mimeType: 'video/webm' });
  r.ondataavailable = e => { if (e.data.size) chunks.push(e.data); };
  r.onstop = () => save(new Blob(chunks, { type: 'video/webm' }), r.pfnscopeName || 'pfnscope.webm');
  recorder = r;
  r.start();
  paint();
  return true;
}
export function pfnscope_record_stop(name) {
  if (!recorder) return;
  recorder.pfnscopeName = name;
  recorder.stop();
  recorder = null;
}
")]
extern "C" {
    fn pfnscope_save_text(name: &str, text: &str);
    fn pfnscope_save_png(ids: Vec<JsValue>, name: &str, parts: u32) -> bool;
    fn pfnscope_record_start(ids: Vec<JsValue>) -> bool;
    fn pfnscope_record_stop(name: &str);
}

/// The map's layers: the ruler beside it, then cells and words.
pub const MAP_LAYERS: [&str; 3] = ["ruler", "pfn-map", "map-text"];

/// What the video records: the cells and their words.
const VIDEO_LAYERS: [&str; 2] = ["pfn-map", "map-text"];

fn ids(ids: &[&str]) -> Vec<JsValue> {
    ids.iter().map(|s| JsValue::from_str(s)).collect()
}

/// Saves text as a file the browser downloads.
pub fn download_text(name: &str, text: &str) -> Result<(), String> {
    pfnscope_save_text(name, text);
    Ok(())
}

/// Saves canvases (layers drawn in order) as PNG, cut into `parts` equal
/// columns when the canvas holds several charts side by side.
pub fn download_png(layers: &[&str], name: &str, parts: u32) -> Result<(), String> {
    if pfnscope_save_png(ids(layers), name, parts.max(1)) {
        Ok(())
    } else {
        Err(format!("nothing to save: no {} on the page", layers[layers.len() - 1]))
    }
}

/// Starts recording the map as video; false when the browser cannot.
pub fn record_start() -> bool {
    pfnscope_record_start(ids(&VIDEO_LAYERS))
}

/// Stops recording and downloads the video.
pub fn record_stop(name: &str) {
    pfnscope_record_stop(name);
}
