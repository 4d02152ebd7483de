//! Flat, journaled storage for all mutable allocator state.
//!
//! Four arrays hold everything that changes: page words, pageblock flags,
//! list heads and counters. Every write goes through [`Store`], which, while
//! journaling is on, records the cell with its old and new value. Undoing a
//! span of the journal restores the state exactly; redoing replays it. This
//! is how the trace player steps back to any earlier step without replaying
//! from the beginning, at a cost proportional to what changed, not to the
//! size of the machine.
//!
//! A long operation that the trace shows as a few steps (freeing a 1 GiB
//! range page by page) can *fold* its writes: between two steps each cell
//! is journaled once, with its first old and its last new value, and runs
//! of pages that went from one same word to another same word are one
//! entry. Steps stay exactly reversible; the states inside a folded span
//! are not kept, which is why a span never holds a step boundary.
//!
//! **Invariant:** nothing outside this module mutates the arrays.

use crate::page::PageWord;

/// Which array a journal entry touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Area {
    Page = 0,
    Block = 1,
    Head = 2,
    Counter = 3,
}

/// The longest run of pages one journal entry records.
const MAX_RUN: usize = 1 << 24;

/// How a run's words change from one page to the next: not at, or by one
/// link step up or down. A free list of consecutive pages (a per-cpu list
/// filled or drained in PFN order) is such a run: each page's `prev` and
/// `next` are its neighbours'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Stride {
    Flat = 0,
    Up = 1,
    Down = 2,
}

impl Stride {
    fn between(a: u64, b: u64) -> Option<Stride> {
        let step = PageWord::LINK_STEP;
        if b == a {
            Some(Stride::Flat)
        } else if b == a.wrapping_add(step) {
            Some(Stride::Up)
        } else if b == a.wrapping_sub(step) {
            Some(Stride::Down)
        } else {
            None
        }
    }
    fn from_bits(b: u64) -> Stride {
        match b & 3 {
            0 => Stride::Flat,
            1 => Stride::Up,
            _ => Stride::Down,
        }
    }
    /// The word `k` pages into a run that starts at `base`.
    fn nth(self, base: u64, k: usize) -> u64 {
        let d = PageWord::LINK_STEP.wrapping_mul(k as u64);
        match self {
            Stride::Flat => base,
            Stride::Up => base.wrapping_add(d),
            Stride::Down => base.wrapping_sub(d),
        }
    }
}

/// One recorded write, or a run of page writes whose old and new words are
/// each the same or each one link step from the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Area in bits 56-57, the old and new words' strides in 58-59 and
    /// 60-61, the run length less one in 32-55, the first index in 0-31.
    cell: u64,
    old: u64,
    new: u64,
}

impl Entry {
    fn new(area: Area, index: u32, old: u64, new: u64) -> Entry {
        Entry { cell: ((area as u64) << 56) | index as u64, old, new }
    }
    fn run(index: u32, len: usize, (old, old_stride): (u64, Stride), (new, new_stride): (u64, Stride)) -> Entry {
        debug_assert!((1..=MAX_RUN).contains(&len));
        let strides = (old_stride as u64) << 58 | (new_stride as u64) << 60;
        Entry { cell: ((Area::Page as u64) << 56) | strides | ((len as u64 - 1) << 32) | index as u64, old, new }
    }
    fn len(&self) -> usize {
        ((self.cell >> 32) & 0xff_ffff) as usize + 1
    }
    fn old_stride(&self) -> Stride {
        Stride::from_bits(self.cell >> 58)
    }
    fn new_stride(&self) -> Stride {
        Stride::from_bits(self.cell >> 60)
    }
    fn area(&self) -> Area {
        match (self.cell >> 56) & 3 {
            0 => Area::Page,
            1 => Area::Block,
            2 => Area::Head,
            _ => Area::Counter,
        }
    }
    fn index(&self) -> usize {
        (self.cell & 0xffff_ffff) as usize
    }
}

/// What a journal span wrote: page words (index, old, new), pageblock
/// indices, and counters (index, old, new). A run of pages written alike
/// is its first page, the run's length less one, and that page's words.
pub type Touched = (Vec<(usize, usize, PageWord, PageWord)>, Vec<usize>, Vec<(usize, u64, u64)>);

/// The cells written since a fold began, each with its first old value.
#[derive(Clone, Debug, Default)]
struct Fold {
    /// Pages in `[lo, hi)` are saved once, marked in `page_seen`; other
    /// pages at every write, the first kept when the fold ends.
    lo: usize,
    hi: usize,
    /// One bit per page of `[lo, hi)`: already saved.
    page_seen: Vec<u64>,
    pages: Vec<(u32, u64)>,
    /// Pages outside `[lo, hi)` were saved, maybe more than once.
    outside: bool,
    /// The other areas' cells, with their area.
    cells: Vec<(Area, u32, u64)>,
}

/// Which cells of the small areas a fold has saved; kept between folds so
/// that a fold costs what it writes.
#[derive(Clone, Debug, Default)]
struct Seen {
    blocks: Vec<bool>,
    heads: Vec<bool>,
    counters: Vec<bool>,
}

impl Seen {
    fn flag(&mut self, area: Area, i: usize) -> &mut bool {
        match area {
            Area::Block => &mut self.blocks[i],
            Area::Head => &mut self.heads[i],
            _ => &mut self.counters[i],
        }
    }
}

/// The state arrays and their journal.
#[derive(Clone, Debug, Default)]
pub struct Store {
    pages: Vec<PageWord>,
    blocks: Vec<u8>,
    /// List heads: `prev` in the low 32 bits, `next` in the high 32 bits.
    heads: Vec<u64>,
    counters: Vec<i64>,
    journal: Vec<Entry>,
    /// How many journal entries are applied to the arrays.
    applied: usize,
    journaling: bool,
    fold: Option<Box<Fold>>,
    seen: Seen,
}

impl Store {
    pub fn new(nr_pages: usize, nr_blocks: usize, nr_heads: usize, nr_counters: usize) -> Store {
        Store {
            pages: vec![PageWord::HOLE; nr_pages],
            blocks: vec![0; nr_blocks],
            heads: vec![0; nr_heads],
            counters: vec![0; nr_counters],
            ..Store::default()
        }
    }

    pub fn nr_pages(&self) -> usize {
        self.pages.len()
    }
    pub fn nr_blocks(&self) -> usize {
        self.blocks.len()
    }
    pub fn nr_heads(&self) -> usize {
        self.heads.len()
    }

    /// The page words, for renderers and bulk readers.
    pub fn pages(&self) -> &[PageWord] {
        &self.pages
    }
    /// The pageblock flag bytes.
    pub fn blocks(&self) -> &[u8] {
        &self.blocks
    }

    #[inline]
    pub fn page(&self, i: usize) -> PageWord {
        self.pages[i]
    }
    #[inline]
    pub fn block(&self, i: usize) -> u8 {
        self.blocks[i]
    }
    #[inline]
    pub fn head(&self, i: usize) -> (u32, u32) {
        let h = self.heads[i];
        (h as u32, (h >> 32) as u32)
    }
    #[inline]
    pub fn counter(&self, i: usize) -> i64 {
        self.counters[i]
    }

    #[inline]
    fn record(&mut self, area: Area, index: usize, old: u64, new: u64) {
        if self.journaling && old != new {
            if self.fold.is_some() {
                return self.fold_write(area, index, old);
            }
            self.journal.truncate(self.applied);
            self.journal.push(Entry::new(area, index as u32, old, new));
            self.applied += 1;
        }
    }

    /// Saves a cell's first old value in the running fold.
    fn fold_write(&mut self, area: Area, index: usize, old: u64) {
        let f = self.fold.as_mut().expect("folding");
        if area == Area::Page {
            if !(f.lo..f.hi).contains(&index) {
                f.outside = true;
                f.pages.push((index as u32, old));
                return;
            }
            let bit = index - f.lo;
            let word = &mut f.page_seen[bit / 64];
            if *word & (1 << (bit % 64)) == 0 {
                *word |= 1 << (bit % 64);
                f.pages.push((index as u32, old));
            }
        } else {
            let seen = self.seen.flag(area, index);
            if !*seen {
                *seen = true;
                f.cells.push((area, index as u32, old));
            }
        }
    }

    /// True between [`Store::begin_fold`] and [`Store::end_fold`].
    pub fn folding(&self) -> bool {
        self.fold.is_some()
    }

    /// Begins folding the writes to come (see the module's overview): pages
    /// in `[lo, hi)` and every cell of the other areas. Without journaling
    /// there is nothing to fold.
    pub fn begin_fold(&mut self, lo: usize, hi: usize) {
        assert!(self.fold.is_none(), "folds do not nest");
        if !self.journaling {
            return;
        }
        self.journal.truncate(self.applied);
        let hi = hi.min(self.pages.len()).max(lo);
        let seen = &mut self.seen;
        seen.blocks.resize(self.blocks.len(), false);
        seen.heads.resize(self.heads.len(), false);
        seen.counters.resize(self.counters.len(), false);
        self.fold = Some(Box::new(Fold { lo, hi, page_seen: vec![0; (hi - lo).div_ceil(64)], ..Fold::default() }));
    }

    /// Ends the fold: journals each cell written once, pages in runs.
    pub fn end_fold(&mut self) {
        let Some(f) = self.fold.take() else { return };
        // In index order, the first save of each page (sorting plain keys
        // keeps the web build free of another sort's code).
        let mut keys: Vec<u64> = f.pages.iter().enumerate().map(|(k, &(i, _))| (i as u64) << 32 | k as u64).collect();
        keys.sort_unstable();
        let mut pages: Vec<(u32, u64, u64)> = Vec::with_capacity(keys.len());
        for key in keys {
            let (i, old) = f.pages[(key & 0xffff_ffff) as usize];
            if pages.last().is_some_and(|p| p.0 == i) {
                continue;
            }
            pages.push((i, old, self.pages[i as usize].0));
        }
        pages.retain(|&(_, o, n)| o != n);
        let mut k = 0;
        while k < pages.len() {
            let (first, old, new) = pages[k];
            let mut len = 1;
            let mut strides = None;
            while k + len < pages.len() && len < MAX_RUN {
                let (i, o, n) = pages[k + len];
                let (_, po, pn) = pages[k + len - 1];
                let (Some(so), Some(sn)) = (Stride::between(po, o), Stride::between(pn, n)) else { break };
                if i != first + len as u32 || strides.is_some_and(|s| s != (so, sn)) {
                    break;
                }
                strides = Some((so, sn));
                len += 1;
            }
            let (so, sn) = strides.unwrap_or((Stride::Flat, Stride::Flat));
            self.journal.push(Entry::run(first, len, (old, so), (new, sn)));
            k += len;
        }
        for (area, i, old) in f.cells {
            *self.seen.flag(area, i as usize) = false;
            let new = match area {
                Area::Block => self.blocks[i as usize] as u64,
                Area::Head => self.heads[i as usize],
                _ => self.counters[i as usize] as u64,
            };
            if old != new {
                self.journal.push(Entry::new(area, i, old, new));
            }
        }
        self.applied = self.journal.len();
    }

    #[inline]
    pub fn set_page(&mut self, i: usize, w: PageWord) {
        let old = self.pages[i];
        self.record(Area::Page, i, old.0, w.0);
        self.pages[i] = w;
    }
    /// Writes one word to `nr` pages from `i`: a plain fill when nothing
    /// is journaled; journaled, one entry per run of equal old words.
    pub fn fill_pages(&mut self, i: usize, nr: usize, w: PageWord) {
        if self.journaling {
            self.journal.truncate(self.applied);
            let end = i + nr;
            let mut p = i;
            while p < end {
                // Pages a running fold saved are journaled when it ends;
                // the others now. A later write in the fold saves the new
                // word as its first old one, so the order stays right.
                let stop = self.fold_unsaved_until(p, end);
                if stop == p {
                    // Saved already, or outside the fold's range: the fold
                    // takes the write.
                    self.record(Area::Page, p, self.pages[p].0, w.0);
                    p += 1;
                    continue;
                }
                while p < stop {
                    let old = self.pages[p];
                    let len = self.pages[p..stop].iter().take(MAX_RUN).take_while(|&&o| o == old).count();
                    if old != w {
                        self.journal.push(Entry::run(p as u32, len, (old.0, Stride::Flat), (w.0, Stride::Flat)));
                    }
                    p += len;
                }
            }
            self.applied = self.journal.len();
        }
        self.pages[i..i + nr].fill(w);
    }

    /// The end of the stretch from `p` (before `end`) that a running fold
    /// has not saved and whose writes may be journaled now: `end` without
    /// a fold, `p` itself for a page outside the fold's range (the fold
    /// takes those one by one).
    fn fold_unsaved_until(&self, p: usize, end: usize) -> usize {
        let Some(f) = &self.fold else { return end };
        if !(f.lo..f.hi).contains(&p) {
            return p;
        }
        let last = end.min(f.hi);
        let mut bit = p - f.lo;
        while bit < last - f.lo {
            let word = f.page_seen[bit / 64] >> (bit % 64);
            if word != 0 {
                return (f.lo + bit + word.trailing_zeros() as usize).min(last);
            }
            bit = (bit / 64 + 1) * 64;
        }
        last
    }

    #[inline]
    pub fn set_block(&mut self, i: usize, v: u8) {
        let old = self.blocks[i];
        self.record(Area::Block, i, old as u64, v as u64);
        self.blocks[i] = v;
    }
    #[inline]
    pub fn set_head(&mut self, i: usize, prev: u32, next: u32) {
        let v = prev as u64 | (next as u64) << 32;
        let old = self.heads[i];
        self.record(Area::Head, i, old, v);
        self.heads[i] = v;
    }
    #[inline]
    pub fn add_counter(&mut self, i: usize, delta: i64) {
        let old = self.counters[i];
        let new = old + delta;
        self.record(Area::Counter, i, old as u64, new as u64);
        self.counters[i] = new;
    }
    #[inline]
    pub fn set_counter(&mut self, i: usize, v: i64) {
        let old = self.counters[i];
        self.record(Area::Counter, i, old as u64, v as u64);
        self.counters[i] = v;
    }

    /// Appends `n` zeroed counters and returns the index of the first: a
    /// device registered after boot (free page reporting) keeps its state
    /// here, journaled like the rest. Earlier journal entries keep their
    /// indices, so history stays valid.
    pub fn grow_counters(&mut self, n: usize) -> usize {
        let base = self.counters.len();
        self.counters.resize(base + n, 0);
        base
    }

    /// Turns journaling on or off. Off, writes cost nothing extra (the
    /// workload generator builds big machines this way).
    pub fn set_journaling(&mut self, on: bool) {
        self.journaling = on;
    }
    pub fn journaling(&self) -> bool {
        self.journaling
    }

    /// The journal position: the number of applied entries.
    pub fn position(&self) -> usize {
        self.applied
    }
    /// The number of entries, applied or undone.
    pub fn journal_len(&self) -> usize {
        self.journal.len()
    }
    /// Forgets the journal (the current state stays).
    pub fn clear_journal(&mut self) {
        self.journal.clear();
        self.applied = 0;
    }

    /// Writes an entry's new words (`redo`) or its old ones.
    fn write_raw(&mut self, e: &Entry, redo: bool) {
        let i = e.index();
        let value = if redo { e.new } else { e.old };
        match e.area() {
            Area::Page => {
                let stride = if redo { e.new_stride() } else { e.old_stride() };
                for (k, w) in self.pages[i..i + e.len()].iter_mut().enumerate() {
                    *w = PageWord(stride.nth(value, k));
                }
            }
            Area::Block => self.blocks[i] = value as u8,
            Area::Head => self.heads[i] = value,
            Area::Counter => self.counters[i] = value as i64,
        }
    }

    /// Moves the state to journal position `pos` (undoing or redoing
    /// entries); positions past the end are clamped. Returns the position.
    pub fn seek(&mut self, pos: usize) -> usize {
        assert!(self.fold.is_none(), "no seeking inside a fold");
        let pos = pos.min(self.journal.len());
        while self.applied > pos {
            self.applied -= 1;
            let e = self.journal[self.applied];
            self.write_raw(&e, false);
        }
        while self.applied < pos {
            let e = self.journal[self.applied];
            self.write_raw(&e, true);
            self.applied += 1;
        }
        self.applied
    }

    /// The page and pageblock writes between two journal positions (either
    /// order): for each page, its index with the old and the new word; for
    /// each pageblock, its index. What a front end must redraw.
    pub fn touched(&self, a: usize, b: usize) -> Touched {
        let (lo, hi) = (a.min(b).min(self.journal.len()), a.max(b).min(self.journal.len()));
        let mut pages = Vec::new();
        let mut blocks = Vec::new();
        let mut counters = Vec::new();
        for e in &self.journal[lo..hi] {
            match e.area() {
                Area::Page => pages.push((e.index(), e.len(), PageWord(e.old), PageWord(e.new))),
                Area::Block => blocks.push(e.index()),
                Area::Counter => counters.push((e.index(), e.old, e.new)),
                Area::Head => {}
            }
        }
        (pages, blocks, counters)
    }

    /// A 64-bit FNV-1a hash of every state array: equal states have equal
    /// fingerprints on every platform (used to check that native and wasm
    /// builds compute the same machine).
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |v: u64| {
            for b in v.to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        self.pages.iter().for_each(|w| eat(w.0));
        self.blocks.iter().for_each(|&b| eat(b as u64));
        self.heads.iter().for_each(|&x| eat(x));
        self.counters.iter().for_each(|&c| eat(c as u64));
        h
    }

    /// Bytes held by the state arrays (not the journal).
    pub fn state_bytes(&self) -> usize {
        self.pages.len() * 8 + self.blocks.len() + self.heads.len() * 8 + self.counters.len() * 8
    }
    /// Bytes held by the journal.
    pub fn journal_bytes(&self) -> usize {
        self.journal.len() * std::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_back_and_forth_restores_every_area() {
        let mut s = Store::new(4, 2, 2, 2);
        s.set_journaling(true);
        s.set_page(1, PageWord(7));
        let mid = s.position();
        s.set_block(1, 3);
        s.set_head(0, 5, 6);
        s.add_counter(1, -4);
        let end = s.position();
        assert_eq!(end, 4);

        s.seek(mid);
        assert_eq!((s.page(1), s.block(1), s.head(0), s.counter(1)), (PageWord(7), 0, (0, 0), 0));
        s.seek(0);
        assert_eq!(s.page(1), PageWord::HOLE);
        s.seek(end);
        assert_eq!((s.page(1), s.block(1), s.head(0), s.counter(1)), (PageWord(7), 3, (5, 6), -4));
    }

    #[test]
    fn writing_after_seeking_back_drops_the_undone_branch() {
        let mut s = Store::new(2, 1, 1, 1);
        s.set_journaling(true);
        s.add_counter(0, 1);
        s.add_counter(0, 1);
        s.seek(1);
        s.add_counter(0, 10);
        assert_eq!(s.journal_len(), 2);
        assert_eq!(s.counter(0), 11);
        s.seek(0);
        assert_eq!(s.counter(0), 0);
    }

    #[test]
    fn a_fold_journals_each_cell_once_from_first_old_to_last_new() {
        let mut s = Store::new(16, 2, 2, 2);
        s.set_journaling(true);
        s.set_page(1, PageWord(5));
        let start = s.position();
        s.begin_fold(0, 8);
        s.set_page(1, PageWord(6));
        s.set_page(1, PageWord(7));
        s.set_page(12, PageWord(1));
        s.set_page(12, PageWord(2));
        s.set_page(13, PageWord(3));
        s.set_page(13, PageWord::HOLE);
        s.add_counter(0, 3);
        s.add_counter(0, 4);
        s.set_block(1, 9);
        s.set_block(1, 0);
        s.end_fold();
        assert_eq!(s.journal_len() - start, 3, "page 1, page 12 and the counter; page 13 and the block ended where they began");
        s.seek(start);
        assert_eq!((s.page(1), s.page(12), s.counter(0)), (PageWord(5), PageWord::HOLE, 0));
        s.seek(usize::MAX);
        assert_eq!((s.page(1), s.page(12), s.page(13), s.counter(0), s.block(1)), (PageWord(7), PageWord(2), PageWord::HOLE, 7, 0));
    }

    #[test]
    fn a_fold_keeps_a_list_in_pfn_order_as_one_run() {
        let mut s = Store::new(64, 1, 1, 1);
        s.set_journaling(true);
        let listed = |i: u64| PageWord::listed(crate::page::Tag::Pcp, 0).with_prev(i as u32 + 1).with_next(i as u32 - 1);
        s.begin_fold(0, 64);
        for i in 8..40 {
            s.set_page(i, listed(i as u64));
        }
        s.fill_pages(40, 20, PageWord::FREE_TAIL);
        s.end_fold();
        assert_eq!(s.journal_len(), 2, "one run going up a link step a page, one of equal words");
        let end = s.position();
        s.seek(0);
        assert!((0..64).all(|i| s.page(i) == PageWord::HOLE));
        s.seek(end);
        assert!((8..40).all(|i| s.page(i) == listed(i as u64)));
        assert!((40..60).all(|i| s.page(i) == PageWord::FREE_TAIL) && s.page(60) == PageWord::HOLE);
        s.begin_fold(0, 64);
        for i in 8..60 {
            s.set_page(i, PageWord::HOLE);
        }
        s.end_fold();
        assert_eq!(s.journal_len(), 4, "and back again in two runs");
        s.seek(end);
        assert!((8..40).all(|i| s.page(i) == listed(i as u64)));
    }

    #[test]
    fn a_fill_inside_a_fold_steps_back_exactly_around_saved_pages() {
        let mut s = Store::new(300, 1, 1, 1);
        s.set_journaling(true);
        (0..300).for_each(|i| s.set_page(i, PageWord(i as u64 % 3)));
        let before: Vec<PageWord> = s.pages().to_vec();
        let start = s.position();
        s.begin_fold(50, 250);
        s.set_page(70, PageWord(9));
        s.set_page(130, PageWord(9));
        s.fill_pages(20, 260, PageWord(5));
        s.set_page(100, PageWord(6));
        s.fill_pages(90, 20, PageWord(7));
        s.set_page(95, PageWord(8));
        s.end_fold();
        let after: Vec<PageWord> = s.pages().to_vec();
        s.seek(start);
        assert_eq!(s.pages(), &before[..]);
        s.seek(usize::MAX);
        assert_eq!(s.pages(), &after[..]);
        assert_eq!((s.page(95), s.page(100), s.page(70), s.page(19)), (PageWord(8), PageWord(7), PageWord(5), PageWord(1)));
    }

    #[test]
    fn no_journal_when_off_or_unchanged() {
        let mut s = Store::new(2, 1, 1, 1);
        s.set_page(0, PageWord(1));
        s.set_journaling(true);
        s.set_page(0, PageWord(1));
        assert_eq!(s.journal_len(), 0);
    }
}
