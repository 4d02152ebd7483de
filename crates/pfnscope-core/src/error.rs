//! Typed errors. Bad arguments never panic: they come back as [`Error`](enum@Error).

use thiserror::Error;

/// A kernel error number, for results the kernel reports as `-E...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Errno {
    /// -4: a fatal signal interrupted the operation.
    EINTR,
    /// -12: no memory (no page, or no migration target).
    ENOMEM,
    /// -16: something in the range is busy.
    EBUSY,
    /// -22: an invalid argument.
    EINVAL,
}

impl Errno {
    /// The negative value the kernel returns.
    pub const fn code(self) -> i32 {
        match self {
            Errno::EINTR => -4,
            Errno::ENOMEM => -12,
            Errno::EBUSY => -16,
            Errno::EINVAL => -22,
        }
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "-{:?} ({})", self, self.code())
    }
}

/// Why a request to the model was refused or failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Error {
    #[error("order {order} is above MAX_PAGE_ORDER {max}")]
    OrderTooLarge { order: u8, max: u8 },
    #[error("PFN {pfn:#x} is outside the machine's memory map")]
    PfnOutOfRange { pfn: u64 },
    #[error("PFN {pfn:#x} is a hole: no memory is there")]
    Hole { pfn: u64 },
    #[error("PFN {pfn:#x} is not aligned to order {order}")]
    Misaligned { pfn: u64, order: u8 },
    #[error("PFN {pfn:#x} is not allocated (double free?)")]
    NotAllocated { pfn: u64 },
    #[error("PFN {pfn:#x} is the tail of a compound page; free its head")]
    NotHead { pfn: u64 },
    #[error("PFN {pfn:#x} holds an order-{actual} allocation, not order {expected}")]
    OrderMismatch { pfn: u64, expected: u8, actual: u8 },
    #[error("PFNs {pfn:#x} + 2^{order} are not free buddy memory")]
    NotFree { pfn: u64, order: u8 },
    #[error("PFN {pfn:#x}: {why}")]
    PinFailed { pfn: u64, why: String },
    #[error("PFN {pfn:#x}: {why}")]
    BadReference { pfn: u64, why: String },
    #[error("PFN {pfn:#x} is reserved and cannot be freed to the buddy allocator")]
    Reserved { pfn: u64 },
    #[error("CPU {cpu} does not exist (the machine has {nr_cpus})")]
    NoSuchCpu { cpu: u8, nr_cpus: u8 },
    #[error("zone {0} does not exist on this machine")]
    NoSuchZone(String),
    #[error("the machine is invalid: {0}")]
    BadMachine(String),
    /// A request that cannot be run as asked (a comparison's parameters, a
    /// device registered twice): the message says why.
    #[error("{0}")]
    BadRequest(String),
    #[error("page allocation failure: order {order}, {gfp} ({errno})")]
    AllocFailed { order: u8, gfp: String, errno: Errno },
}

pub type Result<T> = std::result::Result<T, Error>;
