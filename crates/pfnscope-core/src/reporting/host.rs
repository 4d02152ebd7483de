//! The host's side of reporting: a bitmap, one bit per guest page, of the
//! memory the guest gave back (QEMU discards a reported range with
//! `MADV_DONTNEED`). A bit clears when the guest writes the page again and
//! the host must fault it back in. The bitmap lives in the store's
//! counters after the device's other counters, so it is journaled.

use crate::geometry::PfnRange;
use crate::machine::Machine;

use super::Slot;

impl Machine {
    /// Marks `[pfn, pfn + nr)` as held by the host; returns how many of
    /// those pages it already held (reported again).
    pub(crate) fn host_take(&mut self, pfn: u64, nr: u64) -> u64 {
        let mut already = 0;
        self.host_bits(pfn, nr, |word, mask| {
            already += (word & mask).count_ones() as u64;
            word | mask
        });
        self.add_rp(Slot::HostPages, (nr - already) as i64);
        already
    }

    /// The guest wrote `[pfn, pfn + nr)`: the host no longer holds it.
    pub(crate) fn host_reclaim(&mut self, pfn: u64, nr: u64) {
        let mut cleared = 0;
        self.host_bits(pfn, nr, |word, mask| {
            cleared += (word & mask).count_ones() as u64;
            word & !mask
        });
        if cleared > 0 {
            self.add_rp(Slot::HostPages, -(cleared as i64));
        }
    }

    /// Whether the host holds the page as given back.
    pub fn host_holds(&self, pfn: u64) -> bool {
        let Some(dev) = &self.reporting else {
            return false;
        };
        if !self.in_array(pfn) {
            return false;
        }
        let i = self.idx(pfn);
        self.store.counter(dev.host_base + i / 64) as u64 >> (i % 64) & 1 != 0
    }

    /// Rewrites the bitmap words under `[pfn, pfn + nr)` with `f(word, mask)`.
    fn host_bits(&mut self, pfn: u64, nr: u64, mut f: impl FnMut(u64, u64) -> u64) {
        let Some(base) = self.reporting.as_ref().map(|d| d.host_base) else {
            return;
        };
        let (mut i, end) = (self.idx(pfn), self.idx(pfn) + nr as usize);
        while i < end {
            let bit = i % 64;
            let n = (64 - bit).min(end - i);
            let mask = if n == 64 {
                u64::MAX
            } else {
                ((1u64 << n) - 1) << bit
            };
            let w = base + i / 64;
            let old = self.store.counter(w) as u64;
            let new = f(old, mask);
            if new != old {
                self.store.set_counter(w, new as i64);
            }
            i += n;
        }
    }

    /// The PFN ranges whose host bit changed, from journaled counter writes
    /// (index, old, new): what an incremental frame must redraw.
    pub(crate) fn host_bitmap_changes(&self, counters: &[(usize, u64, u64)]) -> Vec<PfnRange> {
        let Some(dev) = &self.reporting else {
            return Vec::new();
        };
        let first = dev.host_base;
        let last = first + self.store.nr_pages().div_ceil(64);
        counters
            .iter()
            .filter(|(i, old, new)| (first..last).contains(i) && old != new)
            .map(|&(i, old, new)| {
                let diff = old ^ new;
                let lo = (i - first) as u64 * 64 + diff.trailing_zeros() as u64;
                let hi = (i - first) as u64 * 64 + 64 - diff.leading_zeros() as u64;
                PfnRange::new(self.base_pfn + lo, self.base_pfn + hi)
            })
            .collect()
    }
}
