//! # pfnscope-import
//!
//! Reads a real machine's memory into the simulator: parsers for
//! `/proc/buddyinfo`, `/proc/pagetypeinfo` and `/proc/zoneinfo`, decoding of
//! `/proc/kpageflags`, the snapshot file that carries them, and the
//! reconstruction of a [`pfnscope_core::Machine`]. Bad or truncated input is
//! an [`ImportError`] naming the file, the line or byte and what was
//! expected; nothing is half-loaded.
//!
//! ```
//! use pfnscope_import::{reconstruct, Snapshot};
//!
//! let snap = Snapshot {
//!     buddyinfo: "Node 0, zone Normal 0 0 0 0 0 0 0 0 0 0 4\n".into(),
//!     zoneinfo: Some("Node 0, zone Normal\n spanned 8192\n present 8192\n start_pfn: 0\n".into()),
//!     ..Snapshot::default()
//! };
//! let bytes = snap.to_bytes();
//! let imported = reconstruct(&Snapshot::from_bytes("snap.pfns", &bytes).unwrap()).unwrap();
//! assert_eq!(imported.machine.nr_free(0, 10), 4);
//! assert!(imported.synthesized);
//! ```

pub mod error;
pub mod ftrace;
pub mod kpageflags;
pub mod procfs;
pub mod reconstruct;
pub mod snapshot;

pub use error::{ImportError, Place};
pub use reconstruct::{reconstruct, ImportJob, Imported};
pub use snapshot::Snapshot;
