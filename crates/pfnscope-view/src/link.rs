//! Share links: the app's URL names the scenario (a built-in by name, or a
//! user's scenario file packed inline), the player's step, the map's zoom
//! and first PFN, a comparison to open, and embed mode, so that a link
//! reopens exactly the same picture; `gallery=1` opens on the gallery.
//!
//! ```
//! use pfnscope_view::link::{Link, Source};
//! let l = Link::parse("?scenario=pinned&step=10&zoom=2&at=0x3400").unwrap();
//! assert_eq!(l.source, Source::Builtin("pinned".into()));
//! assert_eq!((l.step, l.zoom, l.at), (Some(10), Some(2), Some(0x3400)));
//! assert_eq!(Link::parse(&l.to_query()).unwrap(), l);
//! ```
//!
//! An inline scenario is its file, deflated (raw DEFLATE) and written in
//! base64url (`s=`); the browser packs and unpacks it with its own
//! `CompressionStream`, the command line with flate2 ([`pack`]).

use pfnscope_core::Scenario;

use crate::compare::Against;
use crate::session::Session;
use crate::viewport::Viewport;

/// Where a link's scenario comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// No scenario named: the built-in default.
    #[default]
    Default,
    /// A built-in scenario's name (`scenario=`).
    Builtin(String),
    /// A scenario file, packed (`s=`).
    Inline(String),
}

/// Everything a share link says, but the scenario's own overrides
/// (`machine=`, `seed=`...), which [`crate::session::apply_query`] reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub source: Source,
    /// Steps played: 0 is before the first step.
    pub step: Option<usize>,
    pub zoom: Option<i32>,
    /// The first PFN of the map's first row.
    pub at: Option<u64>,
    pub compare: Option<Against>,
    /// The map, the player and the lesson only, for an iframe.
    pub embed: bool,
    /// Open on the gallery of scenarios.
    pub gallery: bool,
}

/// The keys a link may hold beside the scenario's overrides.
pub const LINK_KEYS: [&str; 8] = ["scenario", "s", "step", "zoom", "at", "compare", "embed", "gallery"];

/// Whether a query changes its scenario (`machine=`, `seed=`,
/// `reporting=`...) beyond naming it and placing the view: a built-in so
/// changed is no longer shared by its name.
pub fn has_overrides(query: &str) -> bool {
    query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()).any(|p| {
        let key = p.split('=').next().unwrap_or_default();
        !LINK_KEYS.contains(&key) && key != "bench"
    })
}

impl Link {
    /// Reads a URL query; a bad value is an error naming it.
    pub fn parse(query: &str) -> Result<Link, String> {
        let mut l = Link::default();
        for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let bad = |what: &str| format!("URL parameter {key}={value:?}: {what}");
            match key {
                "scenario" => {
                    if !Scenario::is_builtin(value) {
                        return Err(format!("unknown scenario {value:?} (known: {})", Scenario::builtins().collect::<Vec<_>>().join(", ")));
                    }
                    l.source = Source::Builtin(value.to_string());
                }
                "s" => {
                    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                        return Err(bad("not a packed scenario (base64url)"));
                    }
                    l.source = Source::Inline(value.to_string());
                }
                "step" => l.step = Some(value.parse().map_err(|_| bad("a number of steps"))?),
                "zoom" => l.zoom = Some(value.parse().ok().filter(|z: &i32| (-40..=6).contains(z)).ok_or_else(|| bad("a zoom level from -40 to 6"))?),
                "at" => l.at = Some(crate::session::parse_pfn(value).map_err(|e| bad(&e))?),
                "compare" => l.compare = Some(Against::parse(value)?),
                "embed" => l.embed = matches!(value, "" | "1" | "true"),
                "gallery" => l.gallery = matches!(value, "" | "1" | "true"),
                _ => {}
            }
        }
        Ok(l)
    }

    /// The query that [`Link::parse`] reads back to this link.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        match &self.source {
            Source::Default => {}
            Source::Builtin(n) => parts.push(format!("scenario={n}")),
            Source::Inline(s) => parts.push(format!("s={s}")),
        }
        if let Some(s) = self.step {
            parts.push(format!("step={s}"));
        }
        if let Some(z) = self.zoom {
            parts.push(format!("zoom={z}"));
        }
        if let Some(a) = self.at {
            parts.push(format!("at={a:#x}"));
        }
        if let Some(c) = self.compare {
            parts.push(format!("compare={}", c.name()));
        }
        if self.embed {
            parts.push("embed=1".into());
        }
        if self.gallery {
            parts.push("gallery=1".into());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    /// A link to where a session stands: its step, zoom and first PFN.
    pub fn of(session: &Session, source: Source, embed: bool) -> Link {
        let v = &session.viewport;
        Link {
            source,
            step: session.player.as_ref().map(|p| p.cursor.map_or(0, |c| c + 1)),
            zoom: Some(v.zoom),
            at: Some(v.row_start(v.top_row)),
            embed,
            ..Link::default()
        }
    }
}

impl Session {
    /// Puts the session where a link says: the player at its step, the
    /// map at its zoom and first PFN. A view given by the link stops the
    /// camera from moving it.
    pub fn apply_link(&mut self, link: &Link) {
        if let Some(step) = link.step {
            self.seek(step.checked_sub(1));
        }
        if link.zoom.is_some() || link.at.is_some() {
            self.follow = false;
            let v = self.viewport;
            let v = match link.zoom {
                Some(z) if z != v.zoom => Viewport { zoom: z, top_row: 0, ..v }.scroll(0),
                _ => v,
            };
            let v = match link.at {
                Some(pfn) if pfn >= v.span.start => Viewport { top_row: (pfn - v.span.start) / v.cols(), ..v }.scroll(0),
                _ => v,
            };
            self.set_view(v);
        }
    }
}

/// Packs a scenario file for a link: raw DEFLATE, then base64url without
/// padding, as the browser's `CompressionStream("deflate-raw")` and the
/// app do.
#[cfg(feature = "gzip")]
pub fn pack(text: &str) -> String {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(text.as_bytes()).expect("in memory");
    base64url(&e.finish().expect("in memory"))
}

/// Unpacks [`pack`]'s text, or says why it is not a packed scenario.
#[cfg(feature = "gzip")]
pub fn unpack(packed: &str) -> Result<String, String> {
    use std::io::Read;
    let bytes = from_base64url(packed).ok_or("the link's scenario is not base64url")?;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(&bytes[..]).read_to_string(&mut text).map_err(|e| format!("the link's scenario does not unpack: {e}"))?;
    Ok(text)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Reads [`base64url`]; `None` for a character outside its alphabet.
pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        acc = acc << 6 | B64.iter().position(|&b| b == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(from_base64url(&base64url(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert!(from_base64url("a+b").is_none());
    }

    #[test]
    fn overrides_are_keys_beyond_the_links_own() {
        assert!(!has_overrides("?scenario=pinned&step=3&embed&bench=5"));
        assert!(!has_overrides(""));
        assert!(has_overrides("?scenario=pinned&reporting=walk"));
        assert!(has_overrides("machine=teaching-16m"));
    }

    #[test]
    fn bad_links_name_the_parameter() {
        assert!(Link::parse("?scenario=nope").unwrap_err().contains("unknown scenario \"nope\""));
        assert!(Link::parse("?step=x").unwrap_err().contains("step=\"x\""));
        assert!(Link::parse("?zoom=99").unwrap_err().contains("zoom level"));
        assert!(Link::parse("?s=<script>").unwrap_err().contains("not a packed scenario"));
        assert!(Link::parse("?compare=v9").unwrap_err().contains("unknown variant"));
    }

    /// A user's scenario packed into a link unpacks to the same file, and
    /// the link puts a fresh session on exactly the same pixels.
    #[cfg(feature = "gzip")]
    #[test]
    fn a_packed_scenario_and_its_view_reopen_the_same_picture() {
        let text = Scenario::builtin_text("pinned").unwrap();
        let packed = pack(text);
        assert!(packed.len() < text.len(), "{} packed from {}", packed.len(), text.len());
        assert_eq!(unpack(&packed).unwrap(), text);
        let scenario = Scenario { steps: 2_000, ..Scenario::parse(text).unwrap() };
        let mut a = Session::new(&scenario, 320, 200).unwrap();
        a.step_by(7);
        a.set_view(Viewport { zoom: a.viewport.zoom + 1, ..a.viewport }.scroll(3));
        let link = Link::of(&a, Source::Inline(packed), false);
        let back = Link::parse(&link.to_query()).unwrap();
        assert_eq!(back, link);
        let Source::Inline(p) = &back.source else { panic!() };
        let reopened = Scenario { steps: 2_000, ..Scenario::parse(&unpack(p).unwrap()).unwrap() };
        let mut b = Session::new(&reopened, 320, 200).unwrap();
        b.apply_link(&back);
        assert_eq!(b.player.as_ref().unwrap().cursor, Some(6));
        assert_eq!(b.viewport, a.viewport);
        assert_eq!(b.render(), a.render());
    }
}
