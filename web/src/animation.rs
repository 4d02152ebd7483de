//! Animated steps: the app's side of `pfnscope_view::animate`. A step
//! fades what it changed and moves what it migrated; when the camera moved
//! instead, the view pans. Each animation ends on the exact native picture,
//! gives way at once to the next step, and is off when the user prefers
//! reduced motion.

use pfnscope_view::animate::Transition;
use pfnscope_view::viewport::Viewport;

/// How long a step animates, at most.
pub const STEP_MS: f64 = 300.0;

/// What is animating.
pub enum AnimKind {
    /// The same view, from the old picture to the new.
    Fade(Box<Transition>),
    /// The camera moving from one view to another over the old state,
    /// then the step's fade in the new view.
    PanThenFade { from: Viewport, to: Viewport, old: Option<usize>, fade: Box<Transition> },
}

/// The share of a pan-then-fade spent panning.
pub const PAN_SHARE: f64 = 0.4;

/// A running animation.
pub struct Anim {
    pub kind: AnimKind,
    pub start: f64,
    pub dur: f64,
}

impl Anim {
    /// Progress in 0..=1 at `now`.
    pub fn progress(&self, now: f64) -> f64 {
        if self.dur <= 0.0 {
            1.0
        } else {
            ((now - self.start) / self.dur).clamp(0.0, 1.0)
        }
    }
}

/// The view at `t` of a pan: rows move, the zoom snaps at the end.
pub fn pan_view(from: &Viewport, to: &Viewport, t: f64) -> Viewport {
    if from.zoom != to.zoom || t >= 1.0 {
        return *to;
    }
    let t = t.clamp(0.0, 1.0);
    let e = t * t * (3.0 - 2.0 * t);
    let top = from.top_row as f64 + (to.top_row as f64 - from.top_row as f64) * e;
    Viewport { top_row: top.round() as u64, ..*to }
}

/// Milliseconds since the page loaded.
pub fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// The user asked the system for less motion.
pub fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
        .is_some_and(|m| m.matches())
}
