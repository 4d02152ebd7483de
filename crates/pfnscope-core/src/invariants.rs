//! `check_invariants()`: the allocator's bookkeeping agrees with itself.
//!
//! Checked: every PFN accounted for exactly once (a hole, a free block head
//! with its tails, a per-cpu block, or an in-use page with its compound
//! tails); `nr_free` equals the list lengths; every free block aligned,
//! inside one zone and marked with its order; no two free buddies left
//! unmerged where `__free_one_page` would merge them; every free block on the
//! list of its pageblock's type (6.10+ freelist hygiene) and every pageblock
//! of a large free block of that type; NR_FREE_PAGES, NR_FREE_CMA_PAGES,
//! `nr_isolate_pageblock` and the per-cpu counts match the lists.

use crate::geometry::PfnRange;
use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::page::{PageFlags, Tag};
use crate::zone::{ZoneCounter, NR_PCP_LISTS};

/// A broken invariant, described for a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invariant broken: {0}")]
pub struct Violation(pub String);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(Violation(format!($($fmt)*)));
        }
    };
}

impl Machine {
    /// Checks every invariant; the first violation found is returned.
    ///
    /// Blocks in flight ([`Tag::Taken`]) are allowed: they exist between
    /// the steps of an operation. [`Machine::check_quiescent`] also
    /// requires that none is left.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let span = self.pfn_span();
        // PFNs outside every zone are holes.
        for pfn in span.start..span.end {
            if self.zone_of(pfn).is_none() {
                ensure!(self.page(pfn).tag() == Tag::Hole, "PFN {pfn:#x} is outside every zone but not a hole");
            }
        }
        for zi in 0..self.zones.len() {
            self.check_zone(zi)?;
        }
        self.check_reporting()?;
        self.check_regions()?;
        Ok(())
    }

    /// Memory regions: each region's free count is what its lists and the
    /// region allocator hold; a region in the region allocator is all free
    /// MAX_ORDER blocks; with the region allocator, every free list is in
    /// region order and each region's first entry and count are right.
    fn check_regions(&self) -> Result<(), Violation> {
        let Some(spec) = self.region_spec() else { return Ok(()) };
        let sorted = spec.policy == crate::regions::AllocatorPolicy::Regions;
        for zi in 0..self.zones.len() {
            let name = self.zones[zi].name();
            let nr = self.zone_regions(zi);
            let mut free = vec![0u64; nr];
            for order in 0..=self.geo.max_order {
                for mt in MigrateType::ALL {
                    let pfns = self.list_pfns(self.zones[zi].free_list(order, mt.index()));
                    let regions: Vec<usize> = pfns.iter().map(|&p| self.region_of(zi, p)).collect();
                    for &r in &regions {
                        free[r] += 1 << order;
                    }
                    if sorted {
                        ensure!(regions.windows(2).all(|w| w[0] <= w[1]), "{name}: free_list[{order}][{mt}] is not in region order: {regions:?}");
                        for r in 0..nr {
                            let count = regions.iter().filter(|&&q| q == r).count() as u64;
                            ensure!(count == self.mr_count(zi, order, mt, r), "{name}: region {r} has {count} entries on free_list[{order}][{mt}] but counts {}", self.mr_count(zi, order, mt, r));
                            let first = regions.iter().position(|&q| q == r).map(|i| self.page_node(pfns[i]));
                            ensure!(first == self.mr_first(zi, order, mt, r), "{name}: region {r}'s first entry on free_list[{order}][{mt}] is wrong");
                        }
                    }
                }
            }
            for (r, listed) in free.iter().enumerate() {
                let held = if self.region_in_allocator(zi, r) {
                    ensure!(sorted, "{name}: region {r} is in a region allocator that does not run");
                    ensure!(*listed == 0, "{name}: region {r} is in the region allocator but {listed} of its pages are on the lists");
                    ensure!(self.region_all_max_blocks(zi, r), "{name}: region {r} is in the region allocator but not all free MAX_ORDER blocks");
                    self.region_present_pages(zi, r)
                } else {
                    0
                };
                ensure!(listed + held == self.region_free_pages(zi, r), "{name}: region {r} counts {} free pages but holds {}", self.region_free_pages(zi, r), listed + held);
            }
        }
        Ok(())
    }

    /// Free page reporting: `PageReported` only on buddy heads of
    /// `page_reporting_order` or more, and only with the mainline device
    /// (seed 004's walk keeps no state in the guest); each zone's count of
    /// reported pages and the host's count match what they count; an idle
    /// mainline device has no work queued.
    fn check_reporting(&self) -> Result<(), Violation> {
        use crate::reporting::{ReportingPolicy, ReportingState};
        let status = self.reporting_status();
        let threshold = match status {
            Some(s) if s.policy == ReportingPolicy::Mainline => Some(s.order),
            _ => None,
        };
        for (i, w) in self.page_words().iter().enumerate() {
            if w.reported() {
                let pfn = self.pfn_span().start + i as u64;
                match threshold {
                    Some(t) => ensure!(w.order() >= t, "PageReported order-{} block {pfn:#x} is below page_reporting_order {t}", w.order()),
                    None => ensure!(false, "PageReported block {pfn:#x} without a mainline reporting device"),
                }
            }
        }
        for zi in 0..self.zones.len() {
            let span = self.zones[zi].span;
            let pages: u64 = (span.start..span.end).filter(|&p| self.page(p).reported()).map(|p| 1u64 << self.page(p).order()).sum();
            ensure!(pages == self.zone_reported_pages(zi), "zone {}: {pages} pages are PageReported but {} are counted", self.zones[zi].name(), self.zone_reported_pages(zi));
        }
        if let Some(s) = status {
            let span = self.pfn_span();
            let held = (span.start..span.end).filter(|&p| self.host_holds(p)).count() as u64;
            ensure!(held == s.host_pages, "the host holds {held} pages by its bitmap but counts {}", s.host_pages);
            if s.policy == ReportingPolicy::Mainline {
                ensure!(s.state != ReportingState::Idle || s.due_ms.is_none(), "reporting is idle but work is queued for t = {:?} ms", s.due_ms);
            }
            ensure!(s.rereported_pages <= s.reported_pages, "more pages reported again ({}) than reported ({})", s.rereported_pages, s.reported_pages);
        }
        Ok(())
    }

    /// [`check_invariants`](Machine::check_invariants), and no block left
    /// in flight: what must hold between operations.
    pub fn check_quiescent(&self) -> Result<(), Violation> {
        self.check_invariants()?;
        let span = self.pfn_span();
        if let Some(p) = (span.start..span.end).find(|&p| self.page(p).tag() == Tag::Taken) {
            return Err(Violation(format!("block {p:#x} was taken off the free lists and never handed out")));
        }
        if let Some(s) = self.reporting_status() {
            use crate::reporting::ReportingState;
            ensure!(s.state != ReportingState::Active, "a reporting pass is still active between operations");
            ensure!(s.state != ReportingState::Requested || s.due_ms.is_some(), "reporting was requested but no work is queued");
        }
        Ok(())
    }

    fn check_zone(&self, zi: usize) -> Result<(), Violation> {
        let z = &self.zones[zi];
        let name = z.name();
        let pb = self.geo.pageblock_order;
        let mut buddy_heads = 0u64;
        let mut pcp_heads = 0u64;
        let mut ra_pages = 0i64;
        let mut pfn = z.span.start;
        while pfn < z.span.end {
            let w = self.page(pfn);
            match w.tag() {
                Tag::Hole => pfn += 1,
                Tag::FreeTail => return Err(Violation(format!("{name}: free tail {pfn:#x} belongs to no free block"))),
                Tag::Buddy | Tag::Pcp | Tag::Taken => {
                    let order = w.order();
                    let size = 1u64 << order;
                    ensure!(order <= self.geo.max_order, "{name}: block {pfn:#x} has order {order}");
                    ensure!(pfn.is_multiple_of(size), "{name}: order-{order} block {pfn:#x} is misaligned");
                    ensure!(pfn + size <= z.span.end, "{name}: order-{order} block {pfn:#x} crosses the zone end");
                    for t in pfn + 1..pfn + size {
                        ensure!(self.page(t).tag() == Tag::FreeTail, "{name}: page {t:#x} inside free block {pfn:#x} is {:?}", self.page(t).state());
                    }
                    match w.tag() {
                        Tag::Buddy if self.page_in_region_allocator(pfn) => {
                            ensure!(order == self.geo.max_order, "{name}: order-{order} block {pfn:#x} is in the region allocator, which holds only MAX_ORDER blocks");
                            ensure!(self.get_pageblock_migratetype(pfn) == MigrateType::Movable, "{name}: the region allocator's block {pfn:#x} is not MOVABLE");
                            ra_pages += 1 << order;
                        }
                        Tag::Buddy => {
                            buddy_heads += 1;
                            self.check_buddy_block(zi, pfn, order)?;
                        }
                        Tag::Pcp => pcp_heads += 1,
                        _ => {}
                    }
                    pfn += size;
                }
                Tag::InUse => {
                    let p = w.as_in_use().expect("tag is InUse");
                    ensure!(!p.flags.contains(PageFlags::TAIL), "{name}: compound tail {pfn:#x} has no head");
                    let size = 1u64 << p.compound_order;
                    if p.compound_order > 0 {
                        ensure!(p.flags.contains(PageFlags::HEAD), "{name}: {pfn:#x} has a compound order but no PageHead");
                        ensure!(pfn.is_multiple_of(size) && pfn + size <= z.span.end, "{name}: compound page {pfn:#x} is misaligned or crosses the zone");
                        for t in pfn + 1..pfn + size {
                            let tail = self.page(t).as_in_use();
                            ensure!(tail.is_some_and(|q| q.flags.contains(PageFlags::TAIL)), "{name}: page {t:#x} of compound {pfn:#x} is not a tail");
                        }
                    }
                    pfn += size;
                }
            }
        }

        // Free lists: membership, hygiene, counts.
        let mut listed = 0u64;
        let mut free_pages = 0i64;
        let mut free_cma = 0i64;
        let mut free_highatomic = 0i64;
        for order in 0..=self.geo.max_order {
            let mut in_order = 0u64;
            for mt in MigrateType::ALL {
                let head = z.free_list(order, mt.index());
                let pfns = self.list_pfns(head);
                ensure!(pfns.len() <= self.store.nr_pages(), "{name}: free_list[{order}][{mt}] loops");
                self.check_links(head, &pfns)?;
                for &p in &pfns {
                    let w = self.page(p);
                    ensure!(w.tag() == Tag::Buddy && w.order() == order, "{name}: {p:#x} on free_list[{order}][{mt}] is {:?}", w.state());
                    ensure!(self.zone_of(p) == Some(zi), "{name}: {p:#x} on this zone's list is in another zone");
                    let block_mt = self.get_pageblock_migratetype(p);
                    ensure!(block_mt == mt, "{name}: order-{order} {p:#x} is on the {mt} list but its pageblock is {block_mt}");
                    if mt != MigrateType::Isolate {
                        free_pages += 1 << order;
                    }
                    if mt == MigrateType::Cma {
                        free_cma += 1 << order;
                    }
                    if mt == MigrateType::HighAtomic {
                        free_highatomic += 1 << order;
                    }
                }
                in_order += pfns.len() as u64;
            }
            ensure!(in_order == self.nr_free(zi, order), "{name}: nr_free[{order}] = {} but the lists hold {in_order}", self.nr_free(zi, order));
            listed += in_order;
        }
        ensure!(listed == buddy_heads, "{name}: {buddy_heads} PageBuddy heads but {listed} on the free lists");
        ensure!(free_pages + ra_pages == self.zone_free_pages(zi), "{name}: NR_FREE_PAGES = {} but the lists hold {free_pages} and the region allocator {ra_pages}", self.zone_free_pages(zi));
        let counted_cma = self.zone_counter(zi, ZoneCounter::FreeCmaPages);
        ensure!(free_cma == counted_cma, "{name}: NR_FREE_CMA_PAGES = {counted_cma} but CMA lists hold {free_cma}");
        let counted_ha = self.zone_counter(zi, ZoneCounter::NrFreeHighatomic);
        ensure!(free_highatomic == counted_ha, "{name}: nr_free_highatomic = {counted_ha} but HIGHATOMIC lists hold {free_highatomic}");

        // Per-cpu lists.
        let mut pcp_listed = 0u64;
        for cpu in 0..self.spec.nr_cpus {
            let mut pages = 0u64;
            for pindex in 0..NR_PCP_LISTS {
                let head = z.pcp_list(cpu, pindex);
                let pfns = self.list_pfns(head);
                self.check_links(head, &pfns)?;
                let order = self.pindex_to_order(pindex);
                for &p in &pfns {
                    let w = self.page(p);
                    ensure!(w.tag() == Tag::Pcp && w.order() == order, "{name}: {p:#x} on CPU {cpu} pcp list {pindex} is {:?}", w.state());
                    ensure!(self.zone_of(p) == Some(zi), "{name}: {p:#x} on this zone's pcp list is in another zone");
                    pages += 1 << order;
                }
                pcp_listed += pfns.len() as u64;
            }
            ensure!(pages == self.pcp_count(zi, cpu), "{name}: CPU {cpu} pcp count {} but its lists hold {pages}", self.pcp_count(zi, cpu));
        }
        ensure!(pcp_listed == pcp_heads, "{name}: {pcp_heads} per-cpu heads but {pcp_listed} on per-cpu lists");

        // Isolated pageblocks.
        let nr = self.geo.pageblock_nr_pages();
        let first_block = self.pageblock_start_pfn(z.span.start);
        let isolated = (0..)
            .map(|b| first_block + b * nr)
            .take_while(|&p| p < z.span.end)
            .filter(|&p| self.get_pageblock_migratetype(p) == MigrateType::Isolate && self.zone_of(p).or_else(|| self.zone_of(z.span.start)) == Some(zi))
            .count() as i64;
        let counted = self.zone_counter(zi, ZoneCounter::NrIsolatePageblock);
        ensure!(isolated == counted, "{name}: nr_isolate_pageblock = {counted} but {isolated} pageblocks are ISOLATE");
        let _ = pb;
        Ok(())
    }

    /// A free block: its pageblocks share one type, and its buddy is not a
    /// free block `__free_one_page` would have merged with.
    fn check_buddy_block(&self, zi: usize, pfn: u64, order: u8) -> Result<(), Violation> {
        let name = self.zones[zi].name();
        let mt = self.get_pageblock_migratetype(pfn);
        let nr = self.geo.pageblock_nr_pages();
        let mut p = pfn + nr;
        while p < pfn + (1 << order) {
            let other = self.get_pageblock_migratetype(p);
            ensure!(other == mt, "{name}: order-{order} block {pfn:#x} spans pageblocks of {mt} and {other}");
            p += nr;
        }
        // Below pageblock_order both buddies share a pageblock, and
        // `__free_one_page` always merges them. At or above it the kernel
        // can leave free buddies unmerged: moving blocks between lists
        // (isolation, unreserving HIGHATOMIC) never merges, so the check
        // stops there.
        if order < self.geo.pageblock_order {
            if let Some(buddy) = self.find_buddy_page_pfn(pfn, order, zi) {
                ensure!(false, "{name}: order-{order} buddies {pfn:#x} and {buddy:#x} are both free but unmerged");
            }
        }
        Ok(())
    }

    /// `prev`/`next` agree along a list.
    fn check_links(&self, head: u32, pfns: &[u64]) -> Result<(), Violation> {
        let mut prev = head;
        for &p in pfns {
            let node = self.page_node(p);
            let w = self.page(p);
            ensure!(w.prev() == prev, "list corrupt at {p:#x}: prev {} but came from {prev}", w.prev());
            prev = node;
        }
        Ok(())
    }

    /// The free block (buddy, per-cpu or in flight) that holds `pfn`, if any:
    /// `(head, order)`. Searches down like `find_large_buddy()`.
    pub fn free_block_at(&self, pfn: u64) -> Option<(u64, u8)> {
        for order in 0..=self.geo.max_order {
            let head = pfn & !((1u64 << order) - 1);
            let w = self.page(head);
            if matches!(w.tag(), Tag::Buddy | Tag::Pcp | Tag::Taken) {
                return (head + (1 << w.order()) > pfn).then_some((head, w.order()));
            }
            if w.tag() != Tag::FreeTail {
                return None;
            }
        }
        None
    }

    /// The range a free block covers.
    pub fn free_block_range(&self, pfn: u64) -> Option<PfnRange> {
        self.free_block_at(pfn).map(|(h, o)| PfnRange::new(h, h + (1 << o)))
    }
}

#[cfg(test)]
mod tests {
    use crate::geometry::MachineSpec;
    use crate::machine::Machine;
    use crate::migratetype::MigrateType;
    use crate::page::PageWord;

    #[test]
    fn a_fresh_machine_is_consistent() {
        for name in ["teaching-16m", "teaching-64m", "arm64-16k-4g"] {
            let m = Machine::new(MachineSpec::preset(name).unwrap()).unwrap();
            m.check_invariants().unwrap_or_else(|v| panic!("{name}: {v}"));
        }
    }

    #[test]
    fn corruption_is_caught() {
        let base = Machine::new(MachineSpec::teaching_16m()).unwrap();

        let mut m = base.clone();
        m.set_page(0x401, PageWord::HOLE);
        assert!(m.check_invariants().unwrap_err().0.contains("inside free block"));

        let mut m = base.clone();
        m.set_pageblock_migratetype(0x400, MigrateType::Unmovable);
        assert!(m.check_invariants().is_err(), "list/pageblock type mismatch must be caught");

        let mut m = base.clone();
        m.add_zone_counter(0, crate::zone::ZoneCounter::NrFree(3), 1);
        assert!(m.check_invariants().unwrap_err().0.contains("nr_free[3]"));

        let mut m = base.clone();
        m.account_freepages(0, 1, MigrateType::Movable);
        assert!(m.check_invariants().unwrap_err().0.contains("NR_FREE_PAGES"));

        // Two free order-8 buddies left unmerged inside one pageblock.
        let mut m = base;
        m.del_page_from_free_list(0x400, 0, 10, MigrateType::Movable);
        m.add_to_free_list(0x400, 0, 8, MigrateType::Movable, false);
        m.add_to_free_list(0x500, 0, 8, MigrateType::Movable, false);
        m.add_to_free_list(0x600, 0, 9, MigrateType::Movable, false);
        assert!(m.check_invariants().unwrap_err().0.contains("unmerged"));
    }

    #[test]
    fn free_block_at_finds_the_head() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        assert_eq!(m.free_block_at(0x5ff), Some((0x400, 10)));
        assert_eq!(m.free_block_at(0x41), Some((0x40, 6)));
        assert_eq!(m.free_block_at(0x3f), None);
    }
}
