//! Parsers for `/proc/buddyinfo`, `/proc/pagetypeinfo` and `/proc/zoneinfo`
//! as Linux 6.x prints them (mm/vmstat.c). Every error names the file and
//! line and says what was expected.

use pfnscope_core::MigrateType;

use crate::error::{ImportError, Place, Result};

/// One `/proc/buddyinfo` row: free blocks per order of a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuddyRow {
    pub node: u32,
    pub zone: String,
    pub free: Vec<u64>,
}

/// Splits `Node 0, zone   Normal rest...` into (node, zone, rest).
fn node_zone<'a>(file: &str, n: usize, line: &'a str) -> Result<(u32, String, &'a str)> {
    let err = |m: &str| ImportError::new(file, Place::Line(n), m.to_string());
    let rest = line.trim_start().strip_prefix("Node").ok_or_else(|| err("expected a line starting with \"Node\""))?;
    let (node, rest) = rest.split_once(',').ok_or_else(|| err("expected \"Node N, zone NAME\""))?;
    let node = node.trim().parse::<u32>().map_err(|_| err(&format!("node {:?} is not a number", node.trim())))?;
    let rest = rest.trim_start().strip_prefix("zone").ok_or_else(|| err("expected \"zone\" after the node"))?;
    let rest = rest.trim_start();
    let end = rest.find(|c: char| c.is_whitespace() || c == ',').unwrap_or(rest.len());
    let zone = &rest[..end];
    if zone.is_empty() {
        return Err(err("the zone name is missing"));
    }
    Ok((node, zone.to_string(), &rest[end..]))
}

fn counts(file: &str, n: usize, text: &str) -> Result<Vec<u64>> {
    text.split_whitespace()
        .map(|t| {
            // pagetypeinfo caps counts at 100000 and prints ">100000".
            let t = t.trim_start_matches('>');
            t.parse::<u64>().map_err(|_| ImportError::new(file, Place::Line(n), format!("expected a count, found {t:?}")))
        })
        .collect()
}

/// Parses `/proc/buddyinfo`.
pub fn parse_buddyinfo(text: &str) -> Result<Vec<BuddyRow>> {
    const F: &str = "buddyinfo";
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (node, zone, rest) = node_zone(F, i + 1, line)?;
        let free = counts(F, i + 1, rest)?;
        if free.is_empty() || free.len() > 16 {
            return Err(ImportError::new(F, Place::Line(i + 1), format!("expected 1 to 16 order columns, found {}", free.len())));
        }
        rows.push(BuddyRow { node, zone, free });
    }
    if rows.is_empty() {
        return Err(ImportError::new(F, Place::File, "no zone lines"));
    }
    Ok(rows)
}

/// What `/proc/pagetypeinfo` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageTypeInfo {
    pub pageblock_order: u8,
    /// (node, zone, type, free blocks per order).
    pub free: Vec<(u32, String, MigrateType, Vec<u64>)>,
    /// (node, zone, pageblocks per type, in `MigrateType::ALL` order).
    pub blocks: Vec<(u32, String, [u64; 6])>,
}

/// Parses `/proc/pagetypeinfo`; the block-count columns are matched by
/// name, since CMA and Isolate appear only when configured.
pub fn parse_pagetypeinfo(text: &str) -> Result<PageTypeInfo> {
    const F: &str = "pagetypeinfo";
    let mut out = PageTypeInfo::default();
    let mut order_seen = false;
    let mut columns: Option<Vec<MigrateType>> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with("Free pages count") || t.starts_with("Pages per block") {
            continue;
        }
        if let Some(v) = t.strip_prefix("Page block order:") {
            out.pageblock_order = v.trim().parse().map_err(|_| ImportError::new(F, Place::Line(n), format!("expected a pageblock order, found {:?}", v.trim())))?;
            order_seen = true;
            continue;
        }
        if let Some(rest) = t.strip_prefix("Number of blocks type") {
            let cols: Result<Vec<MigrateType>> = rest
                .split_whitespace()
                .map(|c| MigrateType::from_proc_name(c).ok_or_else(|| ImportError::new(F, Place::Line(n), format!("unknown migratetype column {c:?}"))))
                .collect();
            columns = Some(cols?);
            continue;
        }
        if t.starts_with("Number of mixed blocks") {
            // Needs page_owner; nothing the importer uses follows.
            break;
        }
        let (node, zone, rest) = node_zone(F, n, t)?;
        match &columns {
            None => {
                let rest = rest.trim_start().strip_prefix(',').unwrap_or(rest).trim_start();
                let rest = rest.strip_prefix("type").ok_or_else(|| ImportError::new(F, Place::Line(n), "expected \", type NAME\" after the zone"))?;
                let mut words = rest.split_whitespace();
                let name = words.next().ok_or_else(|| ImportError::new(F, Place::Line(n), "the type name is missing"))?;
                let mt = MigrateType::from_proc_name(name).ok_or_else(|| ImportError::new(F, Place::Line(n), format!("unknown migratetype {name:?}")))?;
                let c = counts(F, n, &words.collect::<Vec<_>>().join(" "))?;
                out.free.push((node, zone, mt, c));
            }
            Some(cols) => {
                let c = counts(F, n, rest)?;
                if c.len() != cols.len() {
                    return Err(ImportError::new(F, Place::Line(n), format!("expected {} block counts, found {}", cols.len(), c.len())));
                }
                let mut per = [0u64; 6];
                for (mt, v) in cols.iter().zip(c) {
                    per[mt.index()] = v;
                }
                out.blocks.push((node, zone, per));
            }
        }
    }
    if !order_seen {
        return Err(ImportError::new(F, Place::File, "no \"Page block order:\" line"));
    }
    Ok(out)
}

/// A zone as `/proc/zoneinfo` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneInfo {
    pub node: u32,
    pub zone: String,
    pub start_pfn: u64,
    pub spanned: u64,
    pub present: u64,
    pub managed: u64,
    /// min, low, high.
    pub watermark: [u64; 3],
}

/// Parses `/proc/zoneinfo`; zones that span nothing are left out.
pub fn parse_zoneinfo(text: &str) -> Result<Vec<ZoneInfo>> {
    const F: &str = "zoneinfo";
    let mut zones: Vec<(ZoneInfo, usize, [bool; 3])> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.starts_with("Node") {
            let (node, zone, _) = node_zone(F, n, t)?;
            zones.push((ZoneInfo { node, zone, ..ZoneInfo::default() }, n, [false; 3]));
            continue;
        }
        let Some((z, _, seen)) = zones.last_mut() else { continue };
        let mut words = t.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else { continue };
        let num = || value.parse::<u64>().map_err(|_| ImportError::new(F, Place::Line(n), format!("{key}: expected a number, found {value:?}")));
        match key {
            "start_pfn:" => {
                z.start_pfn = num()?;
                seen[0] = true;
            }
            "spanned" => {
                z.spanned = num()?;
                seen[1] = true;
            }
            "present" => {
                z.present = num()?;
                seen[2] = true;
            }
            "managed" => z.managed = num()?,
            "min" => z.watermark[0] = num()?,
            "low" => z.watermark[1] = num()?,
            "high" => z.watermark[2] = num()?,
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (z, line, seen) in zones {
        if seen[1] && z.spanned == 0 {
            continue;
        }
        if !(seen[0] && seen[1] && seen[2]) {
            return Err(ImportError::new(F, Place::Line(line), format!("zone {} lacks start_pfn, spanned or present", z.zone)));
        }
        out.push(z);
    }
    if out.is_empty() {
        return Err(ImportError::new(F, Place::File, "no populated zone"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machines_own_zoneinfo_reads_back() {
        let m = pfnscope_core::Machine::new(pfnscope_core::MachineSpec::x86_64_pc(4)).unwrap();
        let zones = parse_zoneinfo(&m.zoneinfo()).unwrap();
        assert_eq!(zones.len(), m.zones().len());
        for (z, spec) in zones.iter().zip(m.zones()) {
            assert_eq!((z.zone.as_str(), z.start_pfn, z.spanned, z.present, z.managed, z.watermark), (spec.name(), spec.span.start, spec.span.len(), spec.present_pages, spec.managed_pages, spec.watermark));
        }
    }

    #[test]
    fn buddyinfo_rows_parse_and_errors_name_the_line() {
        let rows = parse_buddyinfo("Node 0, zone      DMA      0      0      1 \nNode 0, zone   Normal   2917   1455    741 \n").unwrap();
        assert_eq!(rows[1], BuddyRow { node: 0, zone: "Normal".into(), free: vec![2917, 1455, 741] });
        let e = parse_buddyinfo("Node 0, zone DMA 1 2\nNode 0, zone Normal 1 x\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.place.clone()), ("buddyinfo", Place::Line(2)));
        assert!(e.to_string().contains("expected a count, found \"x\""), "{e}");
        assert!(parse_buddyinfo("").is_err());
        assert!(parse_buddyinfo("Mode 0, zone DMA 1").is_err());
    }

    #[test]
    fn pagetypeinfo_matches_columns_by_name_and_reads_capped_counts() {
        let text = "Page block order: 9\nPages per block:  512\n\nFree pages count per migrate type at order       0      1 \nNode    0, zone   Normal, type    Unmovable     12 >100000 \nNode    0, zone   Normal, type      Movable      1      2 \n\nNumber of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate \nNode 0, zone   Normal          118         7468          126            0            3 \n";
        let p = parse_pagetypeinfo(text).unwrap();
        assert_eq!(p.pageblock_order, 9);
        assert_eq!(p.free[0].3, vec![12, 100000]);
        assert_eq!(p.blocks[0].2, [118, 7468, 126, 0, 0, 3]);
        let e = parse_pagetypeinfo("Page block order: 9\nNumber of blocks type Unmovable Bogus\n").unwrap_err();
        assert!(e.to_string().contains("unknown migratetype column \"Bogus\""), "{e}");
        assert!(parse_pagetypeinfo("nothing").is_err());
    }

    #[test]
    fn zoneinfo_keeps_populated_zones() {
        let text = "Node 0, zone      DMA\n  pages free     3840\n        min      6\n        low      9\n        high     12\n        spanned  4095\n        present  3998\n        managed  3840\n  start_pfn:           1\nNode 0, zone  Movable\n        spanned  0\n        present  0\n";
        let z = parse_zoneinfo(text).unwrap();
        assert_eq!(z.len(), 1);
        assert_eq!((z[0].start_pfn, z[0].spanned, z[0].present, z[0].managed, z[0].watermark), (1, 4095, 3998, 3840, [6, 9, 12]));
        let e = parse_zoneinfo("Node 0, zone DMA\n spanned 10\n").unwrap_err();
        assert!(e.to_string().contains("lacks start_pfn"), "{e}");
    }
}
