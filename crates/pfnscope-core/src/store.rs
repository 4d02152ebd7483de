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

/// One recorded write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Area in the top byte, index in the low 32 bits.
    cell: u64,
    old: u64,
    new: u64,
}

impl Entry {
    fn new(area: Area, index: u32, old: u64, new: u64) -> Entry {
        Entry { cell: ((area as u64) << 56) | index as u64, old, new }
    }
    fn area(&self) -> Area {
        match self.cell >> 56 {
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
/// indices, and counters (index, old, new).
pub type Touched = (Vec<(usize, PageWord, PageWord)>, Vec<usize>, Vec<(usize, u64, u64)>);

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
            self.journal.truncate(self.applied);
            self.journal.push(Entry::new(area, index as u32, old, new));
            self.applied += 1;
        }
    }

    #[inline]
    pub fn set_page(&mut self, i: usize, w: PageWord) {
        let old = self.pages[i];
        self.record(Area::Page, i, old.0, w.0);
        self.pages[i] = w;
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

    fn write_raw(&mut self, e: &Entry, value: u64) {
        let i = e.index();
        match e.area() {
            Area::Page => self.pages[i] = PageWord(value),
            Area::Block => self.blocks[i] = value as u8,
            Area::Head => self.heads[i] = value,
            Area::Counter => self.counters[i] = value as i64,
        }
    }

    /// Moves the state to journal position `pos` (undoing or redoing
    /// entries); positions past the end are clamped. Returns the position.
    pub fn seek(&mut self, pos: usize) -> usize {
        let pos = pos.min(self.journal.len());
        while self.applied > pos {
            self.applied -= 1;
            let e = self.journal[self.applied];
            self.write_raw(&e, e.old);
        }
        while self.applied < pos {
            let e = self.journal[self.applied];
            self.write_raw(&e, e.new);
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
                Area::Page => pages.push((e.index(), PageWord(e.old), PageWord(e.new))),
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
    fn no_journal_when_off_or_unchanged() {
        let mut s = Store::new(2, 1, 1, 1);
        s.set_page(0, PageWord(1));
        s.set_journaling(true);
        s.set_page(0, PageWord(1));
        assert_eq!(s.journal_len(), 0);
    }
}
