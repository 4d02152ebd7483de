//! Messages that open scenarios (a built-in by name, a link's packed
//! scenario, a file the user chose), share the current picture as a link,
//! and move through a lesson's checkpoints.

use pfnscope_view::link::{Link, Source};

use super::*;

/// A scenario's text that arrived (fetched, unpacked or read).
pub struct Incoming {
    /// The built-in's name, when it is one.
    pub name: Option<String>,
    /// What it is called in messages.
    pub what: String,
    pub text: Result<String, String>,
    /// The URL query whose overrides apply to it.
    pub query: String,
    /// A file the user chose: kept in this browser for the gallery.
    pub keep: bool,
}

pub enum ScenarioMsg {
    /// Open a scenario, applying a URL's overrides (its query) once read.
    Open(Source, String),
    Text(Incoming),
    /// A scenario file was chosen or dropped.
    File(web_sys::File),
    /// Save the current scenario as a file.
    Export,
    /// Make a link to this picture and copy it.
    Share,
    Shared(Result<String, String>),
    /// The lesson's next (true) or previous checkpoint.
    Checkpoint(bool),
    /// Save the map (`map`) or the charts (`charts`, one PNG each) as PNG.
    Png(&'static str),
    /// Record the trace as a video from this step (from the start when at
    /// the end), or stop.
    Record,
}

impl App {
    pub(super) fn update_scenario(&mut self, ctx: &Context<Self>, msg: ScenarioMsg) -> bool {
        match msg {
            ScenarioMsg::Open(source, query) => {
                let link = ctx.link().clone();
                self.notice = Some(Notice::Info("opening the scenario…".into()));
                wasm_bindgen_futures::spawn_local(async move {
                    let incoming = match source {
                        Source::Default | Source::Builtin(_) => {
                            let n = match source {
                                Source::Builtin(n) => n,
                                _ => "default".to_string(),
                            };
                            let text = match Scenario::builtin_text(&n) {
                                Some(t) => Ok(t.to_string()),
                                None => crate::js::fetch_text(&format!("scenarios/{n}.scenario")).await,
                            };
                            Incoming { what: format!("scenario {n}"), name: Some(n), text, query, keep: false }
                        }
                        Source::Inline(p) => Incoming { name: None, what: "the link's scenario".into(), text: crate::js::unpack(&p).await, query, keep: false },
                    };
                    link.send_message(Msg::Scenario(ScenarioMsg::Text(incoming)));
                });
                true
            }
            ScenarioMsg::Text(Incoming { name, what, text, query, keep }) => {
                let parsed = text.and_then(|t| {
                    let s = Scenario::parse(&t).map_err(|e| e.to_string())?;
                    // A good file is kept in this browser: the gallery
                    // lists it under "Your scenarios".
                    if keep {
                        super::gallery::keep_own_scenario(&t, &s.title);
                    }
                    pfnscope_view::session::apply_query(s, &query)
                });
                match parsed {
                    Ok(s) => {
                        // A built-in opened by name, unchanged, is shared by name.
                        self.builtin = name.filter(|_| !pfnscope_view::link::has_overrides(&query));
                        self.open_scenario(ctx, s);
                    }
                    // Nothing is half-loaded: the current view stays, or, when
                    // a link's scenario was to be the first, the default opens.
                    Err(e) => {
                        self.pending_link = None;
                        if self.session.is_none() && self.build.is_none() {
                            self.notice = Some(Notice::Error(format!("{what}: {e}; showing the default scenario")));
                            self.builtin = Some("default".into());
                            self.begin_build(ctx, &Scenario::default());
                        } else {
                            self.notice = Some(Notice::Error(format!("{what}: {e}")));
                        }
                    }
                }
                true
            }
            ScenarioMsg::File(file) => {
                let name = file.name();
                let link = ctx.link().clone();
                self.reader = Some(gloo::file::callbacks::read_as_text(&gloo::file::File::from(file), move |r| {
                    let text = r.map_err(|e| e.to_string());
                    link.send_message(Msg::Scenario(ScenarioMsg::Text(Incoming { name: None, what: name, text, query: String::new(), keep: true })));
                }));
                true
            }
            ScenarioMsg::Export => {
                let Some(s) = &self.session else { return false };
                let name = format!("{}.scenario", self.builtin.clone().unwrap_or_else(|| "my".into()));
                let r = crate::export::download_text(&name, &s.scenario.to_text());
                self.report(r.map(|()| format!("saved {name}: edit it and open it again with \"open scenario file\"")));
                true
            }
            ScenarioMsg::Share => {
                let Some(s) = &self.session else { return false };
                if s.scenario.machine == "imported" {
                    self.notice = Some(Notice::Error("an imported machine has no scenario to put in a link; share its snapshot file instead".into()));
                    return true;
                }
                let base = Link { compare: self.compare.as_ref().map(|c| c.cmp.contest.against()), ..Link::of(s, Source::Default, false) };
                let embed = ctx.props().embed;
                let text = s.scenario.to_text();
                let named = self.builtin.clone();
                let link = ctx.link().clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let source = match named {
                        Some(n) if n == "default" => Ok(Source::Default),
                        Some(n) => Ok(Source::Builtin(n)),
                        None => crate::js::pack(&text).await.map(Source::Inline),
                    };
                    let url = source.map(|source| {
                        let here = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
                        let page = here.split(['?', '#']).next().unwrap_or_default().to_string();
                        page + &Link { source, ..base }.to_query()
                    });
                    // Embedded, the link opens the full app instead of
                    // touching the reader's clipboard.
                    let url = match url {
                        Ok(u) if embed => Ok(u),
                        Ok(u) => crate::js::copy(&u).await.map(|()| u.clone()).or(Ok(u)),
                        Err(e) => Err(e),
                    };
                    link.send_message(Msg::Scenario(ScenarioMsg::Shared(url)));
                });
                false
            }
            ScenarioMsg::Shared(url) => {
                match url {
                    Ok(u) if ctx.props().embed => {
                        if let Some(w) = web_sys::window() {
                            let _ = w.open_with_url_and_target(&u, "_blank");
                        }
                    }
                    Ok(u) => {
                        self.share_url = Some(u);
                        self.notice = Some(Notice::Info("link copied: it reopens this scenario at this step and view".into()));
                    }
                    Err(e) => self.notice = Some(Notice::Error(format!("no link: {e}"))),
                }
                true
            }
            ScenarioMsg::Checkpoint(forward) => self.move_player(ctx, &mut |s| if forward { s.next_checkpoint() } else { s.previous_checkpoint() }),
            ScenarioMsg::Png(what) => {
                let r = match what {
                    "map" => crate::export::download_png(&crate::export::MAP_LAYERS, "pfnscope-map.png", 1).map(|()| "saved the map as pfnscope-map.png"),
                    _ => crate::export::download_png(&["charts"], "pfnscope-chart.png", 3).map(|()| "saved the three charts as pfnscope-chart-1.png to -3.png"),
                };
                self.report(r.map(str::to_string));
                true
            }
            ScenarioMsg::Record => {
                if self.recording {
                    self.stop_recording();
                    return true;
                }
                if self.session.as_ref().is_none_or(|s| s.player.is_none()) {
                    self.notice = Some(Notice::Error("nothing to record: run an operation first".into()));
                    return true;
                }
                if !crate::export::record_start() {
                    self.notice = Some(Notice::Error("this browser cannot record the canvas as video (MediaRecorder)".into()));
                    return true;
                }
                self.recording = true;
                // From this step, or from the start when the player is at
                // the end: a teacher records a range by stepping to its
                // start and stopping at its end.
                let at_end = self.session.as_ref().and_then(|s| s.player.as_ref()).is_some_and(|p| p.cursor == p.len().checked_sub(1));
                let from = if at_end { "the start" } else { "this step" };
                self.notice = Some(Notice::Info(format!("recording from {from}; press video again to stop before the end")));
                if let Some(s) = self.session.as_mut().filter(|_| at_end) {
                    s.seek(None);
                }
                self.redraw_all();
                self.playing = None;
                ctx.link().send_message(Msg::Player(PlayerMsg::TogglePlay));
                true
            }
        }
    }

    /// Ends a recording and downloads the video.
    pub(super) fn stop_recording(&mut self) {
        if std::mem::take(&mut self.recording) {
            crate::export::record_stop("pfnscope-trace.webm");
            self.notice = Some(Notice::Info("saved the video as pfnscope-trace.webm".into()));
        }
    }

    /// Loads a scenario: the form shows it, and it builds in chunks.
    pub(super) fn open_scenario(&mut self, ctx: &Context<Self>, s: Scenario) {
        self.playing = None;
        self.share_url = None;
        self.form = Form::from_scenario(&s);
        self.notice = None;
        self.begin_build(ctx, &s);
    }
}
