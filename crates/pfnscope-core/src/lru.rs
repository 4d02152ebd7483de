//! Per-cpu LRU batches (`cpu_fbatches.lru_add`, mm/swap.c, v6.12).
//!
//! A new LRU folio first sits in its CPU's batch, not yet `PageLRU`, so
//! isolation sees it as unmovable and migration cannot take it (domain
//! brief, section 9.5). The batch joins the LRU when it fills
//! (`PAGEVEC_SIZE` = 31 folios) or is drained. The batches live in journaled
//! counters, so they step back with a trace.

use crate::machine::{Machine, NR_VM_EVENTS};
use crate::page::{InUse, PageFlags, PageWord};

/// `PAGEVEC_SIZE`: folios per batch.
pub const PAGEVEC_SIZE: usize = 31;
/// Counter slots per CPU: the length, then the PFNs.
pub(crate) const LRU_BATCH_SLOTS: usize = 1 + PAGEVEC_SIZE;

impl Machine {
    fn lru_slot(&self, cpu: u8, i: usize) -> usize {
        NR_VM_EVENTS + cpu as usize * LRU_BATCH_SLOTS + i
    }

    /// The PFNs waiting in a CPU's LRU batch.
    pub fn lru_batch(&self, cpu: u8) -> Vec<u64> {
        let len = self.store.counter(self.lru_slot(cpu, 0)) as usize;
        (0..len).map(|i| self.store.counter(self.lru_slot(cpu, 1 + i)) as u64).collect()
    }

    /// `folio_add_lru()`: queue a new LRU folio on this CPU's batch, and
    /// drain the batch when it is full.
    pub(crate) fn folio_add_lru(&mut self, pfn: u64) {
        let cpu = self.cpu;
        if self.lru_disabled > 0 {
            // lru_cache_disabled(): straight to the LRU.
            if let Some(p) = self.page(pfn).as_in_use() {
                let p = InUse { flags: p.flags.difference(PageFlags::LRU_BATCH).union(PageFlags::LRU), ..p };
                self.set_page(pfn, PageWord::in_use(p));
            }
            return;
        }
        let len_slot = self.lru_slot(cpu, 0);
        let len = self.store.counter(len_slot) as usize;
        let slot = self.lru_slot(cpu, 1 + len);
        self.store.set_counter(slot, pfn as i64);
        self.store.set_counter(len_slot, len as i64 + 1);
        if len + 1 == PAGEVEC_SIZE {
            self.lru_add_drain_cpu(cpu);
        }
    }

    /// `lru_add_drain_cpu()`: the batch's folios become `PageLRU`.
    pub fn lru_add_drain_cpu(&mut self, cpu: u8) {
        for pfn in self.lru_batch(cpu) {
            if let Some(p) = self.page(pfn).as_in_use() {
                if p.flags.contains(PageFlags::LRU_BATCH) {
                    let p = InUse { flags: p.flags.difference(PageFlags::LRU_BATCH).union(PageFlags::LRU), ..p };
                    self.set_page(pfn, PageWord::in_use(p));
                }
            }
        }
        let len_slot = self.lru_slot(cpu, 0);
        self.store.set_counter(len_slot, 0);
    }

    /// `lru_add_drain_all()`: drain every CPU's batch.
    pub fn lru_add_drain_all(&mut self) {
        for cpu in 0..self.spec.nr_cpus {
            self.lru_add_drain_cpu(cpu);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::alloc::Gfp;
    use crate::geometry::MachineSpec;
    use crate::machine::Machine;
    use crate::page::{PageFlags, PageKind};

    #[test]
    fn lru_pages_join_the_lru_when_the_batch_fills() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let first = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::Anon).unwrap();
        assert!(m.page(first).as_in_use().unwrap().flags.contains(PageFlags::LRU_BATCH));
        for _ in 1..super::PAGEVEC_SIZE {
            m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::File).unwrap();
        }
        let p = m.page(first).as_in_use().unwrap();
        assert!(p.flags.contains(PageFlags::LRU) && !p.flags.contains(PageFlags::LRU_BATCH));
        assert!(m.lru_batch(0).is_empty());
    }

    #[test]
    fn drain_all_empties_every_batch() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        m.set_cpu(1).unwrap();
        let pfn = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::Anon).unwrap();
        assert_eq!(m.lru_batch(1), vec![pfn]);
        m.lru_add_drain_all();
        assert!(m.page(pfn).as_in_use().unwrap().flags.contains(PageFlags::LRU));
    }
}
