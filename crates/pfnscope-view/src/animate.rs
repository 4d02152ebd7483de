//! Animation between two steps of a trace: what a step changed fades from
//! its old picture to its new one (a pageblock turning ISOLATE, buddies
//! joining or halving, pages leaving the free lists) and a migrated folio
//! travels from its old place to its new one. The last frame is the new
//! picture exactly, so playback and seeking stay pixel-exact.

use pfnscope_core::{PfnRange, Step};

use crate::palette::Rgba;
use crate::viewport::Viewport;

/// A rectangle in map pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Something that travels across the map during a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: Rect,
    pub to: Rect,
    pub color: Rgba,
}

/// The frames between two pictures of the same view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    width: u32,
    height: u32,
    from: Vec<u8>,
    to: Vec<u8>,
    pub moves: Vec<Move>,
}

/// The box around a range's visible cells, if any are visible.
pub fn range_rect(v: &Viewport, r: PfnRange) -> Option<Rect> {
    let shown = v.visible_pfns();
    let (a, b) = (r.start.max(shown.start), r.end.min(shown.end));
    if a >= b {
        return None;
    }
    let (x0, y0, _, h0) = v.cell_rect(a)?;
    let (x1, y1, w1, _) = v.cell_rect(b - 1)?;
    if y0 == y1 {
        Some(Rect { x: x0, y: y0, w: x1 + w1 - x0, h: h0 })
    } else {
        Some(Rect { x: 0, y: y0, w: v.drawn_width(), h: y1 + h0 - y0 })
    }
}

/// Smoothstep: slow out, slow in.
fn ease(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

impl Transition {
    /// From `before` to `after`, two pictures of viewport `v`, across
    /// `step`; `forward` is false when stepping back over it, so a
    /// migration travels home.
    pub fn new(before: Vec<u8>, after: Vec<u8>, v: &Viewport, step: &Step, forward: bool) -> Transition {
        let mut moves = Vec::new();
        if let (Some(src), Some(dst)) = (step.range, step.target) {
            let (src, dst) = if forward { (src, dst) } else { (dst, src) };
            if let (Some(a), Some(b)) = (range_rect(v, src), range_rect(v, dst)) {
                // The folio's color: the middle of its first visible cell.
                let first = src.start.max(v.visible_pfns().start);
                let (cx, cy, cw, ch) = v.cell_rect(first).unwrap_or((a.x, a.y, 1, 1));
                let i = (((cy + ch / 2) * v.width + cx + cw / 2) * 4) as usize;
                let color = before.get(i..i + 4).map_or(Rgba::rgb(0, 0, 0), |c| Rgba([c[0], c[1], c[2], 255]));
                moves.push(Move { from: a, to: b, color });
            }
        }
        Transition { width: v.width, height: v.height, from: before, to: after, moves }
    }

    /// The picture at `t` in 0..=1: changed pixels cross-fade, and each
    /// moving folio is drawn, outlined, on its way. At 1 it is `after`.
    pub fn frame(&self, t: f64) -> Vec<u8> {
        if t >= 1.0 {
            return self.to.clone();
        }
        let e = ease(t);
        let k = (e * 256.0) as u32;
        let mut out: Vec<u8> = self.from.iter().zip(&self.to).map(|(&a, &b)| ((a as u32 * (256 - k) + b as u32 * k) / 256) as u8).collect();
        for m in &self.moves {
            let lerp = |a: u32, b: u32| (a as f64 + (b as f64 - a as f64) * e).round() as u32;
            let r = Rect { x: lerp(m.from.x, m.to.x), y: lerp(m.from.y, m.to.y), w: lerp(m.from.w, m.to.w).max(2), h: lerp(m.from.h, m.to.h).max(2) };
            let edge = m.color.mix(Rgba::rgb(0, 0, 0), 170);
            for y in r.y..(r.y + r.h).min(self.height) {
                for x in r.x..(r.x + r.w).min(self.width) {
                    let border = y == r.y || x == r.x || y + 1 == r.y + r.h || x + 1 == r.x + r.w;
                    let c = if border { edge } else { m.color };
                    let i = ((y * self.width + x) * 4) as usize;
                    out[i..i + 4].copy_from_slice(&c.0);
                }
            }
        }
        out
    }

    /// The final picture.
    pub fn end(&self) -> &[u8] {
        &self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;
    use pfnscope_core::Scenario;

    #[test]
    fn a_migration_travels_and_the_last_frame_is_the_new_picture() {
        let mut s = Session::new(&Scenario { steps: 3_000, ..Scenario::default() }, 640, 400).unwrap();
        s.follow = false;
        let steps = s.player.as_ref().unwrap().trace.steps.clone();
        // A step that moved a folio whose source and target are both in view.
        let (i, step) = steps
            .iter()
            .enumerate()
            .find(|(_, st)| st.target.is_some())
            .map(|(i, st)| (i, st.clone()))
            .expect("the default grab migrates");
        let src = step.range.unwrap();
        s.viewport = Viewport::frame(s.machine.pfn_span(), 640, 400, PfnRange::new(src.start.min(step.target.unwrap().start), src.end.max(step.target.unwrap().end)));
        s.seek(i.checked_sub(1));
        let before = s.render();
        s.seek(Some(i));
        let after = s.render();
        let tr = Transition::new(before.clone(), after.clone(), &s.viewport, &step, true);
        assert_eq!(tr.moves.len(), 1, "the folio moves");
        assert_eq!(tr.frame(0.0).len(), after.len());
        assert_eq!(tr.frame(1.0), after, "the last frame is exact");
        assert_eq!(tr.end(), &after[..]);
        let mid = tr.frame(0.5);
        assert_ne!(mid, before);
        assert_ne!(mid, after);
        // Halfway, the moving folio is drawn between its two places.
        let m = tr.moves[0];
        let (x, y) = ((m.from.x + m.to.x) / 2 + 1, (m.from.y + m.to.y) / 2 + 1);
        let i = ((y * 640 + x) * 4) as usize;
        assert_eq!(&mid[i..i + 3], &m.color.0[..3]);
        // Back over the same step, it travels home.
        let back = Transition::new(after, before, &s.viewport, &step, false);
        assert_eq!((back.moves[0].from, back.moves[0].to), (m.to, m.from));
    }
}
