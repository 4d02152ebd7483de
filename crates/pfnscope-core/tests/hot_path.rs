//! The allocation hot path allocates nothing on the heap: alloc_pages and
//! free_pages of every order, through the per-cpu lists and the buddy
//! lists, with journaling off (a journal that is on grows by design).
//! Counted by a global allocator that wraps the system's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pfnscope_core::{Gfp, Machine, MachineSpec, PageKind};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn alloc_and_free_of_every_order_allocate_nothing_on_the_heap() {
    let mut m = Machine::new(MachineSpec::x86_64_pc(4)).unwrap();
    m.set_journaling(false);
    let mut live = Vec::with_capacity(4096);
    // Warm up: per-cpu lists filled, every list touched once.
    for order in 0..=10u8 {
        for _ in 0..8 {
            live.push((m.alloc_pages(Gfp::KERNEL, order, PageKind::Kernel).unwrap(), order));
        }
    }
    for (p, o) in live.drain(..) {
        m.free_pages(p, o).unwrap();
    }
    // The counter sees this thread's allocations.
    let probe = ALLOCATIONS.load(Ordering::Relaxed);
    drop(std::hint::black_box(Box::new(1u64)));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > probe);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for round in 0..200u64 {
        for order in 0..=10u8 {
            let gfp = if round % 2 == 0 { Gfp::KERNEL } else { Gfp::HIGHUSER_MOVABLE };
            live.push((m.alloc_pages(gfp, order, PageKind::Kernel).unwrap(), order));
        }
        if round % 3 == 2 {
            for (p, o) in live.drain(..) {
                m.free_pages(p, o).unwrap();
            }
        }
    }
    for (p, o) in live.drain(..) {
        m.free_pages(p, o).unwrap();
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "the hot path allocated {} times", after - before);
    m.check_quiescent().unwrap();
}
