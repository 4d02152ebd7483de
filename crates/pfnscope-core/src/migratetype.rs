//! Migratetypes (`enum migratetype`, include/linux/mmzone.h, v6.12) and the
//! fallback table of `mm/page_alloc.c` (v6.12).

use serde::{Deserialize, Serialize};

/// A pageblock's migratetype: a grouping hint for the whole block, not a
/// per-page property. The numeric values are those of 6.12 with CONFIG_CMA
/// and CONFIG_MEMORY_ISOLATION (since 4.4; older kernels numbered them
/// differently, so parse names, not numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum MigrateType {
    Unmovable = 0,
    Movable = 1,
    Reclaimable = 2,
    HighAtomic = 3,
    Cma = 4,
    Isolate = 5,
}

/// `MIGRATE_TYPES`.
pub const MIGRATE_TYPES: usize = 6;
/// `MIGRATE_PCPTYPES`: the types with per-cpu lists.
pub const MIGRATE_PCPTYPES: usize = 3;

impl MigrateType {
    /// All types in numeric order.
    pub const ALL: [MigrateType; MIGRATE_TYPES] = [
        MigrateType::Unmovable,
        MigrateType::Movable,
        MigrateType::Reclaimable,
        MigrateType::HighAtomic,
        MigrateType::Cma,
        MigrateType::Isolate,
    ];

    /// Decodes the 3-bit value stored in the pageblock flags.
    pub const fn from_bits(bits: u8) -> MigrateType {
        match bits & 7 {
            0 => MigrateType::Unmovable,
            1 => MigrateType::Movable,
            2 => MigrateType::Reclaimable,
            3 => MigrateType::HighAtomic,
            4 => MigrateType::Cma,
            _ => MigrateType::Isolate,
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name `/proc/pagetypeinfo` prints (`migratetype_names[]`).
    pub const fn proc_name(self) -> &'static str {
        match self {
            MigrateType::Unmovable => "Unmovable",
            MigrateType::Movable => "Movable",
            MigrateType::Reclaimable => "Reclaimable",
            MigrateType::HighAtomic => "HighAtomic",
            MigrateType::Cma => "CMA",
            MigrateType::Isolate => "Isolate",
        }
    }

    /// Parses a `/proc/pagetypeinfo` type name.
    pub fn from_proc_name(name: &str) -> Option<MigrateType> {
        MigrateType::ALL.into_iter().find(|m| m.proc_name() == name)
    }

    /// `migratetype_is_mergeable()` (include/linux/mmzone.h, 5.19+): only
    /// these three types may merge with a different type above
    /// pageblock_order.
    pub const fn is_mergeable(self) -> bool {
        (self as u8) < MigrateType::HighAtomic as u8
    }

    /// True for the types that have per-cpu lists.
    pub const fn is_pcptype(self) -> bool {
        (self as usize) < MIGRATE_PCPTYPES
    }

    /// `fallbacks[]` (mm/page_alloc.c, v6.12): the types a request of this
    /// type may steal from, in order. HIGHATOMIC, CMA and ISOLATE are never
    /// fallback sources; CMA is handled separately for movable requests.
    pub const fn fallbacks(self) -> &'static [MigrateType] {
        match self {
            MigrateType::Unmovable => &[MigrateType::Reclaimable, MigrateType::Movable],
            MigrateType::Movable => &[MigrateType::Reclaimable, MigrateType::Unmovable],
            MigrateType::Reclaimable => &[MigrateType::Unmovable, MigrateType::Movable],
            _ => &[],
        }
    }
}

impl std::fmt::Display for MigrateType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.proc_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_values_match_6_12() {
        assert_eq!(MigrateType::Unmovable as u8, 0);
        assert_eq!(MigrateType::Movable as u8, 1);
        assert_eq!(MigrateType::Reclaimable as u8, 2);
        assert_eq!(MigrateType::HighAtomic as u8, 3);
        assert_eq!(MigrateType::Cma as u8, 4);
        assert_eq!(MigrateType::Isolate as u8, 5);
        for mt in MigrateType::ALL {
            assert_eq!(MigrateType::from_bits(mt as u8), mt);
            assert_eq!(MigrateType::from_proc_name(mt.proc_name()), Some(mt));
        }
    }

    #[test]
    fn fallback_table_matches_page_alloc_c() {
        use MigrateType::*;
        assert_eq!(Unmovable.fallbacks(), &[Reclaimable, Movable]);
        assert_eq!(Movable.fallbacks(), &[Reclaimable, Unmovable]);
        assert_eq!(Reclaimable.fallbacks(), &[Unmovable, Movable]);
        assert!(HighAtomic.fallbacks().is_empty() && Cma.fallbacks().is_empty());
    }

    #[test]
    fn only_the_three_pcp_types_are_mergeable() {
        let mergeable: Vec<_> = MigrateType::ALL.into_iter().filter(|m| m.is_mergeable()).collect();
        assert_eq!(mergeable, vec![MigrateType::Unmovable, MigrateType::Movable, MigrateType::Reclaimable]);
    }
}
