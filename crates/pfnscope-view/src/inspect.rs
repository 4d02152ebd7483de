//! What the tooltip says about a page: address, zone, pageblock, state.

use pfnscope_core::{Machine, PageState, Tag};

/// A page described for a person, as label/value rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageInfo {
    pub pfn: u64,
    pub rows: Vec<(&'static str, String)>,
}

/// Describes the page at `pfn`; `None` outside the machine.
pub fn describe(m: &Machine, pfn: u64) -> Option<PageInfo> {
    if !m.pfn_span().contains(pfn) {
        return None;
    }
    let geo = m.geometry();
    let mut rows = vec![
        ("PFN", format!("{pfn:#x} ({pfn})")),
        ("physical", format!("{:#x}", pfn << geo.page_shift)),
    ];
    match m.zone_of(pfn) {
        Some(zi) => rows.push(("zone", m.zones()[zi].name().to_string())),
        None => rows.push(("zone", "none".into())),
    }
    let block = m.pageblock_start_pfn(pfn);
    rows.push(("pageblock", format!("{block:#x} {}", m.get_pageblock_migratetype(pfn))));
    let state = match m.page(pfn).state() {
        PageState::Hole => "hole: no memory here".to_string(),
        PageState::Buddy { order, reported } => {
            format!("free: head of an order-{order} buddy block{}", if reported { " (reported)" } else { "" })
        }
        PageState::FreeTail => match m.free_block_at(pfn) {
            Some((head, order)) if m.page(head).tag() == Tag::Pcp => format!("free: in order-{order} per-cpu block {head:#x}"),
            Some((head, order)) if m.page(head).tag() == Tag::Taken => format!("in flight: in order-{order} block {head:#x}"),
            Some((head, order)) => format!("free: inside order-{order} buddy block {head:#x}"),
            None => "free tail with no head (inconsistent)".into(),
        },
        PageState::Pcp { order } => format!("free: head of an order-{order} block on a per-cpu list"),
        PageState::Taken { order } => format!("in flight: an order-{order} block off the free lists, not yet handed out"),
        PageState::InUse(p) => {
            let mut s = p.kind.label().to_string();
            if let Some((head, order)) = m.allocation_at(pfn) {
                if order > 0 {
                    s += &format!(", order-{order} compound at {head:#x}");
                }
            }
            rows.push(("refcount", p.refcount.to_string()));
            if p.mapcount > 0 {
                rows.push(("mapcount", p.mapcount.to_string()));
            }
            if p.pincount > 0 {
                let long = if p.flags.contains(pfnscope_core::PageFlags::LONGTERM_PIN) { " (FOLL_LONGTERM)" } else { "" };
                rows.push(("pins", format!("{}{long}", p.pincount)));
            }
            let mut flags = Vec::new();
            for (f, name) in [
                (pfnscope_core::PageFlags::LRU, "lru"),
                (pfnscope_core::PageFlags::LRU_BATCH, "in per-cpu LRU batch"),
                (pfnscope_core::PageFlags::DIRTY, "dirty"),
                (pfnscope_core::PageFlags::WRITEBACK, "writeback"),
                (pfnscope_core::PageFlags::LOCKED, "locked"),
            ] {
                if p.flags.contains(f) {
                    flags.push(name);
                }
            }
            if !flags.is_empty() {
                rows.push(("flags", flags.join(", ")));
            }
            s
        }
    };
    rows.insert(4, ("state", state));
    if m.host_holds(pfn) {
        rows.push(("host", "given back by free page reporting: the host discarded it until the guest writes it".into()));
    }
    if let Some(zi) = m.zone_of(pfn).filter(|&zi| m.zone_regions(zi) > 0) {
        let info = m.region_info(zi, m.region_of(zi, pfn));
        let state = match info.state {
            pfnscope_core::RegionState::InRegionAllocator => "held by the region allocator: could be powered down".to_string(),
            pfnscope_core::RegionState::FullyFree => "all free: could be powered down".to_string(),
            pfnscope_core::RegionState::Owned(mt) => format!("{mt}, {} of {} pages free", info.free_pages, info.present_pages),
            pfnscope_core::RegionState::Empty => "no memory".to_string(),
        };
        rows.push(("region", format!("{} ({:#x}-{:#x}): {state}", info.index, info.span.start, info.span.end)));
    }
    Some(PageInfo { pfn, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfnscope_core::{Gfp, MachineSpec, PageKind};

    #[test]
    fn describes_free_used_and_hole_pages() {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let info = describe(&m, 0xa0).unwrap();
        assert!(info.rows.iter().any(|(k, v)| *k == "state" && v.starts_with("hole")));
        let info = describe(&m, 0x3005).unwrap();
        assert!(info.rows.iter().any(|(k, v)| *k == "state" && v == "free: inside order-10 buddy block 0x3000"));
        assert!(info.rows.iter().any(|(k, v)| *k == "physical" && v == "0x3005000"));
        assert!(info.rows.iter().any(|(k, v)| *k == "zone" && v == "Movable"));
        let pfn = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 2, PageKind::Anon).unwrap();
        let info = describe(&m, pfn + 1).unwrap();
        assert!(info.rows.iter().any(|(k, v)| *k == "state" && v.contains("order-2 compound")));
        assert!(describe(&m, 0x9999_9999).is_none());
    }
}
