//! Messages of the comparison of kernels and the contiguity layer.

use super::*;

/// Messages of the comparison of kernels and the contiguity layer.
pub enum AnalysisMsg {
    /// Run the played operation's starting state through 6.12 and a variant.
    CompareOpen(Against),
    CompareStep(i64),
    CompareSeek(usize),
    CompareClose,
    /// Compute the contiguity layer for the form's size, in chunks.
    ContiguityStart,
    ContiguityChunk,
    ContiguityClear,
    /// Run one of the seeds' comparisons (after a tick, so the notice
    /// shows first).
    SeedRun(crate::seeds::SeedRun),
    SeedRunNow(crate::seeds::SeedRun),
    SeedClose,
    /// Give an imported machine the form's allocator and reporting.
    ApplyPolicies,
}

impl App {
    pub(super) fn update_analysis(&mut self, ctx: &Context<Self>, msg: AnalysisMsg) -> bool {
        match msg {
            AnalysisMsg::CompareOpen(against) => {
                let Some(s) = &mut self.session else { return false };
                self.playing = None;
                // Two maps across the page, below the header.
                let window_w = web_sys::window().and_then(|w| w.inner_width().ok()).and_then(|v| v.as_f64()).map_or(960, |w| w as u32);
                let w = (window_w.saturating_sub(80) / 2).clamp(200, 900);
                match CompareState::open(s, against, w, 280) {
                    Ok(st) => {
                        self.compare = Some(st);
                        self.notice = None;
                    }
                    Err(e) => self.notice = Some(Notice::Error(e)),
                }
                true
            }
            AnalysisMsg::ContiguityStart => {
                let Some(s) = &self.session else { return false };
                let page = s.machine.geometry().page_size();
                match pfnscope_view::session::parse_size(&self.form.contig_size, page) {
                    Ok(pages) => {
                        let label = pfnscope_view::contiguity::size_label(pages, page);
                        self.contiguity_job = Some((label, pfnscope_core::ContiguityJob::new(&s.machine, pages)));
                        self.notice = None;
                        ctx.link().send_message(Msg::Analysis(AnalysisMsg::ContiguityChunk));
                    }
                    Err(e) => self.notice = Some(Notice::Error(format!("window size: {e}"))),
                }
                true
            }
            AnalysisMsg::ContiguityChunk => {
                let (Some(s), Some((_, job))) = (&mut self.session, &mut self.contiguity_job) else { return false };
                // About 20 ms of work a chunk on a large machine.
                if job.advance(&s.machine, 2048) {
                    let (label, job) = self.contiguity_job.take().expect("checked");
                    let layer = pfnscope_view::contiguity::Layer::new(label, job.finish());
                    s.layer = Some(layer);
                    self.redraw_all();
                } else {
                    ctx.link().send_future(async {
                        yew::platform::time::sleep(Duration::from_millis(0)).await;
                        Msg::Analysis(AnalysisMsg::ContiguityChunk)
                    });
                }
                true
            }
            AnalysisMsg::ContiguityClear => {
                self.contiguity_job = None;
                let Some(s) = &mut self.session else { return false };
                s.layer = None;
                self.redraw_all();
                true
            }
            AnalysisMsg::SeedRun(what) => {
                self.notice = Some(Notice::Info("running the comparison…".into()));
                ctx.link().send_future(async move {
                    yew::platform::time::sleep(Duration::from_millis(30)).await;
                    Msg::Analysis(AnalysisMsg::SeedRunNow(what))
                });
                true
            }
            AnalysisMsg::SeedRunNow(what) => {
                let Some(s) = &self.session else { return false };
                let order = match self.form.reporting_order() {
                    Ok(o) => o.or(s.machine.reporting_status().map(|r| r.order)),
                    Err(e) => {
                        self.notice = Some(Notice::Error(e));
                        return true;
                    }
                };
                let result = match what {
                    crate::seeds::SeedRun::Reporting => pfnscope_view::seeds::reporting(&s.machine, 30, order),
                    crate::seeds::SeedRun::Migration => pfnscope_view::seeds::live_migration(&s.machine, order),
                    crate::seeds::SeedRun::Regions => {
                        let pages = s.machine.pfn_span().len();
                        let steps = (pages / 8).clamp(6_000, 200_000);
                        let cfg = pfnscope_core::regions::timeline::RegionTimelineConfig { steps, sample_every: steps / 12, region_pages: s.scenario.region_pages, ..Default::default() };
                        if s.scenario.machine == "imported" {
                            Err("the region comparison boots the scenario's machine twice; an imported machine cannot be booted again, so load a preset".into())
                        } else {
                            pfnscope_view::seeds::regions(&s.scenario, &cfg)
                        }
                    }
                };
                match result {
                    Ok(c) => {
                        self.notice = None;
                        self.seed_charts = Some(Rc::new(c));
                    }
                    Err(e) => self.notice = Some(Notice::Error(e)),
                }
                true
            }
            AnalysisMsg::SeedClose => {
                self.seed_charts = None;
                true
            }
            AnalysisMsg::ApplyPolicies => {
                let Some(s) = &mut self.session else { return false };
                let allocator = pfnscope_core::AllocatorPolicy::by_name(&self.form.allocator).unwrap_or_default();
                let reporting = pfnscope_core::ReportingPolicy::by_name(&self.form.reporting).unwrap_or_default();
                let r = self.form.reporting_order().and_then(|order| s.apply_policies(allocator, None, reporting, order));
                self.notice = Some(match r {
                    Ok(m) => Notice::Info(m),
                    Err(e) => Notice::Error(e),
                });
                self.frame = None;
                self.redraw_all();
                true
            }
            AnalysisMsg::CompareStep(d) => self.move_compare(&mut |c| c.step_by(d)),
            AnalysisMsg::CompareSeek(t) => self.move_compare(&mut |c| c.seek(t)),
            AnalysisMsg::CompareClose => {
                self.compare = None;
                true
            }

        }
    }

    /// Moves the comparison and redraws both of its maps.
    fn move_compare(&mut self, f: &mut dyn FnMut(&mut pfnscope_view::compare::Comparison)) -> bool {
        let (Some(c), Some(s)) = (&mut self.compare, &self.session) else { return false };
        f(&mut c.cmp);
        c.redraw(&s.palette());
        true
    }
}
