//! Per-cpu page lists (`struct per_cpu_pages`, mm/page_alloc.c, v6.12).
//!
//! Pages on a per-cpu list are neither `PageBuddy` nor allocated: they have
//! refcount 0 and sit on one CPU's list for their (order, type) until that
//! CPU allocates them or the list is drained back to the buddy allocator.

use crate::alloc::AllocFlags;
use crate::geometry::PfnRange;
use crate::machine::Machine;
use crate::migratetype::{MigrateType, MIGRATE_PCPTYPES};
use crate::page::{PageWord, Tag};
use crate::trace::{KernelFn, StepKind};
use crate::zone::{ZoneCounter, NR_PCP_LISTS};

/// Lists for orders 0..=PAGE_ALLOC_COSTLY_ORDER (`NR_LOWORDER_PCP_LISTS`).
const NR_LOWORDER_PCP_LISTS: usize = MIGRATE_PCPTYPES * 4;

impl Machine {
    /// `pcp_allowed_order()`: orders up to PAGE_ALLOC_COSTLY_ORDER, and the
    /// THP order.
    pub fn pcp_allowed_order(&self, order: u8) -> bool {
        order <= self.geo.costly_order() || order == self.geo.thp_order()
    }

    /// `order_to_pindex()`: low orders by (order, type); the THP order has
    /// an unmovable and a movable list.
    pub fn order_to_pindex(&self, mt: MigrateType, order: u8) -> usize {
        if order > self.geo.costly_order() {
            NR_LOWORDER_PCP_LISTS + usize::from(mt == MigrateType::Movable)
        } else {
            MIGRATE_PCPTYPES * order as usize + mt.index()
        }
    }

    /// `pindex_to_order()`.
    pub fn pindex_to_order(&self, pindex: usize) -> u8 {
        if pindex >= NR_LOWORDER_PCP_LISTS {
            self.geo.thp_order()
        } else {
            (pindex / MIGRATE_PCPTYPES) as u8
        }
    }

    /// `pcp->count` of one CPU in one zone, in pages.
    pub fn pcp_count(&self, zi: usize, cpu: u8) -> u64 {
        self.zone_counter(zi, ZoneCounter::PcpCount(cpu)) as u64
    }

    fn pcp_push(&mut self, zi: usize, cpu: u8, pindex: usize, pfn: u64, order: u8, tail: bool) {
        self.set_page(pfn, PageWord::listed(Tag::Pcp, order));
        let head = self.zones[zi].pcp_list(cpu, pindex);
        let node = self.page_node(pfn);
        self.list_add(node, head, tail);
        self.add_zone_counter(zi, ZoneCounter::PcpCount(cpu), 1 << order);
    }

    /// The CPU and list index whose per-cpu list holds `pfn`.
    pub(crate) fn pcp_holder(&self, zi: usize, pfn: u64) -> Option<(u8, usize)> {
        (0..self.spec.nr_cpus).find_map(|cpu| {
            (0..NR_PCP_LISTS).find(|&pi| self.pcp_list_pfns(zi, cpu, pi).contains(&pfn)).map(|pi| (cpu, pi))
        })
    }

    /// Takes one block off a per-cpu list; it is then in flight.
    pub(crate) fn pcp_pop(&mut self, zi: usize, cpu: u8, pfn: u64, order: u8) {
        let node = self.page_node(pfn);
        self.list_del(node);
        self.set_page(pfn, PageWord::taken(order));
        self.add_zone_counter(zi, ZoneCounter::PcpCount(cpu), -(1 << order));
    }

    /// `rmqueue_bulk()`: refill a per-cpu list with `count` blocks from the
    /// buddy allocator, each added at the tail.
    fn rmqueue_bulk(&mut self, zi: usize, order: u8, count: u64, mt: MigrateType, flags: AllocFlags) -> u64 {
        self.enter(KernelFn::RmqueueBulk);
        let cpu = self.cpu;
        let pindex = self.order_to_pindex(mt, order);
        let mut got = 0;
        for _ in 0..count {
            let Some(pfn) = self.__rmqueue(zi, order, mt, flags) else { break };
            self.pcp_push(zi, cpu, pindex, pfn, order, true);
            got += 1;
        }
        self.note(StepKind::Action, None, || format!("refilled CPU {cpu}'s order-{order} {mt} list with {got} of {count} blocks"));
        self.leave();
        got
    }

    /// `rmqueue_pcplist()` (v6.12): take the head of this CPU's list,
    /// refilling it with a batch first if it is empty. Simplified: the batch
    /// is `pcp->batch` (halved per order above 0, at least 2), without the
    /// 6.7+ `alloc_factor` scaling.
    pub(crate) fn rmqueue_pcplist(&mut self, zi: usize, order: u8, mt: MigrateType, flags: AllocFlags) -> Option<u64> {
        self.enter(KernelFn::RmqueuePcplist);
        let cpu = self.cpu;
        let pindex = self.order_to_pindex(mt, order);
        let head = self.zones[zi].pcp_list(cpu, pindex);
        if self.list_empty(head) {
            let batch = self.zones[zi].pcp_batch;
            let batch = if order == 0 { batch } else { (batch >> order).max(2) };
            self.rmqueue_bulk(zi, order, batch, mt, flags);
        }
        let pfn = self.list_first(head);
        if let Some(pfn) = pfn {
            self.pcp_pop(zi, cpu, pfn, order);
            self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << order))), || {
                format!("took {pfn:#x} from the head of CPU {cpu}'s order-{order} {mt} per-cpu list")
            });
        }
        self.leave();
        pfn
    }

    /// `free_unref_page()` (v6.12): free to this CPU's list unless the order
    /// has no list or the pageblock is isolated; CMA and HIGHATOMIC pages
    /// join the MOVABLE list. Above `pcp->high`, a batch goes back to buddy.
    pub(crate) fn free_unref_page(&mut self, pfn: u64, zi: usize, order: u8) {
        self.enter(KernelFn::FreeUnrefPage);
        let mut mt = self.get_pageblock_migratetype(pfn);
        let allowed = self.pcp_allowed_order(order);
        if !allowed || mt == MigrateType::Isolate || self.pcp_disabled > 0 {
            self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + (1 << order))), || {
                if mt == MigrateType::Isolate {
                    "pageblock is isolated: bypass the per-cpu list".to_string()
                } else if allowed {
                    "per-cpu lists are disabled (zone_pcp_disable): free to buddy".to_string()
                } else {
                    format!("order {order} has no per-cpu list: free to buddy")
                }
            });
            self.free_one_page(pfn, zi, order, crate::buddy::Fpi::NONE);
            self.leave();
            return;
        }
        if !mt.is_pcptype() {
            mt = MigrateType::Movable;
        }
        let cpu = self.cpu;
        let pindex = self.order_to_pindex(mt, order);
        self.pcp_push(zi, cpu, pindex, pfn, order, false);
        self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << order))), || {
            format!("put {pfn:#x} on the head of CPU {cpu}'s order-{order} {mt} per-cpu list")
        });
        let (high, batch) = (self.zones[zi].pcp_high, self.zones[zi].pcp_batch);
        if self.pcp_count(zi, cpu) >= high {
            self.free_pcppages_bulk(zi, cpu, batch, pindex);
        }
        self.leave();
    }

    /// `free_pcppages_bulk()` (v6.12): free `count` pages back to buddy,
    /// round-robin over the lists starting with `pindex`, each from its
    /// tail, under the pageblock's current type.
    pub(crate) fn free_pcppages_bulk(&mut self, zi: usize, cpu: u8, count: u64, pindex: usize) {
        self.enter(KernelFn::FreePcppagesBulk);
        let mut count = count.min(self.pcp_count(zi, cpu)) as i64;
        let total = count;
        let mut pindex = pindex.wrapping_sub(1);
        // One step for the batch: each page's __free_one_page() is in the
        // journal, folded, not a step of its own.
        let (lo, hi) = self.folded(PfnRange::new(0, 0), |m| {
            let (mut lo, mut hi) = (u64::MAX, 0);
            while count > 0 {
                let head = loop {
                    pindex = pindex.wrapping_add(1);
                    if pindex >= NR_PCP_LISTS {
                        pindex = 0;
                    }
                    let head = m.zones[zi].pcp_list(cpu, pindex);
                    if !m.list_empty(head) {
                        break head;
                    }
                };
                let order = m.pindex_to_order(pindex);
                while count > 0 {
                    let Some(pfn) = m.list_last(head) else { break };
                    let mt = m.get_pageblock_migratetype(pfn);
                    m.pcp_pop(zi, cpu, pfn, order);
                    count -= 1 << order;
                    (lo, hi) = (lo.min(pfn), hi.max(pfn + (1 << order)));
                    m.__free_one_page(pfn, zi, order, mt, crate::buddy::Fpi::NONE);
                }
            }
            (lo, hi)
        });
        let range = (lo < hi).then(|| PfnRange::new(lo, hi));
        self.note(StepKind::Action, range, || format!("returned {total} pages from CPU {cpu}'s per-cpu lists to buddy (free_pcppages_bulk, each page through __free_one_page)"));
        self.leave();
    }

    /// `drain_pages_zone()`: empty one CPU's lists in one zone.
    pub(crate) fn drain_pages_zone(&mut self, cpu: u8, zi: usize) {
        let count = self.pcp_count(zi, cpu);
        if count > 0 {
            self.enter(KernelFn::DrainPagesZone);
            self.free_pcppages_bulk(zi, cpu, count, 0);
            self.leave();
        }
    }

    /// `drain_all_pages()`: empty every CPU's lists, in one zone or all.
    pub fn drain_all_pages(&mut self, zone: Option<usize>) {
        self.enter(KernelFn::DrainAllPages);
        let mut drained = 0;
        for cpu in 0..self.spec.nr_cpus {
            for zi in 0..self.zones.len() {
                if zone.is_none_or(|z| z == zi) {
                    drained += self.pcp_count(zi, cpu);
                    self.drain_pages_zone(cpu, zi);
                }
            }
        }
        let which = zone.map_or("every zone".to_string(), |zi| format!("zone {}", self.zones[zi].name()));
        self.note(StepKind::Action, None, || format!("drained {drained} page(s) from every CPU's lists in {which}"));
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use crate::geometry::MachineSpec;
    use crate::machine::Machine;
    use crate::migratetype::MigrateType;

    #[test]
    fn reaching_pcp_high_frees_a_batch_back_to_buddy() {
        use crate::alloc::Gfp;
        use crate::page::PageKind;
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let zi = m.zone_index(crate::geometry::ZoneType::Normal).unwrap();
        let (high, batch) = (m.zones()[zi].pcp_high, m.zones()[zi].pcp_batch);
        let pages: Vec<u64> = (0..high + 8).map(|_| m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap()).collect();
        m.drain_all_pages(None);
        let mut peak = 0;
        for pfn in pages {
            m.free_pages(pfn, 0).unwrap();
            let count = m.pcp_count(zi, 0);
            assert!(count < high, "count {count} must stay below high {high}");
            peak = peak.max(count);
        }
        // The count climbed to high - 1, then each time it reached high a
        // batch went back, leaving high - batch.
        assert_eq!(peak, high - 1);
        assert!(m.pcp_count(zi, 0) >= high - batch);
    }

    #[test]
    fn isolated_pageblocks_bypass_the_pcp_and_cma_joins_the_movable_list() {
        use crate::alloc::Gfp;
        use crate::page::{PageKind, Tag};
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let a = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap();
        let b = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap();
        m.drain_all_pages(None);
        // Pretend a's pageblock is CMA and b's is isolated (counting it).
        m.set_pageblock_migratetype(a, MigrateType::Cma);
        m.free_pages(a, 0).unwrap();
        assert_eq!(m.pcp_list_pfns(0, 0, m.order_to_pindex(MigrateType::Movable, 0)), vec![a]);
        m.drain_all_pages(None);
        let old = m.get_pageblock_migratetype(b);
        m.move_freepages_block(0, b, old, MigrateType::Isolate).unwrap();
        m.free_pages(b, 0).unwrap();
        assert_eq!(m.pcp_count(0, 0), 0);
        let (head, _) = m.free_block_at(b).expect("b went straight to buddy");
        assert_eq!(m.page(head).tag(), Tag::Buddy);
    }

    #[test]
    fn pindex_mapping_matches_order_to_pindex() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        assert_eq!(m.order_to_pindex(MigrateType::Movable, 0), 1);
        assert_eq!(m.order_to_pindex(MigrateType::Reclaimable, 3), 11);
        assert_eq!(m.order_to_pindex(MigrateType::Unmovable, 9), 12);
        assert_eq!(m.order_to_pindex(MigrateType::Movable, 9), 13);
        for pindex in 0..14 {
            assert!(m.pcp_allowed_order(m.pindex_to_order(pindex)));
        }
        assert!(!m.pcp_allowed_order(4));
    }
}
