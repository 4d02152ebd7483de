//! Traces: what an operation did, step by step, in the kernel's words.
//!
//! A step names the kernel function it models, the call stack it sits in,
//! the PFN range it touched, a one-line explanation, and the span of the
//! store's journal it wrote. The journal span is what makes a step playable
//! in both directions (see [`crate::store`]).

use serde::{Deserialize, Serialize};

use crate::geometry::PfnRange;

/// The Linux version every step links to.
pub const KERNEL_VERSION: &str = "v6.12";

macro_rules! kernel_fns {
    ($($variant:ident => $name:literal in $file:literal,)*) => {
        /// A kernel function the model reproduces.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum KernelFn { $($variant,)* }

        impl KernelFn {
            /// Every modelled function.
            pub const ALL: &'static [KernelFn] = &[$(KernelFn::$variant,)*];

            /// The C identifier.
            pub const fn name(self) -> &'static str {
                match self { $(KernelFn::$variant => $name,)* }
            }
            /// The source file that defines it in 6.12.
            pub const fn file(self) -> &'static str {
                match self { $(KernelFn::$variant => $file,)* }
            }
        }
    };
}

kernel_fns! {
    AllocPages => "__alloc_pages_noprof" in "mm/page_alloc.c",
    GetPageFromFreelist => "get_page_from_freelist" in "mm/page_alloc.c",
    ZoneWatermarkOk => "__zone_watermark_ok" in "mm/page_alloc.c",
    Rmqueue => "rmqueue" in "mm/page_alloc.c",
    RmqueueBuddy => "rmqueue_buddy" in "mm/page_alloc.c",
    RmqueuePcplist => "rmqueue_pcplist" in "mm/page_alloc.c",
    RmqueueBulk => "rmqueue_bulk" in "mm/page_alloc.c",
    Rmqueue_ => "__rmqueue" in "mm/page_alloc.c",
    RmqueueSmallest => "__rmqueue_smallest" in "mm/page_alloc.c",
    RmqueueCmaFallback => "__rmqueue_cma_fallback" in "mm/page_alloc.c",
    RmqueueFallback => "__rmqueue_fallback" in "mm/page_alloc.c",
    FindSuitableFallback => "find_suitable_fallback" in "mm/page_alloc.c",
    StealSuitableFallback => "steal_suitable_fallback" in "mm/page_alloc.c",
    MoveFreepagesBlock => "__move_freepages_block" in "mm/page_alloc.c",
    ChangePageblockRange => "change_pageblock_range" in "mm/page_alloc.c",
    BoostWatermark => "boost_watermark" in "mm/page_alloc.c",
    Expand => "expand" in "mm/page_alloc.c",
    PrepNewPage => "prep_new_page" in "mm/page_alloc.c",
    ReserveHighatomicPageblock => "reserve_highatomic_pageblock" in "mm/page_alloc.c",
    UnreserveHighatomicPageblock => "unreserve_highatomic_pageblock" in "mm/page_alloc.c",
    FreePages => "__free_pages" in "mm/page_alloc.c",
    FreeUnrefPage => "free_unref_page" in "mm/page_alloc.c",
    FreePcppagesBulk => "free_pcppages_bulk" in "mm/page_alloc.c",
    FreeOnePage => "__free_one_page" in "mm/page_alloc.c",
    DrainAllPages => "drain_all_pages" in "mm/page_alloc.c",
    DrainPagesZone => "drain_pages_zone" in "mm/page_alloc.c",
    IsolateFreePage => "__isolate_free_page" in "mm/page_alloc.c",
    PutbackIsolatedPage => "__putback_isolated_page" in "mm/page_alloc.c",
    FindLargeBuddy => "find_large_buddy" in "mm/page_alloc.c",
    SplitLargeBuddy => "split_large_buddy" in "mm/page_alloc.c",
    MoveFreepagesBlockIsolate => "move_freepages_block_isolate" in "mm/page_alloc.c",
    StartIsolatePageRange => "start_isolate_page_range" in "mm/page_isolation.c",
    IsolateSinglePageblock => "isolate_single_pageblock" in "mm/page_isolation.c",
    SetMigratetypeIsolate => "set_migratetype_isolate" in "mm/page_isolation.c",
    HasUnmovablePages => "has_unmovable_pages" in "mm/page_isolation.c",
    UnsetMigratetypeIsolate => "unset_migratetype_isolate" in "mm/page_isolation.c",
    UndoIsolatePageRange => "undo_isolate_page_range" in "mm/page_isolation.c",
    TestPagesIsolated => "test_pages_isolated" in "mm/page_isolation.c",
    AllocContigRange => "alloc_contig_range_noprof" in "mm/page_alloc.c",
    AllocContigMigrateRange => "__alloc_contig_migrate_range" in "mm/page_alloc.c",
    IsolateMigratepagesRange => "isolate_migratepages_range" in "mm/compaction.c",
    IsolateFreepagesRange => "isolate_freepages_range" in "mm/compaction.c",
    ReclaimCleanPagesFromList => "reclaim_clean_pages_from_list" in "mm/vmscan.c",
    MigratePages => "migrate_pages" in "mm/migrate.c",
    MigratePagesSync => "migrate_pages_sync" in "mm/migrate.c",
    MigratePagesBatch => "migrate_pages_batch" in "mm/migrate.c",
    MigrateFolioUnmap => "migrate_folio_unmap" in "mm/migrate.c",
    FolioLock => "__folio_lock" in "mm/filemap.c",
    FolioWaitWriteback => "folio_wait_writeback" in "mm/page-writeback.c",
    PutbackMovablePages => "putback_movable_pages" in "mm/migrate.c",
    LruCacheDisable => "lru_cache_disable" in "mm/swap.c",
    SplitFreePages => "split_free_pages" in "mm/page_alloc.c",
    FreeContigRange => "free_contig_range" in "mm/page_alloc.c",
    AllocContigPages => "alloc_contig_pages_noprof" in "mm/page_alloc.c",
    PfnRangeValidContig => "pfn_range_valid_contig" in "mm/page_alloc.c",
    CmaAlloc => "__cma_alloc" in "mm/cma.c",
    CmaRelease => "cma_release" in "mm/cma.c",
    CmaActivateArea => "cma_activate_area" in "mm/cma.c",
    OfflinePages => "offline_pages" in "mm/memory_hotplug.c",
    ScanMovablePages => "scan_movable_pages" in "mm/memory_hotplug.c",
    DoMigrateRange => "do_migrate_range" in "mm/memory_hotplug.c",
    OfflineIsolatedPages => "__offline_isolated_pages" in "mm/page_alloc.c",
    OnlinePages => "online_pages" in "mm/memory_hotplug.c",
    ZonePcpDisable => "zone_pcp_disable" in "mm/page_alloc.c",
    VirtioMemSbmUnplugRequest => "virtio_mem_sbm_unplug_request" in "drivers/virtio/virtio_mem.c",
    VirtioMemSbmPlugRequest => "virtio_mem_sbm_plug_request" in "drivers/virtio/virtio_mem.c",
    VirtioMemFakeOffline => "virtio_mem_fake_offline" in "drivers/virtio/virtio_mem.c",
    VirtioMemFakeOnline => "virtio_mem_fake_online" in "drivers/virtio/virtio_mem.c",
    AllocContigRangeV4 => "alloc_contig_range" in "mm/page_alloc.c",
    SetMigratetypeIsolateV4 => "set_migratetype_isolate" in "mm/page_isolation.c",
    HasUnmovablePagesV4 => "has_unmovable_pages" in "mm/page_alloc.c",
    MigratePrepV4 => "migrate_prep" in "mm/migrate.c",
    SetMigratetypeIsolate2010 => "set_migratetype_isolate" in "mm/page_alloc.c",
    AllocContigFreedPages2010 => "alloc_contig_freed_pages" in "mm/page_alloc.c",
    AllocContigPages2010 => "alloc_contig_pages" in "mm/page_isolation.c",
    FindContigBlock2010 => "__find_contig_block" in "mm/page_isolation.c",
    DoMigrateRange2010 => "do_migrate_range" in "mm/page_isolation.c",
    PinUserPages => "pin_user_pages" in "mm/gup.c",
    BreakDownBuddyPages => "break_down_buddy_pages" in "mm/page_alloc.c",
    CheckAndMigrateMovablePages => "check_and_migrate_movable_pages" in "mm/gup.c",
    PageReportingRegister => "page_reporting_register" in "mm/page_reporting.c",
    PageReportingRequest => "__page_reporting_request" in "mm/page_reporting.c",
    PageReportingProcess => "page_reporting_process" in "mm/page_reporting.c",
    PageReportingProcessZone => "page_reporting_process_zone" in "mm/page_reporting.c",
    PageReportingCycle => "page_reporting_cycle" in "mm/page_reporting.c",
    PageReportingDrain => "page_reporting_drain" in "mm/page_reporting.c",
    VirtballoonFreePageReport => "virtballoon_free_page_report" in "drivers/virtio/virtio_balloon.c",
    WalkFreeMemBlock => "walk_free_mem_block" in "mm/page_alloc.c",
    WalkFreePageList => "walk_free_page_list" in "mm/page_alloc.c",
    ReportPfnRange2017 => "report_pfn_range" in "drivers/virtio/virtio_balloon.c",
    MoveFreepages2013 => "move_freepages" in "mm/page_alloc.c",
    DelFromRegionAllocator2013 => "__del_from_region_allocator" in "mm/page_alloc.c",
    AddToRegionAllocator2013 => "add_to_region_allocator" in "mm/page_alloc.c",
    Kmempowerd2013 => "kmempowerd" in "mm/page_alloc.c",
}

impl KernelFn {
    /// The kernel the function's behaviour is taken from: v6.12, the
    /// kernel of a historical variant (v4.9 for seed 001, v2.6.36 for the
    /// mainline code seed 002 calls), or a patch that was never merged: the
    /// 2010 RFC (seed 002) or the 2017 free page walk (seed 004). The
    /// callback `report_pfn_range` is named after the seed's parameter:
    /// the driver function the seed's series passed is not in the seed.
    /// The 2013 region allocator's steps (seed 003, v4 series) use the names
    /// the seed and its cover letters give (`move_freepages`,
    /// `__del_from_region_allocator`, `kmempowerd`);
    /// `add_to_region_allocator` is named after its counterpart.
    pub const fn version(self) -> &'static str {
        match self {
            KernelFn::AllocContigRangeV4 | KernelFn::SetMigratetypeIsolateV4 | KernelFn::HasUnmovablePagesV4 | KernelFn::MigratePrepV4 => "v4.9",
            KernelFn::SetMigratetypeIsolate2010 => "v2.6.36",
            KernelFn::AllocContigPages2010 | KernelFn::FindContigBlock2010 | KernelFn::DoMigrateRange2010 | KernelFn::AllocContigFreedPages2010 => "2010 RFC",
            KernelFn::WalkFreeMemBlock | KernelFn::WalkFreePageList | KernelFn::ReportPfnRange2017 => "2017 patch",
            KernelFn::MoveFreepages2013 | KernelFn::DelFromRegionAllocator2013 | KernelFn::AddToRegionAllocator2013 | KernelFn::Kmempowerd2013 => "2013 v4 series",
            _ => KERNEL_VERSION,
        }
    }

    /// A link to the function at the modelled version: Elixir's identifier
    /// page, which lists its definition in `file()` at v6.12.
    pub fn source_url(self) -> String {
        match self.version() {
            // The 2010 RFC was never merged: link its mail.
            "2010 RFC" => "https://lore.kernel.org/all/20100903192943.6B3B.A69D9226@jp.fujitsu.com/".into(),
            // Seed 004 was posted in many versions: search the archive.
            "2017 patch" => "https://lore.kernel.org/all/?q=walk_free_mem_block".into(),
            "2013 v4 series" => "https://lore.kernel.org/all/?q=%22Region+Allocator%22+Srivatsa".into(),
            v => format!("https://elixir.bootlin.com/linux/{v}/C/ident/{}", self.name()),
        }
    }
}

impl std::fmt::Display for KernelFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a step matters to someone following the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// Ordinary progress.
    Action,
    /// A choice the kernel made (a fallback type, claiming a block).
    Decision,
    /// Something failed (a watermark check, an isolation).
    Failure,
}

/// One step of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub func: KernelFn,
    /// The callers, outermost first; `func` is not repeated here.
    pub stack: Vec<KernelFn>,
    pub range: Option<PfnRange>,
    /// A second range the step moved something to (a migration target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<PfnRange>,
    pub kind: StepKind,
    pub text: String,
    /// The journal position after this step's writes.
    pub journal_end: usize,
}

/// Records steps while an operation runs.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    stack: Vec<KernelFn>,
    steps: Vec<Step>,
}

impl Recorder {
    pub fn enter(&mut self, f: KernelFn) {
        self.stack.push(f);
    }
    pub fn leave(&mut self) {
        self.stack.pop();
    }
    /// Records a step in the innermost function entered.
    pub fn step(&mut self, kind: StepKind, range: Option<PfnRange>, text: String, journal_end: usize) {
        self.step_to(kind, range, None, text, journal_end);
    }

    /// Records a step that moved something from `range` to `target`.
    pub fn step_to(&mut self, kind: StepKind, range: Option<PfnRange>, target: Option<PfnRange>, text: String, journal_end: usize) {
        let (func, stack) = match self.stack.split_last() {
            Some((f, rest)) => (*f, rest.to_vec()),
            None => return,
        };
        self.steps.push(Step { func, stack, range, target, kind, text, journal_end });
    }
    pub fn into_steps(self) -> Vec<Step> {
        self.steps
    }
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

/// A finished operation's trace: its steps and the journal span they cover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// What was asked, e.g. `alloc_pages(order=3, GFP_KERNEL)`.
    pub title: String,
    /// The journal position before the first step.
    pub journal_start: usize,
    pub steps: Vec<Step>,
}

impl Trace {
    /// The journal position to seek to for the state after step `i`
    /// (`None` = before the first step).
    pub fn position_after(&self, i: Option<usize>) -> usize {
        match i {
            None => self.journal_start,
            Some(i) => self.steps.get(i).or(self.steps.last()).map_or(self.journal_start, |s| s.journal_end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_links_to_its_modelled_version() {
        for f in KernelFn::ALL {
            let url = f.source_url();
            match f.version() {
                "2010 RFC" | "2017 patch" | "2013 v4 series" => assert!(url.starts_with("https://lore.kernel.org/")),
                v => {
                    assert!(url.starts_with(&format!("https://elixir.bootlin.com/linux/{v}/C/ident/")), "{url}");
                    assert!(url.ends_with(f.name()));
                }
            }
            assert!(f.file().starts_with("mm/") || f.file().starts_with("drivers/"));
        }
        assert_eq!(KernelFn::FreeOnePage.name(), "__free_one_page");
    }

    #[test]
    fn steps_carry_their_call_stack() {
        let mut r = Recorder::default();
        r.enter(KernelFn::Rmqueue);
        r.enter(KernelFn::RmqueueSmallest);
        r.step(StepKind::Action, None, "took a block".into(), 3);
        r.leave();
        r.step(StepKind::Action, None, "done".into(), 4);
        let steps = r.into_steps();
        assert_eq!(steps[0].func, KernelFn::RmqueueSmallest);
        assert_eq!(steps[0].stack, vec![KernelFn::Rmqueue]);
        assert_eq!(steps[1].func, KernelFn::Rmqueue);
        assert!(steps[1].stack.is_empty());
    }
}
