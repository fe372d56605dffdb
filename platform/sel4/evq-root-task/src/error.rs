//! Why the root task could not build the system, in words: the serial line
//! `TEST_FAIL: evq: root task: …` says what it was doing and what refused.

use core::fmt;

use evq_domain_info::{MAX_DEVICES, MAX_NAMED, MAX_PEERS};

use crate::domain::BuildError;
use crate::SYSTEM;

/// Why building the system failed.
#[derive(Clone, Copy, Debug)]
pub enum SetupError {
    /// The frame behind the scratch page will not unmap.
    Scratch(sel4::Error),
    /// The description has more notifications or endpoints than the root
    /// task keeps capabilities for.
    TooManyNamed,
    /// The objects that join domains (the server's and the fault endpoint,
    /// notifications, described endpoints) could not be made.
    Wiring(BuildError),
    /// The root task's own capability to publish on could not be made.
    PublishCap(sel4::Error),
    /// The ingest rings (their frames, control pages and room
    /// notifications), or the root task's own mapping of its ring and its
    /// doorbell, could not be made.
    Rings(BuildError),
    /// More sources than the server's notification word has bits for.
    TooManyRings,
    /// The description names no server.
    NoServer,
    /// Domain `id` could not be built.
    Domain {
        /// The domain.
        id: u32,
        /// What went wrong.
        error: DomainError,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Scratch(e) => write!(f, "the scratch page will not unmap: {e}"),
            SetupError::TooManyNamed => write!(
                f,
                "the description has {} notifications and {} endpoints; the root task holds {MAX_NAMED} of each",
                SYSTEM.notifications.len(),
                SYSTEM.endpoints.len()
            ),
            SetupError::Wiring(e) => write!(f, "making the endpoints and notifications between domains: {e}"),
            SetupError::PublishCap(e) => write!(f, "minting the root task's capability to publish: {e}"),
            SetupError::Rings(e) => write!(f, "making the ingest rings: {e}"),
            SetupError::TooManyRings => {
                f.write_str("more sources than the server's notification word has bits for (62)")
            }
            SetupError::NoServer => f.write_str("the description names no server"),
            SetupError::Domain { id, error } => {
                let name = SYSTEM.domain_by_id(*id).map_or("?", |d| d.name);
                write!(f, "building domain {id} ({name}): {error}")
            }
        }
    }
}

/// Why one domain could not be built.
#[derive(Clone, Copy, Debug)]
pub enum DomainError {
    /// The description has no domain of this id.
    NoSuchDomain,
    /// Its image is not embedded in the root task.
    NoImage(&'static str),
    /// Its VSpace, CNode and TCB, and its image loaded.
    Image(BuildError),
    /// Its own capabilities: CNode, VSpace, TCB and fault endpoint.
    Own(BuildError),
    /// The server's ring pool: untyped memory of its size.
    RingPool(BuildError),
    /// More sources and clients than the server's info page lists.
    TooManyPeers,
    /// An ingest ring larger than its window in the server.
    IngestWindow,
    /// Ingest rings: their tables and mappings, the server's notification,
    /// a source's doorbell and room notification, the server's capability
    /// to signal the latter.
    Ingest(BuildError),
    /// A capability the description grants, which the kernel refused.
    Grant {
        /// What was being granted.
        what: Granted,
        /// Why it failed.
        error: BuildError,
    },
    /// A grant names something the description does not describe (a
    /// description `System::validate` accepted never does).
    Undescribed(Granted),
    /// More described notifications and endpoints than its info page lists.
    TooManyNamed,
    /// More devices than its info page lists.
    TooManyDevices,
    /// One of its devices.
    Device {
        /// The device's name.
        device: &'static str,
        /// What went wrong.
        error: DeviceError,
    },
    /// Its DMA memory.
    Dma(BuildError),
    /// Writing its info page, configuring its TCB and starting it.
    Start(BuildError),
}

impl DomainError {
    /// [`DomainError::Own`], from the kernel's or the allocator's error.
    pub fn own(e: impl Into<BuildError>) -> Self {
        DomainError::Own(e.into())
    }

    /// [`DomainError::RingPool`], from the kernel's or the allocator's error.
    pub fn ring_pool(e: impl Into<BuildError>) -> Self {
        DomainError::RingPool(e.into())
    }

    /// [`DomainError::Ingest`], from the kernel's or the allocator's error.
    pub fn ingest(e: impl Into<BuildError>) -> Self {
        DomainError::Ingest(e.into())
    }

    /// A [`DomainError::Grant`] of `what`, for `map_err`.
    pub fn grant<E: Into<BuildError>>(what: Granted) -> impl FnOnce(E) -> Self {
        move |e| DomainError::Grant { what, error: e.into() }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainError::NoSuchDomain => f.write_str("the description has no such domain"),
            DomainError::NoImage(image) => write!(f, "its image {image:?} is not embedded in the root task"),
            DomainError::Image(e) => write!(f, "loading its image: {e}"),
            DomainError::Own(e) => write!(f, "giving it its own CNode, VSpace, TCB and fault endpoint: {e}"),
            DomainError::RingPool(e) => write!(f, "no memory for the ring pool: {e}"),
            DomainError::TooManyPeers => {
                write!(f, "more sources and clients than the server can be told of ({})", MAX_PEERS - 1)
            }
            DomainError::IngestWindow => f.write_str("an ingest ring larger than its window in the server"),
            DomainError::Ingest(e) => write!(f, "setting up ingest rings: {e}"),
            DomainError::Grant { what, error } => write!(f, "granting {what}: {error}"),
            DomainError::Undescribed(what) => write!(f, "it is granted {what}, which the description lacks"),
            DomainError::TooManyNamed => {
                write!(f, "more notifications and endpoints than a domain can be told of ({MAX_NAMED})")
            }
            DomainError::TooManyDevices => write!(f, "more devices than a domain can be told of ({MAX_DEVICES})"),
            DomainError::Device { device, error } => write!(f, "device {device:?}: {error}"),
            DomainError::Dma(e) => write!(f, "DMA memory: {e}"),
            DomainError::Start(e) => write!(f, "starting it: {e}"),
        }
    }
}

/// A capability the description grants a domain.
#[derive(Clone, Copy, Debug)]
pub enum Granted {
    /// Its capability to the server's endpoint.
    ServerEndpoint,
    /// A client's notification, by the client's name.
    ClientNotification(&'static str),
    /// A described notification.
    Notification(&'static str),
    /// A described endpoint.
    Endpoint(&'static str),
    /// A driver's interrupt notification.
    IrqNotification,
}

impl fmt::Display for Granted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Granted::ServerEndpoint => f.write_str("its capability to the server's endpoint"),
            Granted::ClientNotification(client) => write!(f, "the notification of client {client:?}"),
            Granted::Notification(name) => write!(f, "notification {name:?}"),
            Granted::Endpoint(name) => write!(f, "endpoint {name:?}"),
            Granted::IrqNotification => f.write_str("its interrupt notification"),
        }
    }
}

/// Why a device could not be given to its driver.
#[derive(Clone, Copy, Debug)]
pub enum DeviceError {
    /// A page of its registers is not device memory the root task holds
    /// (or lies below one already handed out from the same untyped).
    NotDeviceMemory {
        /// The page's physical address.
        paddr: u64,
    },
    /// The kernel refused its interrupt.
    Irq {
        /// The interrupt.
        irq: u32,
        /// The kernel's error.
        error: sel4::Error,
    },
    /// The kernel refused its I/O ports.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    IoPorts {
        /// The first port.
        base: u16,
        /// The kernel's error.
        error: sel4::Error,
    },
    /// It has I/O ports on an architecture without them.
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    NoIoPorts,
    /// A device with an interrupt in a driver without an interrupt
    /// notification (the root task makes one for every driver).
    NoIrqNotification,
    /// Mapping its registers, or handing over its capabilities.
    Cap(BuildError),
}

impl DeviceError {
    /// [`DeviceError::Cap`], from the kernel's or the allocator's error.
    pub fn cap(e: impl Into<BuildError>) -> Self {
        DeviceError::Cap(e.into())
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::NotDeviceMemory { paddr } => {
                write!(f, "its registers at {paddr:#x} are not device memory the root task holds")
            }
            DeviceError::Irq { irq, error } => write!(f, "the kernel refused interrupt {irq}: {error}"),
            DeviceError::IoPorts { base, error } => write!(f, "the kernel refused I/O ports from {base:#x}: {error}"),
            DeviceError::NoIoPorts => {
                f.write_str("I/O ports are an x86 thing: describe the device's registers with mmio")
            }
            DeviceError::NoIrqNotification => f.write_str("an interrupt without an interrupt notification"),
            DeviceError::Cap(e) => write!(f, "{e}"),
        }
    }
}
