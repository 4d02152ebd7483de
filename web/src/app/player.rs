//! Messages of the trace player: stepping, playing, animating.

use super::*;

/// Messages of the trace player: stepping, playing, animating.
pub enum PlayerMsg {
    TogglePlay,
    Speed(u32),
    Tick,
    StepBy(i64),
    Seek(Option<usize>),
    Jump(bool),
    /// The next frame of a step's animation.
    AnimFrame,
}

impl App {
    pub(super) fn update_player(&mut self, ctx: &Context<Self>, msg: PlayerMsg) -> bool {
        match msg {
            PlayerMsg::TogglePlay => {
                if self.playing.take().is_some() {
                    self.redraw_all();
                    return true;
                }
                let Some(s) = &mut self.session else { return false };
                let Some(p) = &s.player else { return false };
                if p.cursor == p.len().checked_sub(1) {
                    s.seek(None);
                    self.redraw();
                }
                let link = ctx.link().clone();
                let ms = 1000 / self.speed.max(1);
                self.playing = Some(gloo::timers::callback::Interval::new(ms, move || link.send_message(Msg::Player(PlayerMsg::Tick))));
                true
            }
            PlayerMsg::Speed(v) => {
                self.speed = v.clamp(1, 1000);
                if self.playing.is_some() {
                    self.playing = None;
                    ctx.link().send_message(Msg::Player(PlayerMsg::TogglePlay));
                }
                true
            }
            PlayerMsg::Tick => {
                let Some(s) = &mut self.session else { return false };
                let at_end = s.player.as_ref().is_none_or(|p| p.cursor == p.len().checked_sub(1));
                if at_end {
                    self.playing = None;
                    self.stop_recording();
                    // The minimap catches up once playback stops.
                    self.redraw_all();
                } else {
                    // Playback ticks redraw only the map: rendering the whole
                    // machine for the minimap on every step is too much work
                    // for large machines. Animations fit inside a tick.
                    let tick_ms = 1000.0 / self.speed.max(1) as f64;
                    self.step_player(ctx, &mut |s| s.step_by(1), tick_ms * 0.8);
                }
                true
            }
            PlayerMsg::StepBy(d) => self.move_player(ctx, &mut |s| s.step_by(d)),
            PlayerMsg::Seek(c) => self.move_player(ctx, &mut |s| s.seek(c)),
            PlayerMsg::Jump(fwd) => self.move_player(ctx, &mut |s| s.jump_to_event(fwd)),
            PlayerMsg::AnimFrame => self.anim_frame(ctx),
        }
    }

    pub(super) fn move_player(&mut self, ctx: &Context<Self>, f: &mut dyn FnMut(&mut Session)) -> bool {
        self.step_player(ctx, f, crate::animation::STEP_MS);
        // The minimap draws the whole machine: it catches up once the
        // steps pause, so a step costs only what it changed.
        let link = ctx.link().clone();
        self.minimap_timer = Some(gloo::timers::callback::Timeout::new(250, move || link.send_message(Msg::Map(MapMsg::Minimap))));
        true
    }

    /// Moves the player and animates the change when it is one step: a
    /// fade (with migrations travelling) in the same view, or a pan when
    /// the camera moved. Any running animation gives way at once.
    fn step_player(&mut self, ctx: &Context<Self>, f: &mut dyn FnMut(&mut Session), max_ms: f64) {
        use crate::animation::{now, Anim, AnimKind};
        self.anim = None;
        self.anim_timer = None;
        // A contiguity map being computed would mix two states.
        self.contiguity_job = None;
        let Some(s) = &mut self.session else { return };
        let before = s.player.as_ref().map(|p| p.cursor);
        // What is on screen now is the step's starting picture.
        let (before_v, before_px) = (s.viewport, self.pixels.clone());
        f(s);
        let after = s.player.as_ref().map(|p| p.cursor);
        // The new picture, redrawn where the step changed it.
        self.redraw();
        let Some(s) = &mut self.session else { return };
        let after_px = self.pixels.clone();
        let one_step = match (before, after) {
            (Some(a), Some(b)) => {
                let (a, b) = (a.map_or(-1, |i| i as i64), b.map_or(-1, |i| i as i64));
                (b - a).abs() == 1
            }
            _ => false,
        };
        // A pan renders a whole picture per frame: only when that is cheap,
        // one page or more to a pixel.
        let cheap = s.viewport.pfns_per_px() == 1;
        let dur = max_ms.min(crate::animation::STEP_MS);
        let kind = if !ctx.props().animate || !one_step || dur < 40.0 || s.viewport.zoom != before_v.zoom || before_px.len() != after_px.len() {
            None
        } else {
            let (a, b) = (before.flatten(), after.flatten());
            let forward = b.map_or(-1, |i| i as i64) > a.map_or(-1, |i| i as i64);
            let crossed = if forward { b } else { a };
            crossed.and_then(|i| {
                let step = s.player.as_ref().expect("stepped").trace.steps[i].clone();
                let to = s.viewport;
                if to == before_v {
                    Some(AnimKind::Fade(Box::new(pfnscope_view::animate::Transition::new((*before_px).clone(), (*after_px).clone(), &to, &step, forward))))
                } else if cheap {
                    // The camera moves first over the old state; the step
                    // then plays in the new view.
                    let old_here = s.render_at(a, &to);
                    let fade = pfnscope_view::animate::Transition::new(old_here, (*after_px).clone(), &to, &step, forward);
                    Some(AnimKind::PanThenFade { from: before_v, to, old: a, fade: Box::new(fade) })
                } else {
                    None
                }
            })
        };
        if let Some(kind) = kind {
            self.anim = Some(Anim { kind, start: now(), dur });
            ctx.link().send_message(Msg::Player(PlayerMsg::AnimFrame));
        }
    }

    /// Draws the animation's frame for now, and asks for the next one.
    fn anim_frame(&mut self, ctx: &Context<Self>) -> bool {
        use crate::animation::{now, pan_view, AnimKind};
        let (Some(a), Some(s)) = (&self.anim, &mut self.session) else { return false };
        let t = a.progress(now());
        if t >= 1.0 {
            self.anim = None;
            self.anim_timer = None;
            self.redraw();
            return true;
        }
        self.pixels = Rc::new(match &a.kind {
            AnimKind::Fade(tr) => tr.frame(t),
            AnimKind::PanThenFade { from, to, old, fade } => {
                let share = crate::animation::PAN_SHARE;
                if t < share {
                    s.render_at(*old, &pan_view(from, to, t / share))
                } else {
                    fade.frame((t - share) / (1.0 - share))
                }
            }
        });
        self.version += 1;
        let link = ctx.link().clone();
        self.anim_timer = Some(gloo::timers::callback::Timeout::new(16, move || link.send_message(Msg::Player(PlayerMsg::AnimFrame))));
        true
    }
}
