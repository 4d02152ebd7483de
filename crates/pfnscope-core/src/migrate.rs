//! Migration for contiguous allocation (mm/migrate.c, mm/compaction.c,
//! mm/vmscan.c and `__alloc_contig_migrate_range` in mm/page_alloc.c,
//! v6.12): isolate in-use pages from the LRU, drop clean page cache, move
//! the rest to pages allocated elsewhere.

use crate::alloc::Gfp;
use crate::error::Errno;
use crate::geometry::{PfnRange, ZoneType};
use crate::machine::{Machine, VmEvent};
use crate::page::{InUse, PageFlags, PageKind, PageWord};
use crate::trace::{KernelFn, StepKind};

/// `COMPACT_CLUSTER_MAX`: folios isolated per batch.
pub const COMPACT_CLUSTER_MAX: usize = 32;
/// `NR_MAX_MIGRATE_PAGES_RETRY`: passes over the list per `migrate_pages()`.
pub const NR_MAX_MIGRATE_PAGES_RETRY: u32 = 10;
/// `NR_MAX_MIGRATE_ASYNC_RETRY` (6.3+): the async passes of a sync migration.
pub const NR_MAX_MIGRATE_ASYNC_RETRY: u32 = 3;
/// `NR_MAX_MIGRATE_SYNC_RETRY`: the passes each folio then gets alone.
pub const NR_MAX_MIGRATE_SYNC_RETRY: u32 = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY;

/// Which `migrate_pages()` loop a caller runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MigrateLoop {
    /// 6.12: async batch passes, then sync passes folio by folio.
    Batched,
    /// v4.x and 2.6.3x: ten passes over the list, waiting from the fourth.
    Legacy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PassMode {
    Async,
    Sync,
    Legacy,
}

/// `alloc_migration_target()` (v6.12): the caller's mask, plus
/// `__GFP_HIGHMEM` (and so ZONE_MOVABLE) only when the source folio is in
/// ZONE_MOVABLE or highmem.
pub(crate) fn alloc_migration_target(gfp: Gfp, src_in_movable: bool) -> Gfp {
    if src_in_movable {
        Gfp { name: "GFP_USER|__GFP_MOVABLE|__GFP_HIGHMEM", highest_zone: ZoneType::Movable, ..gfp }
    } else {
        gfp
    }
}

/// `isolate_migratepages_block()`'s pinned-anon test: the kernel takes
/// its own reference, then skips an anon folio (no mapping: not in the swap
/// cache) whose count, less that reference, exceeds its mapcount.
pub(crate) fn skips_pinned_anon(p: &InUse) -> bool {
    p.kind == PageKind::Anon && p.mapcount > 0 && p.refcount > p.mapcount as u16
}

/// `reclaim_clean_pages_from_list()`'s test: clean, unpinned page cache
/// that is neither locked nor under writeback is dropped, not migrated.
pub(crate) fn is_clean_cache(p: &InUse) -> bool {
    p.kind == PageKind::File && !p.flags.intersects(PageFlags::DIRTY | PageFlags::WRITEBACK | PageFlags::LOCKED) && p.pincount == 0
}

/// Migration of this folio gets -EAGAIN on every pass: it is pinned, or
/// holds references migration does not expect.
pub(crate) fn migration_fails(p: &InUse) -> bool {
    p.pincount > 0 || has_unexpected_refs(p)
}

/// References migration does not expect: more than an anon folio's
/// mappings, or a page-cache folio's mappings plus the cache's own
/// reference (`folio_expected_refs()`). An anon folio without mappings is
/// taken to be in the swap cache, which holds one reference.
fn has_unexpected_refs(p: &InUse) -> bool {
    let expected = match p.kind {
        PageKind::Anon => (p.mapcount as u16).max(1),
        PageKind::File => p.mapcount as u16 + 1,
        _ => return false,
    };
    p.refcount > expected
}
/// Outer tries in `__alloc_contig_migrate_range()` before -EBUSY.
pub const CONTIG_MIGRATE_TRIES: u32 = 5;

/// What one migration run did, for the caller's summary and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrateStats {
    /// Folios moved.
    pub migrated: u64,
    /// Clean page-cache folios dropped instead.
    pub reclaimed: u64,
    /// Folio migration attempts that got -EAGAIN.
    pub retries: u64,
    /// `migrate_pages()` calls.
    pub calls: u32,
    /// Folios left unmigrated when it gave up.
    pub failed: Vec<u64>,
    /// (old, new) head PFNs of migrated folios.
    pub moved: Vec<(u64, u64)>,
}

impl Machine {
    fn set_in_use(&mut self, pfn: u64, p: InUse) {
        self.set_page(pfn, PageWord::in_use(p));
    }

    /// `lru_cache_disable()`: drain every CPU's LRU batch and add new LRU
    /// folios straight to the LRU until `lru_cache_enable()`.
    pub(crate) fn lru_cache_disable(&mut self) {
        self.enter(KernelFn::LruCacheDisable);
        self.lru_add_drain_all();
        self.lru_disabled += 1;
        self.note(StepKind::Action, None, || "drained every per-cpu LRU batch; new LRU pages go straight to the LRU".into());
        self.leave();
    }

    pub(crate) fn lru_cache_enable(&mut self) {
        self.lru_disabled = self.lru_disabled.saturating_sub(1);
    }

    /// `isolate_migratepages_range()` (v6.12, alloc_contig mode): take up
    /// to COMPACT_CLUSTER_MAX movable folios off the LRU from `pfn` on.
    /// Free pages are skipped; anon pages with any reference beyond their
    /// mappings (most likely pinned) are left alone; pages still in a
    /// per-cpu LRU batch are not PageLRU and cannot be taken. Returns the
    /// folio heads and where the scan stopped.
    pub(crate) fn isolate_migratepages_range(&mut self, mut pfn: u64, end: u64, list: &mut Vec<u64>) -> u64 {
        self.enter(KernelFn::IsolateMigratepagesRange);
        let from = pfn;
        let mut skipped_pinned = Vec::new();
        while pfn < end && list.len() < COMPACT_CLUSTER_MAX {
            let w = self.page(pfn);
            if w.is_buddy() {
                pfn += 1 << w.order();
                continue;
            }
            let Some(p) = w.as_in_use() else {
                pfn += 1;
                continue;
            };
            let (head, order, hp) = self.folio_of(pfn, p);
            let next = head + (1 << order);
            let lru = hp.flags.contains(PageFlags::LRU) && !hp.flags.contains(PageFlags::ISOLATED);
            let movable_ops = hp.kind == PageKind::MovableOps && !hp.flags.contains(PageFlags::ISOLATED);
            let hugetlb = hp.kind == PageKind::Hugetlb && !hp.flags.contains(PageFlags::ISOLATED);
            if lru || movable_ops || hugetlb {
                if skips_pinned_anon(&hp) {
                    skipped_pinned.push(head);
                } else {
                    let q = InUse { flags: hp.flags.difference(PageFlags::LRU).union(PageFlags::ISOLATED), ..hp };
                    self.set_in_use(head, q);
                    list.push(head);
                }
            }
            pfn = next.max(pfn + 1);
        }
        let (n, skipped) = (list.len(), skipped_pinned.len());
        self.note(StepKind::Action, Some(PfnRange::new(from, pfn)), || {
            let pins = if skipped > 0 { format!("; skipped {skipped} pinned anon page(s) (more references than mappings)") } else { String::new() };
            format!("isolated {n} folio(s) from the LRU in {from:#x}-{pfn:#x}{pins}")
        });
        self.leave();
        pfn
    }

    /// Frees a folio we hold (refcount dropped to zero).
    fn release_folio(&mut self, head: u64, order: u8) {
        let zi = self.zone_of(head).expect("folio in a zone");
        self.set_page(head, PageWord::taken(order));
        self.set_pages(head + 1, (1 << order) - 1, PageWord::FREE_TAIL);
        self.free_unref_page(head, zi, order);
    }

    /// `reclaim_clean_pages_from_list()`: drop clean, unpinned page cache
    /// instead of migrating it. Returns how many folios went.
    pub(crate) fn reclaim_clean_pages_from_list(&mut self, list: &mut Vec<u64>) -> u64 {
        self.enter(KernelFn::ReclaimCleanPagesFromList);
        let mut n = 0;
        let mut i = 0;
        while i < list.len() {
            let head = list[i];
            let p = self.page(head).as_in_use().expect("isolated folio is in use");
            if is_clean_cache(&p) {
                list.swap_remove(i);
                self.migrations.push((head, None));
                self.release_folio(head, p.compound_order);
                n += 1;
            } else {
                i += 1;
            }
        }
        self.note(StepKind::Action, None, || format!("dropped {n} clean page-cache folio(s) instead of migrating them"));
        self.leave();
        n
    }

    /// `migrate_pages(MIGRATE_SYNC)` (v6.12), with targets from `target`, or
    /// by default from `alloc_migration_target()` with GFP_USER|__GFP_MOVABLE.
    ///
    /// [`MigrateLoop::Batched`] is 6.12: `migrate_pages_sync()` first runs
    /// `migrate_pages_batch()` in MIGRATE_ASYNC mode over the whole list for
    /// `NR_MAX_MIGRATE_ASYNC_RETRY` (3) passes, in which a locked folio gets
    /// -EAGAIN and one under writeback -EBUSY; then it retries every folio
    /// left, one at a time, in MIGRATE_SYNC mode for
    /// `NR_MAX_MIGRATE_SYNC_RETRY` (7) passes, where `migrate_folio_unmap()`
    /// sleeps in `folio_lock()` and `folio_wait_writeback()` instead of
    /// giving up. [`MigrateLoop::Legacy`] is the single loop of ten passes of
    /// v4.x and 2.6.3x, which waits the same way once `force` is set (from
    /// the fourth pass). In both, a folio with references beyond what its mappings and
    /// page cache explain (a pin, a driver's `get_page`) gets -EAGAIN on
    /// every pass; -ENOMEM for a target stops at once. Failed folios stay
    /// on the list. Returns how many failed.
    ///
    /// Simplified: a wait ends when the lock holder unlocks or the I/O
    /// completes, which the model shows as the flag clearing at once.
    pub(crate) fn migrate_pages_to(&mut self, list: &mut Vec<u64>, stats: &mut MigrateStats, target: Option<Gfp>, how: MigrateLoop) -> Result<usize, Errno> {
        self.enter(KernelFn::MigratePages);
        stats.calls += 1;
        let result = match how {
            MigrateLoop::Legacy => self.migrate_passes(list, stats, target, NR_MAX_MIGRATE_PAGES_RETRY, PassMode::Legacy),
            MigrateLoop::Batched => self.migrate_pages_sync(list, stats, target),
        };
        let result = result.map(|()| {
            let failed = list.len();
            self.count_vm_event(VmEvent::MigrateFail, failed as i64);
            failed
        });
        self.leave();
        result
    }

    /// `migrate_pages_sync()` (v6.12): the async batch, then folio by
    /// folio in MIGRATE_SYNC mode.
    fn migrate_pages_sync(&mut self, list: &mut Vec<u64>, stats: &mut MigrateStats, target: Option<Gfp>) -> Result<(), Errno> {
        self.enter(KernelFn::MigratePagesSync);
        self.enter(KernelFn::MigratePagesBatch);
        let r = self.migrate_passes(list, stats, target, NR_MAX_MIGRATE_ASYNC_RETRY, PassMode::Async);
        self.leave();
        if r.is_err() || list.is_empty() {
            self.leave();
            return r;
        }
        let left = list.len();
        self.note(StepKind::Decision, None, || format!("{left} folio(s) left after the async passes: retry each alone in MIGRATE_SYNC mode"));
        let mut failed = Vec::new();
        let mut result = Ok(());
        let mut pending = std::mem::take(list).into_iter();
        for head in pending.by_ref() {
            let mut one = vec![head];
            self.enter(KernelFn::MigratePagesBatch);
            let r = self.migrate_passes(&mut one, stats, target, NR_MAX_MIGRATE_SYNC_RETRY, PassMode::Sync);
            self.leave();
            failed.append(&mut one);
            if r.is_err() {
                result = r;
                break;
            }
        }
        // Folios not reached after -ENOMEM stay on the list too.
        failed.extend(pending);
        *list = failed;
        self.leave();
        result
    }

    /// Up to `passes` passes of `migrate_folio_unmap()` and
    /// `migrate_folio_move()` over `list`; folios that move leave it.
    fn migrate_passes(&mut self, list: &mut Vec<u64>, stats: &mut MigrateStats, target: Option<Gfp>, passes: u32, mode: PassMode) -> Result<(), Errno> {
        for pass in 0..passes {
            let may_wait = match mode {
                PassMode::Async => false,
                PassMode::Sync => true,
                // `force = pass > 2` in unmap_and_move().
                PassMode::Legacy => pass > 2,
            };
            let mut i = 0;
            let mut again = 0;
            while i < list.len() {
                let head = list[i];
                match self.migrate_folio(head, stats, target, may_wait)? {
                    true => {
                        list.swap_remove(i);
                    }
                    false => {
                        stats.retries += 1;
                        again += 1;
                        i += 1;
                    }
                }
            }
            if again == 0 {
                break;
            }
            let n = list.len();
            let mode_name = match mode {
                PassMode::Async => " (MIGRATE_ASYNC)",
                PassMode::Sync => " (MIGRATE_SYNC)",
                PassMode::Legacy => "",
            };
            self.note(StepKind::Decision, None, || {
                let why = if may_wait { "pinned or holding an unexpected reference" } else { "pinned, locked or under writeback" };
                format!("pass {}{mode_name}: {again} of {n} folio(s) got -EAGAIN or -EBUSY ({why})", pass + 1)
            });
        }
        Ok(())
    }

    /// One folio's migration attempt. Returns whether it moved; -ENOMEM
    /// when no target could be allocated.
    fn migrate_folio(&mut self, head: u64, stats: &mut MigrateStats, target: Option<Gfp>, may_wait: bool) -> Result<bool, Errno> {
        let mut p = self.page(head).as_in_use().expect("isolated folio is in use");
        if p.flags.intersects(PageFlags::LOCKED | PageFlags::WRITEBACK) {
            if !may_wait {
                return Ok(false);
            }
            let order = p.compound_order;
            let range = Some(PfnRange::new(head, head + (1 << order)));
            self.enter(KernelFn::MigrateFolioUnmap);
            let waits = [
                (PageFlags::LOCKED, KernelFn::FolioLock, "is locked: sleep until its holder unlocks it, then take the lock"),
                (PageFlags::WRITEBACK, KernelFn::FolioWaitWriteback, "is under writeback: sleep until the I/O completes"),
            ];
            for (flag, func, why) in waits {
                if p.flags.contains(flag) {
                    self.enter(func);
                    p.flags.remove(flag);
                    self.set_in_use(head, p);
                    self.note(StepKind::Decision, range, || format!("{head:#x} {why}"));
                    self.leave();
                }
            }
            self.leave();
        }
        if migration_fails(&p) {
            return Ok(false);
        }
        let in_movable = self.zone_of(head).is_some_and(|zi| self.zones[zi].zone_type == ZoneType::Movable);
        let gfp = target.unwrap_or_else(|| alloc_migration_target(Gfp::USER_MOVABLE, in_movable));
        let order = p.compound_order;
        let target = match self.alloc_pages(gfp, order, p.kind) {
            Ok(t) => t,
            Err(_) => {
                self.note(StepKind::Failure, Some(PfnRange::new(head, head + (1 << order))), || {
                    format!("no order-{order} migration target for {head:#x} ({}): -ENOMEM, give up at once", gfp.name)
                });
                return Err(Errno::ENOMEM);
            }
        };
        // Copy the folio: the new one is on the LRU (the LRU cache is
        // disabled) with the old one's mappings and dirtiness.
        let mut t = self.page(target).as_in_use().expect("fresh target");
        t.mapcount = p.mapcount;
        t.flags = t.flags.difference(PageFlags::LRU_BATCH)
            | (p.flags & (PageFlags::DIRTY | PageFlags::THP))
            | if p.kind.is_lru() { PageFlags::LRU } else { PageFlags::empty() };
        self.set_in_use(target, t);
        stats.migrated += 1;
        stats.moved.push((head, target));
        self.migrations.push((head, Some(target)));
        self.count_vm_event(VmEvent::MigrateSuccess, 1 << order);
        self.note_move(PfnRange::new(head, head + (1 << order)), PfnRange::new(target, target + (1 << order)), || {
            format!("migrated order-{order} {} {head:#x} -> {target:#x}", p.kind.label())
        });
        // The old folio's last reference goes: it is freed.
        self.release_folio(head, order);
        Ok(true)
    }

    /// `putback_movable_pages()`: folios we gave up on go back to the LRU.
    pub(crate) fn putback_movable_pages(&mut self, list: &mut Vec<u64>) {
        if list.is_empty() {
            return;
        }
        self.enter(KernelFn::PutbackMovablePages);
        let n = list.len();
        for head in list.drain(..) {
            if let Some(p) = self.page(head).as_in_use() {
                let lru = if p.kind.is_lru() { PageFlags::LRU } else { PageFlags::empty() };
                self.set_in_use(head, InUse { flags: p.flags.difference(PageFlags::ISOLATED) | lru, ..p });
            }
        }
        self.note(StepKind::Action, None, || format!("put {n} unmigrated folio(s) back on the LRU"));
        self.leave();
    }

    /// `__alloc_contig_migrate_range()` (v6.1-6.12): with the LRU cache
    /// disabled, isolate a batch, reclaim clean page cache, migrate the
    /// rest; a batch that does not empty is retried, and the fifth retry
    /// gives -EBUSY. -ENOMEM from `migrate_pages()` stops at once; a fatal
    /// signal gives -EINTR.
    pub(crate) fn __alloc_contig_migrate_range(&mut self, start: u64, end: u64, stats: &mut MigrateStats) -> Result<(), Errno> {
        self.alloc_contig_migrate_range_as(start, end, stats, false)
    }

    /// The loop of [`Machine::__alloc_contig_migrate_range`]; with `v4`, as
    /// v4.9 ran it: `migrate_prep()` drains the LRU batches once instead of
    /// disabling them, `migrate_pages()` is the older ten-pass loop,
    /// -ENOMEM does not stop the loop, and after five tries the last error
    /// (-ENOMEM) or -EBUSY is returned.
    pub(crate) fn alloc_contig_migrate_range_as(&mut self, start: u64, end: u64, stats: &mut MigrateStats, v4: bool) -> Result<(), Errno> {
        self.enter(KernelFn::AllocContigMigrateRange);
        if v4 {
            // migrate_prep(): one drain; new LRU pages still wait in batches.
            self.enter(KernelFn::MigratePrepV4);
            self.lru_add_drain_all();
            self.note(StepKind::Action, None, || "lru_add_drain_all(): drained every per-cpu LRU batch once".into());
            self.leave();
        } else {
            self.lru_cache_disable();
        }
        let mut list = Vec::new();
        let mut pfn = start;
        let mut tries = 0;
        let mut ret = Ok(());
        while pfn < end || !list.is_empty() {
            if self.fatal_signal_pending {
                self.note(StepKind::Failure, None, || "fatal signal pending: -EINTR".into());
                ret = Err(Errno::EINTR);
                break;
            }
            if list.is_empty() {
                pfn = self.isolate_migratepages_range(pfn, end, &mut list);
                tries = 0;
            } else {
                tries += 1;
                if tries == CONTIG_MIGRATE_TRIES {
                    let n = list.len();
                    let e = if v4 && ret == Err(Errno::ENOMEM) { Errno::ENOMEM } else { Errno::EBUSY };
                    self.note(StepKind::Failure, None, || format!("{n} folio(s) still unmigrated after {CONTIG_MIGRATE_TRIES} tries: {e}"));
                    ret = Err(e);
                    break;
                }
            }
            stats.reclaimed += self.reclaim_clean_pages_from_list(&mut list);
            if list.is_empty() {
                continue;
            }
            let how = if v4 { MigrateLoop::Legacy } else { MigrateLoop::Batched };
            match self.migrate_pages_to(&mut list, stats, None, how) {
                Err(Errno::ENOMEM) if !v4 => {
                    ret = Err(Errno::ENOMEM);
                    break;
                }
                Err(e) => ret = Err(e),
                Ok(_) => ret = Ok(()),
            }
        }
        if !v4 {
            self.lru_cache_enable();
        }
        if ret.is_err() {
            stats.failed = list.clone();
            self.putback_movable_pages(&mut list);
        }
        self.leave();
        ret
    }
}
