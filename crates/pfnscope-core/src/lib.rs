//! # pfnscope-core
//!
//! A model of the Linux 6.12 physical page allocator, faithful enough to
//! show *why* a contiguous allocation fails: zones over a flat array of page
//! words, pageblocks and their migratetypes, `free_area[order].free_list[mt]`
//! buddy lists, per-cpu page lists and LRU batches. Function names mirror
//! mm/page_alloc.c, so the code can be read beside the kernel's.
//!
//! Every state write goes through a journal ([`store`]), so an operation run
//! under [`Machine::record`] yields a [`Trace`] of steps that can be played
//! forward and backward without replaying from the start. The crate knows
//! nothing of browsers: the web app and the command line are players over it.
//!
//! ```
//! use pfnscope_core::{Gfp, Machine, MachineSpec, PageKind};
//!
//! let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
//! let (pfn, trace) = m.record("alloc_pages(order=3)", |m| m.alloc_pages(Gfp::KERNEL, 3, PageKind::SlabUnmovable));
//! let pfn = pfn.unwrap();
//! assert!(trace.steps.iter().any(|s| s.func.name() == "__rmqueue_fallback"));
//! m.check_invariants().unwrap();
//!
//! // Step back to before the allocation: the page is free again.
//! m.seek(trace.position_after(None));
//! assert!(m.is_free(pfn));
//! ```

pub mod alloc;
pub mod buddy;
pub mod cma;
pub mod contig;
pub mod diagnose;
pub mod error;
pub mod fallback;
pub mod geometry;
pub mod gup;
pub mod hotplug;
pub mod invariants;
pub mod isolation;
pub mod lru;
pub mod machine;
pub mod migrate;
pub mod migratetype;
pub mod ops;
pub mod page;
pub mod pcp;
pub mod procfs;
pub mod regions;
pub mod reporting;
pub mod scenario;
pub mod store;
pub mod trace;
pub mod variants;
pub mod virtio_mem;
pub mod workload;
pub mod zone;

pub use alloc::{AllocFlags, Gfp};
pub use contig::{ContigError, ContigStats};
pub use diagnose::{Attempt, Blocker, ContiguityJob, ContiguityMap, ContiguitySummary, Diagnosis, Rule, Tally, Targets, Verdict, WindowVerdict};
pub use isolation::IsolFlags;
pub use error::{Errno, Error, Result};
pub use cma::CmaArea;
pub use geometry::{Arch, CmaSpec, VirtioMemSpec, Geometry, MachineSpec, PfnRange, ZoneSpec, ZoneType};
pub use invariants::Violation;
pub use machine::{Machine, VmEvent};
pub use migratetype::MigrateType;
pub use ops::Op;
pub use page::{InUse, PageFlags, PageKind, PageState, PageWord, Tag};
pub use regions::{AllocatorPolicy, RegionInfo, RegionState};
pub use reporting::{ReportingPolicy, ReportingState, ReportingStatus};
pub use scenario::{Checkpoint, Expect, Scenario};
pub use trace::{KernelFn, Step, StepKind, Trace};
pub use workload::{AgingProgress, Workload, WorkloadOp, WorkloadSpec};
pub use zone::{Wmark, Zone, ZoneCounter};
