//! The Contiguous Memory Allocator (mm/cma.c, v6.12): areas reserved at
//! boot whose pageblocks are MIGRATE_CMA (only movable allocations use
//! them), a bitmap of what is handed out, and allocation by
//! `alloc_contig_range(MIGRATE_CMA)` with a retry at the next aligned slot
//! when a range is busy.
//!
//! The bitmap lives in the store's counters (64 bits a word), so it steps
//! back with a trace like everything else.

use serde::{Deserialize, Serialize};

use crate::contig::{ContigError, ContigStats};
use crate::error::Errno;
use crate::geometry::PfnRange;
use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::trace::{KernelFn, StepKind};

/// A CMA area of a booted machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmaArea {
    pub name: String,
    pub base_pfn: u64,
    pub count: u64,
    pub order_per_bit: u8,
    pub(crate) bitmap_base: usize,
}

impl CmaArea {
    /// `cma_bitmap_maxno()`: bits in the bitmap.
    pub fn bitmap_maxno(&self) -> u64 {
        self.count >> self.order_per_bit
    }
    pub(crate) fn bitmap_words(&self) -> usize {
        self.bitmap_maxno().div_ceil(64) as usize
    }
    /// `cma_bitmap_aligned_mask()`.
    fn aligned_mask(&self, align: u8) -> u64 {
        if align <= self.order_per_bit {
            0
        } else {
            (1 << (align - self.order_per_bit)) - 1
        }
    }
    /// `cma_bitmap_aligned_offset()`.
    fn aligned_offset(&self, align: u8) -> u64 {
        (self.base_pfn & ((1u64 << align) - 1)) >> self.order_per_bit
    }
    /// `cma_bitmap_pages_to_bits()`.
    fn pages_to_bits(&self, pages: u64) -> u64 {
        pages.div_ceil(1 << self.order_per_bit)
    }
    pub fn range(&self) -> PfnRange {
        PfnRange::new(self.base_pfn, self.base_pfn + self.count)
    }
}

impl Machine {
    /// The CMA areas.
    pub fn cma_areas(&self) -> &[CmaArea] {
        &self.cma
    }

    fn cma_bit(&self, area: usize, bit: u64) -> bool {
        let a = &self.cma[area];
        self.store.counter(a.bitmap_base + (bit / 64) as usize) as u64 & (1 << (bit % 64)) != 0
    }

    fn cma_set_bits(&mut self, area: usize, first: u64, n: u64, on: bool) {
        for bit in first..first + n {
            let i = self.cma[area].bitmap_base + (bit / 64) as usize;
            let w = self.store.counter(i) as u64;
            let w = if on { w | (1 << (bit % 64)) } else { w & !(1 << (bit % 64)) };
            self.store.set_counter(i, w as i64);
        }
    }

    /// Pages of an area handed out (debugfs `used`).
    pub fn cma_used(&self, area: usize) -> u64 {
        let a = &self.cma[area];
        (0..a.bitmap_maxno()).filter(|&b| self.cma_bit(area, b)).count() as u64 * (1 << a.order_per_bit)
    }

    /// The longest free run in pages (debugfs `maxchunk`).
    pub fn cma_maxchunk(&self, area: usize) -> u64 {
        let a = &self.cma[area];
        let (mut best, mut run) = (0, 0);
        for b in 0..a.bitmap_maxno() {
            run = if self.cma_bit(area, b) { 0 } else { run + 1 };
            best = best.max(run);
        }
        best << a.order_per_bit
    }

    /// The area index for a name.
    pub fn cma_area_index(&self, name: &str) -> Option<usize> {
        self.cma.iter().position(|a| a.name == name)
    }

    /// `bitmap_find_next_zero_area_off()`: the first run of `nr` clear bits
    /// at or after `start` whose index plus `offset` is aligned to `mask`.
    fn bitmap_find_next_zero_area_off(&self, area: usize, size: u64, mut start: u64, nr: u64, mask: u64, offset: u64) -> u64 {
        loop {
            let Some(mut index) = (start..size).find(|&b| !self.cma_bit(area, b)) else { return size };
            index = ((index + offset + mask) & !mask) - offset;
            let end = index + nr;
            if end > size {
                return end;
            }
            match (index..end).find(|&b| self.cma_bit(area, b)) {
                Some(i) => start = i + 1,
                None => return index,
            }
        }
    }

    /// `__cma_alloc()` (v6.12): find a free aligned slot in the bitmap, set
    /// its bits, and take the range with `alloc_contig_range(MIGRATE_CMA)`
    /// under `cma_mutex`. On -EBUSY clear the bits and retry at the next
    /// aligned slot (`cma_alloc_busy_retry`); any other error stops it.
    /// `align` is an order of any size (the DMA layer, not `cma_alloc`,
    /// clamps it to `CONFIG_CMA_ALIGNMENT`; hugetlb_cma asks for 1 GiB).
    pub fn cma_alloc(&mut self, area: usize, count: u64, align: u8) -> Result<(u64, ContigStats), ContigError> {
        let Some(a) = self.cma.get(area).cloned() else {
            return Err(ContigError { errno: Errno::EINVAL, pfn: None, reason: format!("no CMA area {area}") });
        };
        if count == 0 {
            return Err(ContigError { errno: Errno::EINVAL, pfn: None, reason: "a count of zero".into() });
        }
        if align >= 64 {
            return Err(ContigError { errno: Errno::EINVAL, pfn: None, reason: format!("alignment order {align} does not fit a PFN") });
        }
        self.enter(KernelFn::CmaAlloc);
        let name = a.name.clone();
        self.note(StepKind::Action, Some(a.range()), || format!("cma_alloc_start: name={name} count={count} align={align}"));
        let mask = a.aligned_mask(align);
        let offset = a.aligned_offset(align);
        let maxno = a.bitmap_maxno();
        let bits = a.pages_to_bits(count);
        let mut start = 0;
        let mut last_busy = None;
        let result = loop {
            if bits > maxno {
                break Err(ContigError { errno: Errno::ENOMEM, pfn: None, reason: format!("{count} pages is more than the area's {}", a.count) });
            }
            let bitmap_no = self.bitmap_find_next_zero_area_off(area, maxno, start, bits, mask, offset);
            if bitmap_no >= maxno {
                let reason = match last_busy {
                    Some(p) => format!("every free aligned slot was busy; the last stopped at {p:#x}"),
                    None => format!("no free aligned slot of {count} pages in the bitmap"),
                };
                break Err(ContigError { errno: if last_busy.is_some() { Errno::EBUSY } else { Errno::ENOMEM }, pfn: last_busy, reason });
            }
            self.cma_set_bits(area, bitmap_no, bits, true);
            let pfn = a.base_pfn + (bitmap_no << a.order_per_bit);
            self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + count)), || format!("bitmap slot {bitmap_no}: try PFNs {pfn:#x}-{:#x}", pfn + count));
            match self.alloc_contig_range(pfn, pfn + count, MigrateType::Cma, false) {
                Ok(stats) => break Ok((pfn, stats)),
                Err(e) => {
                    self.cma_set_bits(area, bitmap_no, bits, false);
                    if e.errno != Errno::EBUSY {
                        break Err(e);
                    }
                    last_busy = e.pfn;
                    self.note(StepKind::Failure, Some(PfnRange::new(pfn, pfn + count)), || {
                        format!("cma_alloc_busy_retry: name={name} pfn={pfn:#x} count={count} align={align}")
                    });
                    start = bitmap_no + mask + 1;
                }
            }
        };
        match &result {
            Ok((pfn, _)) => {
                let pfn = *pfn;
                self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + count)), || format!("cma_alloc_finish: name={name} pfn={pfn:#x} count={count} align={align} errorno=0"))
            }
            Err(e) => {
                let code = e.errno.code();
                self.note(StepKind::Failure, None, || format!("cma_alloc_finish: name={name} pfn=0xffffffffffffffff count={count} align={align} errorno={code}"))
            }
        }
        self.leave();
        result
    }

    /// `cma_release()`: free pages `cma_alloc` returned and clear their bits.
    pub fn cma_release(&mut self, area: usize, pfn: u64, count: u64) -> Result<(), ContigError> {
        let Some(a) = self.cma.get(area).cloned() else {
            return Err(ContigError { errno: Errno::EINVAL, pfn: None, reason: format!("no CMA area {area}") });
        };
        if count == 0 || pfn < a.base_pfn || pfn + count > a.base_pfn + a.count {
            return Err(ContigError { errno: Errno::EINVAL, pfn: Some(pfn), reason: format!("{pfn:#x}+{count} is not inside CMA area {}", a.name) });
        }
        let first = (pfn - a.base_pfn) >> a.order_per_bit;
        let bits = a.pages_to_bits(count);
        if (first..first + bits).any(|b| !self.cma_bit(area, b)) {
            return Err(ContigError { errno: Errno::EINVAL, pfn: Some(pfn), reason: "part of that range was not allocated from CMA".into() });
        }
        self.enter(KernelFn::CmaRelease);
        let r = self.free_contig_range(pfn, count);
        if r.is_ok() {
            self.cma_set_bits(area, first, bits, false);
            self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + count)), || format!("released {count} pages at {pfn:#x}"));
        }
        self.leave();
        r
    }
}
