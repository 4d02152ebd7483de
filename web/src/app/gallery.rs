//! Messages of the scenario gallery: fetch every built-in scenario's file,
//! draw their thumbnails one per tick, search, choose.

use pfnscope_view::gallery::{stage, thumbnail_of, Card};

use super::*;

/// Thumbnail size in pixels.
pub const THUMB_W: u32 = 176;
pub const THUMB_H: u32 = 96;

/// The gallery's topic for the user's own scenario files.
pub const YOURS: &str = "Your scenarios";

/// The gallery while it is open: the user's own scenarios first, then
/// the built-ins.
pub struct Gallery {
    /// A built-in's name, or empty for one of the user's own.
    pub names: Vec<&'static str>,
    /// The user's own scenario files (kept in this browser), by index.
    pub own: Vec<Option<String>>,
    pub cards: Vec<Option<Card>>,
    scenarios: Vec<Option<Scenario>>,
    pub thumbs: Vec<Option<(u32, Rc<Vec<u8>>)>>,
    pub search: String,
    /// Files that could not be had, with why.
    pub errors: Vec<String>,
    /// The thumbnail being built, a chunk per tick: a lived-in machine
    /// takes seconds, and the page stays responsive.
    building: Option<(usize, Build)>,
    /// A tick is scheduled: one chain of ticks builds them all.
    ticking: bool,
}

pub enum GalleryMsg {
    Open,
    Close,
    Text(usize, Result<String, String>),
    /// Draw the next missing thumbnail.
    Thumb,
    Search(String),
    Choose(usize),
    /// Forget one of the user's own scenarios.
    Forget(usize),
}

impl App {
    pub(super) fn update_gallery(&mut self, ctx: &Context<Self>, msg: GalleryMsg) -> bool {
        match msg {
            GalleryMsg::Open => {
                let own = own_scenarios();
                let k = own.len();
                let mut names: Vec<&'static str> = vec![""; k];
                names.extend(Scenario::builtins());
                let n = names.len();
                for (i, text) in own.iter().enumerate() {
                    ctx.link().send_message(Msg::Gallery(GalleryMsg::Text(i, Ok(text.clone()))));
                }
                for (i, name) in names.iter().enumerate().skip(k) {
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
                let mut own: Vec<Option<String>> = own.into_iter().map(Some).collect();
                own.resize(n, None);
                self.gallery = Some(Gallery { names, own, cards: vec![None; n], scenarios: vec![None; n], thumbs: vec![None; n], search: String::new(), errors: vec![], building: None, ticking: false });
                true
            }
            GalleryMsg::Close => self.gallery.take().is_some(),
            GalleryMsg::Text(i, text) => {
                let Some(g) = &mut self.gallery else { return false };
                match text.and_then(|t| Scenario::parse(&t).map_err(|e| e.to_string())) {
                    Ok(s) => {
                        let mut card = Card::of(g.names[i], &s);
                        if g.own[i].is_some() {
                            card.topic = YOURS.into();
                        }
                        g.cards[i] = Some(card);
                        g.scenarios[i] = Some(s);
                        if !std::mem::replace(&mut g.ticking, true) {
                            ctx.link().send_message(Msg::Gallery(GalleryMsg::Thumb));
                        }
                    }
                    Err(e) => g.errors.push(format!("{}: {e}", g.names[i])),
                }
                true
            }
            GalleryMsg::Thumb => {
                let theme = self.session.as_ref().map_or(Theme::Light, |s| s.theme);
                let Some(g) = &mut self.gallery else { return false };
                if g.building.is_none() {
                    let Some(i) = (0..g.names.len()).find(|&i| g.thumbs[i].is_none() && g.scenarios[i].is_some()) else {
                        g.ticking = false;
                        return false;
                    };
                    match Session::start_build(&stage(g.scenarios[i].as_ref().expect("found"))) {
                        Ok(b) => g.building = Some((i, b)),
                        Err(_) => g.thumbs[i] = Some((1, Rc::new(vec![0; (THUMB_W * 4) as usize]))),
                    }
                }
                // One chunk of one build per tick keeps the page responsive.
                if let Some((i, b)) = &mut g.building {
                    let i = *i;
                    match b.advance() {
                        Ok(false) => {}
                        Ok(true) => {
                            let (_, b) = g.building.take().expect("building");
                            let (h, px) = thumbnail_of(&b.into_machine(), THUMB_W, THUMB_H, theme);
                            g.thumbs[i] = Some((h, Rc::new(px)));
                        }
                        Err(_) => {
                            g.building = None;
                            g.thumbs[i] = Some((1, Rc::new(vec![0; (THUMB_W * 4) as usize])));
                        }
                    }
                }
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
            GalleryMsg::Choose(i) => {
                let Some(g) = self.gallery.take() else { return false };
                let msg = match &g.own[i] {
                    Some(text) => ScenarioMsg::Text(super::scenario::Incoming { name: None, what: "your scenario".into(), text: Ok(text.clone()), query: String::new(), keep: false }),
                    None => ScenarioMsg::Open(Source::Builtin(g.names[i].into()), String::new()),
                };
                ctx.link().send_message(Msg::Scenario(msg));
                true
            }
            GalleryMsg::Forget(i) => {
                let Some(g) = &mut self.gallery else { return false };
                let Some(text) = g.own[i].take() else { return false };
                let kept: Vec<String> = own_scenarios().into_iter().filter(|t| *t != text).collect();
                crate::js::store_set(OWN_KEY, &kept.join(OWN_SEP));
                g.cards[i] = None;
                g.scenarios[i] = None;
                true
            }
        }
    }
}

/// Where the user's own scenario files are kept across reloads.
const OWN_KEY: &str = "pfnscope.scenarios";
/// Between two kept files: a line no scenario file holds.
const OWN_SEP: &str = "\n\u{1e}\n";
/// How many of the user's files are kept (the newest).
const OWN_MAX: usize = 24;

/// The user's own scenario files, newest first.
pub fn own_scenarios() -> Vec<String> {
    crate::js::store_get(OWN_KEY).map(|s| s.split(OWN_SEP).filter(|t| !t.trim().is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

/// Keeps a scenario file the user opened, replacing one of the same title.
pub fn keep_own_scenario(text: &str, title: &str) {
    let mut all = own_scenarios();
    all.retain(|t| Scenario::parse(t).map_or(true, |s| s.title != title));
    all.insert(0, text.to_string());
    all.truncate(OWN_MAX);
    crate::js::store_set(OWN_KEY, &all.join(OWN_SEP));
}
