//! The machine's state as `/proc/buddyinfo`, `/proc/pagetypeinfo` and
//! (its zone lines) `/proc/zoneinfo` print it (mm/vmstat.c, v6.12), and
//! the fragmentation index of `__fragmentation_index()`.

use std::fmt::Write;

use crate::machine::Machine;
use crate::migratetype::MigrateType;

impl Machine {
    /// Free blocks per order of one type in a zone (a pagetypeinfo row).
    pub fn free_blocks_of_type(&self, zi: usize, order: u8, mt: MigrateType) -> u64 {
        self.free_list_pfns(zi, order, mt).len() as u64
    }

    /// `/proc/buddyinfo`: `Node 0, zone %8s` and `nr_free` per order.
    pub fn buddyinfo(&self) -> String {
        let mut out = String::new();
        for (zi, z) in self.zones.iter().enumerate() {
            let _ = write!(out, "Node 0, zone {:>8} ", z.name());
            for order in 0..=self.geo.max_order {
                let _ = write!(out, "{:>6} ", self.nr_free(zi, order));
            }
            out.push('\n');
        }
        out
    }

    /// `/proc/zoneinfo`, the lines an importer reads: per zone its free
    /// pages, watermarks, spanned, present and managed pages and start PFN
    /// (`zoneinfo_show_print()`; the other lines are left out).
    pub fn zoneinfo(&self) -> String {
        let mut out = String::new();
        for (zi, z) in self.zones.iter().enumerate() {
            let [min, low, high] = z.watermark;
            let _ = write!(
                out,
                "Node 0, zone {:>8}\n  pages free     {}\n        min      {min}\n        low      {low}\n        high     {high}\n        spanned  {}\n        present  {}\n        managed  {}\n  start_pfn:           {}\n",
                z.name(),
                self.zone_free_pages(zi),
                z.span.len(),
                z.present_pages,
                z.managed_pages,
                z.span.start
            );
        }
        out
    }

    /// Pageblocks of each type in a zone, counted as
    /// `pagetypeinfo_showblockcount_print()` does: from the zone's start in
    /// pageblock steps, skipping holes.
    pub fn pageblock_counts(&self, zi: usize) -> [u64; 6] {
        let z = &self.zones[zi];
        let mut counts = [0u64; 6];
        let mut pfn = z.span.start;
        while pfn < z.span.end {
            if self.page(pfn).tag() != crate::page::Tag::Hole {
                counts[self.get_pageblock_migratetype(pfn).index()] += 1;
            }
            pfn += self.geo.pageblock_nr_pages();
        }
        counts
    }

    /// `/proc/pagetypeinfo`, with the CMA and Isolate columns.
    pub fn pagetypeinfo(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Page block order: {}", self.geo.pageblock_order);
        let _ = writeln!(out, "Pages per block:  {}", self.geo.pageblock_nr_pages());
        out.push('\n');
        let _ = write!(out, "{:<48}", "Free pages count per migrate type at order");
        for order in 0..=self.geo.max_order {
            let _ = write!(out, "{order:>6} ");
        }
        out.push('\n');
        for (zi, z) in self.zones.iter().enumerate() {
            for mt in MigrateType::ALL {
                let _ = write!(out, "Node {:>4}, zone {:>8}, type {:>12} ", 0, z.name(), mt.proc_name());
                for order in 0..=self.geo.max_order {
                    let n = self.free_blocks_of_type(zi, order, mt);
                    if n > 100_000 {
                        let _ = write!(out, ">{:>5} ", 100_000);
                    } else {
                        let _ = write!(out, "{n:>6} ");
                    }
                }
                out.push('\n');
            }
        }
        out.push('\n');
        let _ = write!(out, "{:<24}", "Number of blocks type ");
        for mt in MigrateType::ALL {
            let _ = write!(out, "{:>12} ", mt.proc_name());
        }
        out.push('\n');
        for (zi, z) in self.zones.iter().enumerate() {
            let _ = write!(out, "Node {}, zone {:>8} ", 0, z.name());
            for n in self.pageblock_counts(zi) {
                let _ = write!(out, "{n:>12} ");
            }
            out.push('\n');
        }
        out
    }

    /// `__fragmentation_index()` (mm/vmstat.c) for a zone and order, in
    /// thousandths: -1000 if a block of that order is free; near 0 when the
    /// failure would be for lack of memory, near 1000 when for
    /// fragmentation. `None` when the zone has no free memory.
    pub fn fragmentation_index(&self, zi: usize, order: u8) -> Option<i64> {
        let mut free_pages = 0u64;
        let mut free_blocks_total = 0u64;
        let mut free_blocks_suitable = 0u64;
        for o in 0..=self.geo.max_order {
            let n = self.nr_free(zi, o);
            free_blocks_total += n;
            free_pages += n << o;
            if o >= order {
                free_blocks_suitable += n << (o - order);
            }
        }
        if free_blocks_total == 0 {
            return None;
        }
        if free_blocks_suitable > 0 {
            return Some(-1000);
        }
        let requested = 1u64 << order;
        Some(1000 - ((1000 + free_pages * 1000 / requested) / free_blocks_total) as i64)
    }
}

#[cfg(test)]
mod tests {
    use crate::geometry::MachineSpec;
    use crate::machine::Machine;

    #[test]
    fn buddyinfo_has_one_line_per_zone_and_eleven_columns() {
        let m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let text = m.buddyinfo();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("Node 0, zone      DMA "));
        let cols: Vec<&str> = lines[2].split_whitespace().skip(4).collect();
        assert_eq!(cols.len(), 11);
        // ZONE_MOVABLE 0x3000-0x4000: four order-10 blocks.
        assert_eq!(cols[10], "4");
    }

    #[test]
    fn pagetypeinfo_counts_blocks() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        assert_eq!(m.pageblock_counts(0), [0, 8, 0, 0, 0, 0]);
        let text = m.pagetypeinfo();
        assert!(text.contains("Pages per block:  512"));
        assert!(text.contains("Node 0, zone   Normal            0            8"));
    }

    #[test]
    fn fragmentation_index_follows_vmstat() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        // An order-10 block is free: -1000.
        assert_eq!(m.fragmentation_index(0, 10), Some(-1000));
        // Order 11 does not exist, but the formula still says: 7 free
        // blocks, 4032 free pages: 1000 - (1000 + 4032000/2048) / 7 = 576.
        assert_eq!(m.fragmentation_index(0, 11), Some(1000 - (1000 + 4032 * 1000 / 2048) / 7));
    }
}
