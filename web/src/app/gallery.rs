//! Messages of the scenario gallery: fetch every built-in scenario's file,
//! draw their thumbnails one per tick, search, choose.

use pfnscope_view::gallery::{thumbnail, Card};

use super::*;

/// Thumbnail size in pixels.
pub const THUMB_W: u32 = 176;
pub const THUMB_H: u32 = 96;

/// The gallery while it is open.
pub struct Gallery {
    pub names: Vec<&'static str>,
    pub cards: Vec<Option<Card>>,
    scenarios: Vec<Option<Scenario>>,
    pub thumbs: Vec<Option<(u32, Rc<Vec<u8>>)>>,
    pub search: String,
    /// Files that could not be had, with why.
    pub errors: Vec<String>,
}

pub enum GalleryMsg {
    Open,
    Close,
    Text(usize, Result<String, String>),
    /// Draw the next missing thumbnail.
    Thumb,
    Search(String),
    Choose(&'static str),
}

impl App {
    pub(super) fn update_gallery(&mut self, ctx: &Context<Self>, msg: GalleryMsg) -> bool {
        match msg {
            GalleryMsg::Open => {
                let names: Vec<&'static str> = Scenario::builtins().collect();
                let n = names.len();
                for (i, name) in names.iter().enumerate() {
                    let link = ctx.link().clone();
                    let name = *name;
                    wasm_bindgen_futures::spawn_local(async move {
                        let text = match Scenario::builtin_text(name) {
                            Some(t) => Ok(t.to_string()),
                            None => crate::js::fetch_text(&format!("scenarios/{name}.scenario")).await,
                        };
                        link.send_message(Msg::Gallery(GalleryMsg::Text(i, text)));
                    });
                }
                self.gallery = Some(Gallery { names, cards: vec![None; n], scenarios: vec![None; n], thumbs: vec![None; n], search: String::new(), errors: vec![] });
                true
            }
            GalleryMsg::Close => self.gallery.take().is_some(),
            GalleryMsg::Text(i, text) => {
                let Some(g) = &mut self.gallery else { return false };
                match text.and_then(|t| Scenario::parse(&t).map_err(|e| e.to_string())) {
                    Ok(s) => {
                        g.cards[i] = Some(Card::of(g.names[i], &s));
                        g.scenarios[i] = Some(s);
                        ctx.link().send_message(Msg::Gallery(GalleryMsg::Thumb));
                    }
                    Err(e) => g.errors.push(format!("{}: {e}", g.names[i])),
                }
                true
            }
            GalleryMsg::Thumb => {
                let theme = self.session.as_ref().map_or(Theme::Light, |s| s.theme);
                let Some(g) = &mut self.gallery else { return false };
                let Some(i) = (0..g.names.len()).find(|&i| g.thumbs[i].is_none() && g.scenarios[i].is_some()) else { return false };
                let (h, px) = thumbnail(g.scenarios[i].as_ref().expect("found"), THUMB_W, THUMB_H, theme).unwrap_or_else(|_| (1, vec![0; (THUMB_W * 4) as usize]));
                g.thumbs[i] = Some((h, Rc::new(px)));
                // One thumbnail per tick keeps the page responsive.
                ctx.link().send_future(async {
                    yew::platform::time::sleep(Duration::from_millis(0)).await;
                    Msg::Gallery(GalleryMsg::Thumb)
                });
                true
            }
            GalleryMsg::Search(text) => {
                let Some(g) = &mut self.gallery else { return false };
                g.search = text;
                true
            }
            GalleryMsg::Choose(name) => {
                self.gallery = None;
                ctx.link().send_message(Msg::Scenario(ScenarioMsg::Open(Source::Builtin(name.into()), String::new())));
                true
            }
        }
    }
}
