//! # pfnscope-view
//!
//! Turns a [`pfnscope_core::Machine`] into pixels and words for any front
//! end: a color-blind-safe [`palette`], the PFN map's [`viewport`] (zoom,
//! scroll, hit testing), a [`raster`] that draws the map into an RGBA
//! buffer, and [`inspect`] for tooltips. Nothing here touches a browser, so
//! all of it is tested natively; the web app only copies the buffer to a
//! canvas.
//!
//! ```
//! use pfnscope_core::{Machine, MachineSpec};
//! use pfnscope_view::{palette::{Palette, Theme}, raster::{render, Overlay}, viewport::Viewport};
//!
//! let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
//! let v = Viewport::fit(m.pfn_span(), 256, 128);
//! let rgba = render(&m, &v, &Palette::new(Theme::Light), &Overlay::default());
//! assert_eq!(rgba.len(), 256 * 128 * 4);
//! ```

pub mod animate;
pub mod charts;
pub mod compare;
pub mod gallery;
pub mod contiguity;
pub mod inspect;
pub mod labels;
pub mod lesson;
pub mod link;
pub mod palette;
pub mod raster;
pub mod seeds;
pub mod session;
pub mod viewport;
