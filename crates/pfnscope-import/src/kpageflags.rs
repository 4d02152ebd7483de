//! `/proc/kpageflags`: one u64 of stable flags per PFN
//! (include/uapi/linux/kernel-page-flags.h), turned into the model's page
//! kinds. The flags cannot say everything: a page with no telling flag
//! (kernel memory, or a page on a per-cpu list, which has refcount 0 but no
//! BUDDY) reads as "kernel"; slab is counted unmovable.

use pfnscope_core::{InUse, PageFlags, PageKind};

pub const KPF_LOCKED: u32 = 0;
pub const KPF_DIRTY: u32 = 4;
pub const KPF_LRU: u32 = 5;
pub const KPF_SLAB: u32 = 7;
pub const KPF_WRITEBACK: u32 = 8;
pub const KPF_BUDDY: u32 = 10;
pub const KPF_MMAP: u32 = 11;
pub const KPF_ANON: u32 = 12;
pub const KPF_COMPOUND_HEAD: u32 = 15;
pub const KPF_COMPOUND_TAIL: u32 = 16;
pub const KPF_HUGE: u32 = 17;
pub const KPF_HWPOISON: u32 = 19;
pub const KPF_NOPAGE: u32 = 20;
pub const KPF_THP: u32 = 22;
pub const KPF_OFFLINE: u32 = 23;
pub const KPF_PGTABLE: u32 = 26;
pub const KPF_RESERVED: u32 = 32;

#[inline]
pub fn has(flags: u64, bit: u32) -> bool {
    flags & (1 << bit) != 0
}

/// What one PFN's flags say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    Hole,
    Free,
    Used(InUse),
}

/// Decodes one PFN's flags (compound structure is resolved by the caller).
pub fn decode(flags: u64) -> Decoded {
    if has(flags, KPF_NOPAGE) {
        return Decoded::Hole;
    }
    if has(flags, KPF_BUDDY) {
        return Decoded::Free;
    }
    let kind = if has(flags, KPF_HWPOISON) {
        PageKind::HwPoison
    } else if has(flags, KPF_OFFLINE) {
        PageKind::Offline
    } else if has(flags, KPF_RESERVED) {
        PageKind::Reserved
    } else if has(flags, KPF_HUGE) {
        PageKind::Hugetlb
    } else if has(flags, KPF_SLAB) {
        PageKind::SlabUnmovable
    } else if has(flags, KPF_PGTABLE) {
        PageKind::PageTable
    } else if has(flags, KPF_LRU) || has(flags, KPF_ANON) || has(flags, KPF_MMAP) {
        if has(flags, KPF_ANON) { PageKind::Anon } else { PageKind::File }
    } else {
        PageKind::Kernel
    };
    let mut p = InUse::new(kind);
    if kind.is_lru() {
        p.flags |= if has(flags, KPF_LRU) { PageFlags::LRU } else { PageFlags::LRU_BATCH };
        p.mapcount = u8::from(has(flags, KPF_MMAP));
    }
    for (bit, f) in [(KPF_DIRTY, PageFlags::DIRTY), (KPF_WRITEBACK, PageFlags::WRITEBACK), (KPF_LOCKED, PageFlags::LOCKED), (KPF_THP, PageFlags::THP)] {
        if has(flags, bit) {
            p.flags |= f;
        }
    }
    if matches!(kind, PageKind::Offline | PageKind::HwPoison) {
        p.refcount = 0;
    }
    Decoded::Used(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_decode_to_kinds() {
        assert_eq!(decode(1 << KPF_NOPAGE), Decoded::Hole);
        assert_eq!(decode(1 << KPF_BUDDY), Decoded::Free);
        let Decoded::Used(p) = decode((1 << KPF_LRU) | (1 << KPF_ANON) | (1 << KPF_MMAP)) else { panic!() };
        assert_eq!((p.kind, p.mapcount), (PageKind::Anon, 1));
        assert!(p.flags.contains(PageFlags::LRU));
        let Decoded::Used(p) = decode((1 << KPF_LRU) | (1 << KPF_DIRTY)) else { panic!() };
        assert_eq!(p.kind, PageKind::File);
        assert!(p.flags.contains(PageFlags::DIRTY));
        for (bit, kind) in [(KPF_SLAB, PageKind::SlabUnmovable), (KPF_PGTABLE, PageKind::PageTable), (KPF_RESERVED, PageKind::Reserved), (KPF_HWPOISON, PageKind::HwPoison)] {
            let Decoded::Used(p) = decode(1 << bit) else { panic!() };
            assert_eq!(p.kind, kind);
        }
        let Decoded::Used(p) = decode(0) else { panic!() };
        assert_eq!(p.kind, PageKind::Kernel);
    }
}
