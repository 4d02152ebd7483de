//! The per-PFN state: one `u64` per page, packed like a tiny `struct page`.
//!
//! Like `struct page`, the word is a union whose meaning depends on what the
//! page is. A free buddy head (`PageBuddy`, order in `page_private`) and a
//! page on a per-cpu list keep their `lru` list links in the word, where an
//! in-use page keeps its refcount, mapcount, pins and flags. Tail pages of a
//! free block are marked [`PageState::FreeTail`], which the kernel does not
//! do (it leaves them unmarked); marking them costs nothing when blocks merge
//! or split and lets the map and the invariant checker see them directly.
//!
//! Layout (bit 0 first). The low six bits are a code that says what the
//! page is and, for a block head, its order (0 to [`MAX_WORD_ORDER`]):
//! Hole, FreeTail, InUse, then Taken, Pcp, Buddy and reported Buddy with
//! an order each. Packing the order into the code leaves 29 bits a link.
//!
//! | bits  | Buddy / Pcp / Taken    | InUse                          |
//! |-------|------------------------|--------------------------------|
//! | 0-5   | code (tag, order, PageReported) | code                  |
//! | 6-34  | `lru.prev` node        | kind (6-10), refcount (11-26), mapcount (27-34) |
//! | 35-63 | `lru.next` node        | pincount (35-42), flags (43-54), compound order (55-58) |
//!
//! Links are 29-bit node indices, so a machine may have up to 2^29 PFNs
//! less its list heads (about 2 TiB with 4 KiB pages).

use serde::{Deserialize, Serialize};

/// Bits of one list link.
pub const LINK_BITS: u32 = 29;
/// The largest order a page word holds (a geometry's `max_order` may not
/// be larger).
pub const MAX_WORD_ORDER: u8 = 14;
/// The largest node index a link can hold.
pub const LINK_MASK: u64 = (1 << LINK_BITS) - 1;

/// What a page is, the first thing the word says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Tag {
    /// No memory here: a hole in the physical map (kpageflags NOPAGE).
    Hole = 0,
    /// The head of a free block on a buddy free list (`PageBuddy`).
    Buddy = 1,
    /// A page inside a free block (buddy or per-cpu), after its head.
    FreeTail = 2,
    /// The head of a block on a per-cpu list: refcount 0, not `PageBuddy`.
    Pcp = 3,
    /// Allocated: see [`PageKind`].
    InUse = 4,
    /// The head of a block taken off the free lists and not yet handed out
    /// or put back: owned by the function running (after
    /// `__del_page_from_free_list`, before `prep_new_page`), like the kernel's
    /// pages in flight. Its tails are [`Tag::FreeTail`].
    Taken = 5,
}

/// What an allocated page is used for. The kind decides how isolation and
/// migration treat it (domain brief, section 2, `has_unmovable_pages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum PageKind {
    /// Anonymous memory on the LRU (or in a per-cpu LRU batch).
    Anon = 0,
    /// Page cache on the LRU; [`PageFlags::DIRTY`] says whether it must be
    /// written back before it can be dropped.
    File = 1,
    /// Reclaimable slab (dentries, inodes): shrinkable, not migratable.
    SlabReclaimable = 2,
    /// Unmovable slab.
    SlabUnmovable = 3,
    /// A page table.
    PageTable = 4,
    /// Other kernel memory: stacks, driver buffers, vmalloc backing.
    Kernel = 5,
    /// `PG_reserved`: firmware, the kernel image, memblock.
    Reserved = 6,
    /// `PageOffline`: taken away by virtio-mem, a balloon or offlining.
    Offline = 7,
    /// A hugetlb folio (compound).
    Hugetlb = 8,
    /// Non-LRU movable memory (`__PageMovable`: zsmalloc, balloon pages).
    MovableOps = 9,
    /// `PageHWPoison`: a memory error took this page out of use.
    HwPoison = 10,
    /// Held by a contiguous allocation (`alloc_contig_range`, CMA).
    Contig = 11,
}

impl PageKind {
    pub const ALL: [PageKind; 12] = [
        PageKind::Anon,
        PageKind::File,
        PageKind::SlabReclaimable,
        PageKind::SlabUnmovable,
        PageKind::PageTable,
        PageKind::Kernel,
        PageKind::Reserved,
        PageKind::Offline,
        PageKind::Hugetlb,
        PageKind::MovableOps,
        PageKind::HwPoison,
        PageKind::Contig,
    ];

    const fn from_bits(bits: u8) -> PageKind {
        match bits {
            0 => PageKind::Anon,
            1 => PageKind::File,
            2 => PageKind::SlabReclaimable,
            3 => PageKind::SlabUnmovable,
            4 => PageKind::PageTable,
            5 => PageKind::Kernel,
            6 => PageKind::Reserved,
            7 => PageKind::Offline,
            8 => PageKind::Hugetlb,
            9 => PageKind::MovableOps,
            10 => PageKind::HwPoison,
            _ => PageKind::Contig,
        }
    }

    /// The name in scenario files (`slab_unmovable`).
    pub const fn name(self) -> &'static str {
        match self {
            PageKind::Anon => "anon",
            PageKind::File => "file",
            PageKind::SlabReclaimable => "slab_reclaimable",
            PageKind::SlabUnmovable => "slab_unmovable",
            PageKind::PageTable => "page_table",
            PageKind::Kernel => "kernel",
            PageKind::Reserved => "reserved",
            PageKind::Offline => "offline",
            PageKind::Hugetlb => "hugetlb",
            PageKind::MovableOps => "movable_ops",
            PageKind::HwPoison => "hw_poison",
            PageKind::Contig => "contig",
        }
    }

    /// A kind by its file name; `slab` is unmovable slab.
    pub fn by_name(name: &str) -> Option<PageKind> {
        if name == "slab" {
            return Some(PageKind::SlabUnmovable);
        }
        PageKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// A short human name for legends and tooltips.
    pub const fn label(self) -> &'static str {
        match self {
            PageKind::Anon => "anon (LRU)",
            PageKind::File => "page cache (LRU)",
            PageKind::SlabReclaimable => "slab, reclaimable",
            PageKind::SlabUnmovable => "slab, unmovable",
            PageKind::PageTable => "page table",
            PageKind::Kernel => "kernel",
            PageKind::Reserved => "reserved",
            PageKind::Offline => "offline",
            PageKind::Hugetlb => "hugetlb",
            PageKind::MovableOps => "movable (non-LRU)",
            PageKind::HwPoison => "hwpoison",
            PageKind::Contig => "contig allocation",
        }
    }

    /// True for the kinds that live on the LRU once out of the per-cpu batch.
    pub const fn is_lru(self) -> bool {
        matches!(self, PageKind::Anon | PageKind::File)
    }
}

bitflags::bitflags! {
    /// Flags of an in-use page (a few of the kernel's page flags); 12 bits
    /// are kept in the page word.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct PageFlags: u16 {
        /// `PageLRU`: on an LRU list, so isolatable for migration.
        const LRU = 1 << 0;
        /// In a per-cpu LRU batch (`folio_batch`), not yet `PageLRU`.
        const LRU_BATCH = 1 << 1;
        /// `PageDirty`.
        const DIRTY = 1 << 2;
        /// `PageWriteback`: migration gets -EAGAIN.
        const WRITEBACK = 1 << 3;
        /// `PageLocked`: migration gets -EAGAIN.
        const LOCKED = 1 << 4;
        /// The pins include a `FOLL_LONGTERM` one.
        const LONGTERM_PIN = 1 << 5;
        /// `PageHead`: the first page of a compound page.
        const HEAD = 1 << 6;
        /// `PageTail`: a later page of a compound page.
        const TAIL = 1 << 7;
        /// Part of a transparent huge page.
        const THP = 1 << 8;
        /// Isolated from the LRU for migration (on a private list).
        const ISOLATED = 1 << 9;
    }
}

/// The decoded content of an in-use page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InUse {
    pub kind: PageKind,
    /// `page_ref_count()` (16 bits kept).
    pub refcount: u16,
    /// `page_mapcount()` (8 bits kept).
    pub mapcount: u8,
    /// Pins by `pin_user_pages` (`FOLL_PIN`).
    pub pincount: u8,
    pub flags: PageFlags,
    /// The compound order, kept in the head page.
    pub compound_order: u8,
}

impl InUse {
    /// A single page of `kind` with refcount 1.
    pub const fn new(kind: PageKind) -> InUse {
        InUse { kind, refcount: 1, mapcount: 0, pincount: 0, flags: PageFlags::empty(), compound_order: 0 }
    }
    pub const fn with_flags(mut self, flags: PageFlags) -> InUse {
        self.flags = self.flags.union(flags);
        self
    }
    pub const fn with_mapcount(mut self, mapcount: u8) -> InUse {
        self.mapcount = mapcount;
        self
    }
}

/// The decoded word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageState {
    Hole,
    /// A free block head; `reported` is `PageReported`.
    Buddy { order: u8, reported: bool },
    FreeTail,
    /// A block head on a per-cpu list.
    Pcp { order: u8 },
    /// A block head in flight between lists and owners.
    Taken { order: u8 },
    InUse(InUse),
}

/// One packed page word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[repr(transparent)]
pub struct PageWord(pub u64);

const CODE_MASK: u64 = 0b11_1111;
const CODE_FREE_TAIL: u64 = 1;
const CODE_IN_USE: u64 = 2;
/// The first code of each ordered kind; each has `ORDERS` codes.
const CODE_TAKEN: u64 = 3;
const CODE_PCP: u64 = CODE_TAKEN + ORDERS;
const CODE_BUDDY: u64 = CODE_PCP + ORDERS;
const CODE_REPORTED: u64 = CODE_BUDDY + ORDERS;
const ORDERS: u64 = MAX_WORD_ORDER as u64 + 1;
const PREV_SHIFT: u32 = 6;
const NEXT_SHIFT: u32 = 6 + LINK_BITS;

impl PageWord {
    pub const HOLE: PageWord = PageWord(0);
    pub const FREE_TAIL: PageWord = PageWord(CODE_FREE_TAIL);
    /// One more in both links: the difference between the words of two
    /// consecutive pages on a list in PFN order (the journal keeps such a
    /// run as one entry).
    pub const LINK_STEP: u64 = 1 << PREV_SHIFT | 1 << NEXT_SHIFT;

    const fn code(self) -> u64 {
        self.0 & CODE_MASK
    }

    pub const fn tag(self) -> Tag {
        match self.code() {
            CODE_FREE_TAIL => Tag::FreeTail,
            CODE_IN_USE => Tag::InUse,
            c if c >= CODE_BUDDY && c < CODE_REPORTED + ORDERS => Tag::Buddy,
            c if c >= CODE_PCP && c < CODE_BUDDY => Tag::Pcp,
            c if c >= CODE_TAKEN && c < CODE_PCP => Tag::Taken,
            _ => Tag::Hole,
        }
    }

    /// A listed block head (Buddy or Pcp) not yet linked anywhere.
    pub const fn listed(tag: Tag, order: u8) -> PageWord {
        let base = match tag {
            Tag::Buddy => CODE_BUDDY,
            Tag::Pcp => CODE_PCP,
            _ => CODE_TAKEN,
        };
        PageWord(base + (order as u64 % ORDERS))
    }

    /// A block in flight (see [`Tag::Taken`]).
    pub const fn taken(order: u8) -> PageWord {
        PageWord::listed(Tag::Taken, order)
    }

    /// The order of a Buddy, Pcp or Taken head (`buddy_order()`).
    pub const fn order(self) -> u8 {
        let c = self.code();
        if c < CODE_TAKEN {
            0
        } else {
            ((c - CODE_TAKEN) % ORDERS) as u8
        }
    }

    /// `PageBuddy()`; branch-free, so a scan for free blocks vectorizes.
    pub const fn is_buddy(self) -> bool {
        self.code().wrapping_sub(CODE_BUDDY) < 2 * ORDERS
    }

    pub const fn reported(self) -> bool {
        self.code() >= CODE_REPORTED && self.code() < CODE_REPORTED + ORDERS
    }

    /// Sets or clears `PageReported` of a Buddy head (other words unchanged).
    pub const fn with_reported(self, reported: bool) -> PageWord {
        if !self.is_buddy() {
            return self;
        }
        let base = if reported { CODE_REPORTED } else { CODE_BUDDY };
        PageWord((self.0 & !CODE_MASK) | (base + self.order() as u64))
    }

    pub const fn prev(self) -> u32 {
        ((self.0 >> PREV_SHIFT) & LINK_MASK) as u32
    }
    pub const fn next(self) -> u32 {
        ((self.0 >> NEXT_SHIFT) & LINK_MASK) as u32
    }
    pub const fn with_prev(self, node: u32) -> PageWord {
        PageWord((self.0 & !(LINK_MASK << PREV_SHIFT)) | ((node as u64 & LINK_MASK) << PREV_SHIFT))
    }
    pub const fn with_next(self, node: u32) -> PageWord {
        PageWord((self.0 & !(LINK_MASK << NEXT_SHIFT)) | ((node as u64 & LINK_MASK) << NEXT_SHIFT))
    }

    /// Packs an in-use page.
    pub const fn in_use(p: InUse) -> PageWord {
        PageWord(
            CODE_IN_USE
                | ((p.kind as u64) << 6)
                | ((p.refcount as u64) << 11)
                | ((p.mapcount as u64) << 27)
                | ((p.pincount as u64) << 35)
                | (((p.flags.bits() as u64) & 0xfff) << 43)
                | (((p.compound_order as u64) & 0xf) << 55),
        )
    }

    /// Unpacks an in-use page; `None` for any other tag.
    pub const fn as_in_use(self) -> Option<InUse> {
        if self.code() != CODE_IN_USE {
            return None;
        }
        let w = self.0;
        Some(InUse {
            kind: PageKind::from_bits(((w >> 6) & 0x1f) as u8),
            refcount: ((w >> 11) & 0xffff) as u16,
            mapcount: ((w >> 27) & 0xff) as u8,
            pincount: ((w >> 35) & 0xff) as u8,
            flags: PageFlags::from_bits_retain(((w >> 43) & 0xfff) as u16),
            compound_order: ((w >> 55) & 0xf) as u8,
        })
    }

    pub const fn state(self) -> PageState {
        match self.tag() {
            Tag::Hole => PageState::Hole,
            Tag::Buddy => PageState::Buddy { order: self.order(), reported: self.reported() },
            Tag::FreeTail => PageState::FreeTail,
            Tag::Pcp => PageState::Pcp { order: self.order() },
            Tag::Taken => PageState::Taken { order: self.order() },
            Tag::InUse => match self.as_in_use() {
                Some(p) => PageState::InUse(p),
                None => PageState::Hole,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<PageWord>(), 8);
    }

    #[test]
    fn links_and_order_round_trip_without_touching_each_other() {
        let w = PageWord::listed(Tag::Buddy, 10).with_prev(LINK_MASK as u32).with_next(12345).with_reported(true);
        assert_eq!(w.tag(), Tag::Buddy);
        assert_eq!(w.order(), 10);
        assert_eq!(w.prev(), LINK_MASK as u32);
        assert_eq!(w.next(), 12345);
        assert!(w.reported());
        let w = w.with_prev(7).with_reported(false);
        assert_eq!((w.prev(), w.next(), w.order(), w.reported()), (7, 12345, 10, false));
    }

    #[test]
    fn in_use_round_trips_every_field() {
        for kind in PageKind::ALL {
            let p = InUse {
                kind,
                refcount: 0xfffe,
                mapcount: 200,
                pincount: 3,
                flags: PageFlags::DIRTY | PageFlags::LONGTERM_PIN | PageFlags::ISOLATED,
                compound_order: 9,
            };
            let w = PageWord::in_use(p);
            assert_eq!(w.tag(), Tag::InUse);
            assert_eq!(w.as_in_use(), Some(p));
        }
        assert_eq!(PageWord::HOLE.as_in_use(), None);
    }
}
