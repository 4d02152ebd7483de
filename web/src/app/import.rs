//! Messages of an import of a real machine.

use super::*;

/// Messages of an import of a real machine.
pub enum ImportMsg {
    /// A file was chosen or dropped: read it.
    File(web_sys::File),
    /// Bytes to import, with their source's name (after a tick, so the
    /// progress notice shows first).
    Bytes(String, Vec<u8>),
    Now,
    /// One chunk of the running import.
    Chunk,
    Failed(String),
    /// Import the pasted text.
    Paste,
}

impl App {
    pub(super) fn update_import(&mut self, ctx: &Context<Self>, msg: ImportMsg) -> bool {
        match msg {
            ImportMsg::File(file) => {
                let name = file.name();
                let link = ctx.link().clone();
                let n = name.clone();
                self.notice = Some(Notice::Info(format!("reading {name}…")));
                self.reader = Some(gloo::file::callbacks::read_as_bytes(&gloo::file::File::from(file), move |r| match r {
                    Ok(bytes) => link.send_message(Msg::Import(ImportMsg::Bytes(n, bytes))),
                    Err(e) => link.send_message(Msg::Import(ImportMsg::Failed(format!("{n}: {e}")))),
                }));
                true
            }
            ImportMsg::Bytes(name, bytes) if pfnscope_import::Snapshot::is_gzip(&bytes) => {
                // The browser decompresses; the bytes come back raw.
                let link = ctx.link().clone();
                self.notice = Some(Notice::Info(format!("decompressing {name} ({} KB)…", bytes.len() / 1024)));
                wasm_bindgen_futures::spawn_local(async move {
                    match crate::js::gunzip(&bytes).await {
                        Ok(raw) => link.send_message(Msg::Import(ImportMsg::Bytes(name, raw))),
                        Err(e) => link.send_message(Msg::Import(ImportMsg::Failed(format!("{name}: {e}")))),
                    }
                });
                true
            }
            ImportMsg::Bytes(name, bytes) => {
                self.reader = None;
                self.playing = None;
                self.notice = Some(Notice::Info(format!("importing {name} ({} KB)…", bytes.len() / 1024)));
                self.pending_import = Some((name, bytes));
                ctx.link().send_future(async {
                    yew::platform::time::sleep(Duration::from_millis(30)).await;
                    Msg::Import(ImportMsg::Now)
                });
                true
            }
            ImportMsg::Now => {
                let Some((name, bytes)) = self.pending_import.take() else { return false };
                match pfnscope_view::session::import_job(&name, &bytes) {
                    Ok(job) => {
                        self.import_job = Some((name, job));
                        ctx.link().send_message(Msg::Import(ImportMsg::Chunk));
                    }
                    Err(e) => self.notice = Some(Notice::Error(e)),
                }
                true
            }
            ImportMsg::Chunk => {
                let Some((name, job)) = &mut self.import_job else { return false };
                // About a million PFNs per tick keeps the page responsive.
                match job.advance(1 << 20) {
                    Ok(None) => {
                        ctx.link().send_future(async {
                            yew::platform::time::sleep(Duration::from_millis(0)).await;
                            Msg::Import(ImportMsg::Chunk)
                        });
                    }
                    Ok(Some(done)) => {
                        let name = name.clone();
                        self.import_job = None;
                        match pfnscope_view::session::check_import(&name, done) {
                            Ok(imported) => {
                                let notes = imported.notes.join("; ");
                                match &mut self.session {
                                    Some(s) => s.replace_with_import(imported, &name),
                                    None => self.session = Some(Session::from_import(imported, &name, ctx.props().width, ctx.props().height)),
                                }
                                self.frame = None;
                                self.notice = Some(Notice::Info(format!("imported {name}. {notes}")));
                                self.series = Rc::new(Vec::new());
                                self.redraw_all();
                            }
                            Err(e) => self.notice = Some(Notice::Error(e)),
                        }
                    }
                    Err(e) => {
                        self.import_job = None;
                        self.notice = Some(Notice::Error(e.to_string()));
                    }
                }
                true
            }
            ImportMsg::Paste => {
                let bytes = self.form.paste.clone().into_bytes();
                ctx.link().send_message(Msg::Import(ImportMsg::Bytes("pasted buddyinfo".into(), bytes)));
                false
            }
            ImportMsg::Failed(e) => {
                self.reader = None;
                self.notice = Some(Notice::Error(e));
                true
            }
        }
    }
}
