//! Messages of the PFN map: the view, the camera, the mouse.

use super::*;

/// Messages of the PFN map: the view, the camera, the mouse.
pub enum MapMsg {
    Zoom(i32, Option<(u32, u32)>),
    Fit,
    Scroll(i64),
    /// Centre the map on a PFN (a minimap click).
    JumpTo(u64),
    Hover(u32, u32),
    Leave,
    /// Frame a page on the map and outline it (a blocker clicked).
    Focus(u64, u64),
    /// The camera follows the played operation, or stays where the user
    /// put it.
    ToggleFollow,
    /// The window changed size: the map follows.
    Resize,
    /// Pick the operation's range on the map: the next two clicks.
    PickRange,
    Click(u32, u32),
    /// Redraw the minimap (after the steps pause).
    Minimap,
}

impl App {
    pub(super) fn update_map(&mut self, ctx: &Context<Self>, msg: MapMsg) -> bool {
        match msg {
            MapMsg::Minimap => {
                self.minimap_timer = None;
                let Some(s) = &self.session else { return false };
                let (v, px) = s.minimap(MINIMAP_W, MINIMAP_H);
                self.minimap = Some((v, Rc::new(px)));
                self.version += 1;
                true
            }
            MapMsg::Resize => {
                let (w, h) = map_size(ctx.props().embed);
                self.move_view(&mut |s| {
                    s.resize(w, h);
                    s.follow_step();
                })
            }
            MapMsg::PickRange => {
                self.picking = if self.picking.is_some() { None } else { Some(0) };
                true
            }
            MapMsg::Click(x, y) => {
                let (Some(p), Some(s)) = (self.picking, &self.session) else { return false };
                let Some(hit) = s.viewport.hit(x, y) else { return false };
                if p == 0 {
                    self.form.op_args[0] = format!("{:#x}", hit.pfn);
                    self.picking = Some(1);
                } else {
                    let start = pfnscope_view::session::parse_pfn(&self.form.op_args[0]).unwrap_or(hit.pfn);
                    let (a, b) = (start.min(hit.pfn), start.max(hit.pfn) + hit.count);
                    self.form.op_args[0] = format!("{a:#x}");
                    self.form.op_args[1] = format!("{b:#x}");
                    self.picking = None;
                    self.notice = Some(Notice::Info(format!("picked {a:#x}-{b:#x} ({} pages)", b - a)));
                }
                true
            }
            MapMsg::Zoom(dz, at) => {
                self.hover = None;
                self.move_view(&mut |s| {
                    let (x, y) = at.unwrap_or((s.viewport.width / 2, s.viewport.height / 2));
                    s.follow = false;
                    let v = s.room_view().zoom_at(x, y, dz);
                    s.set_view(v);
                })
            }
            MapMsg::Fit => self.move_view(&mut |s| {
                s.follow = false;
                s.fit();
            }),
            MapMsg::JumpTo(pfn) => self.move_view(&mut |s| {
                s.follow = false;
                s.jump_to(pfn);
            }),
            MapMsg::Scroll(rows) => self.move_view(&mut |s| {
                s.follow = false;
                let v = s.room_view().scroll(rows);
                s.set_view(v);
            }),
            MapMsg::Hover(x, y) => {
                let Some(s) = &self.session else { return false };
                self.hover = s.viewport.hit(x, y).and_then(|h| {
                    describe(&s.machine, h.pfn).map(|info| Hover { x, y, info, in_strip: h.in_strip, count: h.count })
                });
                true
            }
            MapMsg::Leave => {
                self.hover = None;
                true
            }
            MapMsg::Focus(pfn, pages) => self.move_view(&mut |s| {
                s.follow = false;
                s.focus_on(pfn, pages);
            }),
            MapMsg::ToggleFollow => self.move_view(&mut |s| {
                s.follow = !s.follow;
                s.follow_step();
            }),
        }
    }
}
