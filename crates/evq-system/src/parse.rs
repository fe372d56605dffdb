//! `system.toml`: reading it, and writing it back out as a Rust constant.

use std::boxed::Box;
use std::fmt::Write as _;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use evq_abi::event::{Category, CategorySet};
use serde::Deserialize;

use crate::{Caller, Device, Domain, Driver, Endpoint, Invalid, Notification, Role, System};

/// Why `system.toml` could not be read.
#[derive(Debug)]
pub enum ParseError {
    /// It is not TOML, or not of the shape below.
    Toml(String),
    /// A field's value is not allowed (for example an unknown role).
    Field(String),
    /// It parses but breaks a rule of [`System::validate`].
    Invalid(String),
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::Toml(m) => write!(f, "system description: {m}"),
            ParseError::Field(m) => write!(f, "system description: {m}"),
            ParseError::Invalid(m) => write!(f, "system description is not a valid system: {m}"),
        }
    }
}

impl std::error::Error for ParseError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    board: String,
    #[serde(default)]
    domain: Vec<DomainToml>,
    #[serde(default)]
    notification: Vec<NotificationToml>,
    #[serde(default)]
    endpoint: Vec<EndpointToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointToml {
    name: String,
    server: String,
    callers: Vec<CallerToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerToml {
    domain: String,
    badge: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainToml {
    name: String,
    image: String,
    #[serde(default)]
    args: String,
    priority: u8,
    role: String,
    badge: Option<u64>,
    categories: Option<Vec<String>>,
    budget_per_tick: Option<u32>,
    ring_pool_pages: Option<u32>,
    #[serde(default)]
    devices: Vec<DeviceToml>,
    #[serde(default)]
    dma_pages: u32,
    #[serde(default)]
    ingest_pages: u32,
    #[serde(default)]
    lossless: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceToml {
    name: String,
    mmio: Option<u64>,
    pages: Option<u32>,
    trigger: Option<String>,
    ioport: Option<u16>,
    ports: Option<u16>,
    irq: Option<u32>,
    driver: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationToml {
    name: String,
    wait: String,
    signal: Vec<String>,
}

fn devices(d: &DomainToml) -> Result<&'static [Device<'static>], ParseError> {
    let mut out = Vec::new();
    for dev in &d.devices {
        let ioports = match (dev.ioport, dev.ports) {
            (Some(base), Some(n)) => Some((base, n)),
            (None, None) => None,
            _ => {
                return Err(ParseError::Field(format!(
                    "domain {:?}: device {:?}: `ioport` and `ports` go together",
                    d.name, dev.name
                )))
            }
        };
        let level_triggered = match dev.trigger.as_deref() {
            None | Some("edge") => false,
            Some("level") => true,
            Some(other) => {
                return Err(ParseError::Field(format!(
                    "domain {:?}: device {:?}: trigger {other:?} (edge or level)",
                    d.name, dev.name
                )))
            }
        };
        let driver = match dev.driver.as_deref() {
            None => Driver::Unnamed,
            Some(name) => Driver::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Driver::ALL.iter().map(|d| d.name()).filter(|n| !n.is_empty()).collect();
                ParseError::Field(format!(
                    "domain {:?}: device {:?}: driver {name:?} is none of {}",
                    d.name,
                    dev.name,
                    known.join(", ")
                ))
            })?,
        };
        out.push(Device {
            name: leak(dev.name.clone()),
            mmio: dev.mmio,
            mmio_pages: dev.pages.unwrap_or(1),
            ioports,
            irq: dev.irq,
            level_triggered,
            driver,
        });
    }
    Ok(Box::leak(out.into_boxed_slice()))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn role(d: &DomainToml) -> Result<Role, ParseError> {
    let field = |what: &str| ParseError::Field(format!("domain {:?}: {what}", d.name));
    let only = |allowed: &[&str]| -> Result<(), ParseError> {
        let given = [
            ("badge", d.badge.is_some()),
            ("categories", d.categories.is_some()),
            ("budget_per_tick", d.budget_per_tick.is_some()),
            ("ring_pool_pages", d.ring_pool_pages.is_some()),
        ];
        match given.iter().find(|(name, set)| *set && !allowed.contains(name)) {
            Some((name, _)) => Err(field(&format!("role {:?} takes no `{name}`", d.role))),
            None => Ok(()),
        }
    };
    Ok(match d.role.as_str() {
        "server" => {
            only(&["ring_pool_pages"])?;
            Role::Server {
                ring_pool_pages: d.ring_pool_pages.ok_or_else(|| field("a server needs `ring_pool_pages`"))?,
            }
        }
        "source" => {
            only(&["badge", "categories", "budget_per_tick"])?;
            let mut set = CategorySet::EMPTY;
            for name in d.categories.as_deref().ok_or_else(|| field("a source needs `categories`"))? {
                let cat = Category::PUBLISHABLE
                    .into_iter()
                    .find(|c| c.name() == name)
                    .ok_or_else(|| field(&format!("unknown category {name:?}")))?;
                set.0 |= cat.bit();
            }
            Role::Source {
                badge: d.badge.ok_or_else(|| field("a source needs a `badge`"))?,
                categories: set,
                budget_per_tick: d.budget_per_tick.unwrap_or(0),
            }
        }
        "client" => {
            only(&["badge"])?;
            Role::Client { badge: d.badge.ok_or_else(|| field("a client needs a `badge`"))? }
        }
        "plain" => {
            only(&[])?;
            Role::Plain
        }
        other => return Err(field(&format!("unknown role {other:?} (server, source, client or plain)"))),
    })
}

/// Reads a `system.toml` and checks it.
///
/// The strings and tables it returns are leaked: a description is read once,
/// by a build script or at start-up, and lives as long as the system.
///
/// ```toml
/// board = "qemu-arm-virt"
///
/// [[domain]]
/// name = "evq-server"
/// image = "evq-server-domain"
/// priority = 200
/// role = "server"
/// ring_pool_pages = 64
///
/// [[domain]]
/// name = "vfs"
/// image = "evq-vfs-domain"
/// priority = 150
/// role = "source"          # or "client", "plain"
/// badge = 0x11
/// categories = ["vfs"]
/// devices = [{ name = "uart", driver = "pl011", mmio = 0x9000000, irq = 33 }]
///           # or ioport = 0x3f8, ports = 8; pages = 4; trigger = "level"
///
/// [[notification]]
/// name = "go"
/// wait = "vfs"
/// signal = ["evq-server"]
///
/// [[endpoint]]
/// name = "vfs"
/// server = "vfs"
/// callers = [{ domain = "fs-workload", badge = 0x31 }]
/// ```
pub fn parse(text: &str) -> Result<System<'static>, ParseError> {
    let file: File = toml::from_str(text).map_err(|e| ParseError::Toml(e.to_string()))?;
    let mut domains = Vec::with_capacity(file.domain.len());
    for d in &file.domain {
        domains.push(Domain {
            name: leak(d.name.clone()),
            image: leak(d.image.clone()),
            args: leak(d.args.clone()),
            priority: d.priority,
            role: role(d)?,
            devices: devices(d)?,
            dma_pages: d.dma_pages,
            ingest_pages: d.ingest_pages,
            lossless: d.lossless,
        });
    }
    let notifications: Vec<Notification<'static>> = file
        .notification
        .into_iter()
        .map(|n| Notification {
            name: leak(n.name),
            waiter: leak(n.wait),
            signallers: Box::leak(n.signal.into_iter().map(leak).collect::<Vec<_>>().into_boxed_slice()),
        })
        .collect();
    let endpoints: Vec<Endpoint<'static>> = file
        .endpoint
        .into_iter()
        .map(|e| Endpoint {
            name: leak(e.name),
            server: leak(e.server),
            callers: Box::leak(
                e.callers
                    .into_iter()
                    .map(|c| Caller { domain: leak(c.domain), badge: c.badge })
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
        })
        .collect();
    let system = System {
        board: leak(file.board),
        domains: Box::leak(domains.into_boxed_slice()),
        notifications: Box::leak(notifications.into_boxed_slice()),
        endpoints: Box::leak(endpoints.into_boxed_slice()),
    };
    system.validate().map_err(|e| ParseError::Invalid(describe(e)))?;
    Ok(system)
}

fn describe(e: Invalid<'_>) -> String {
    match e {
        Invalid::DomainCount(n) => format!("{n} domains (1..={})", crate::MAX_DOMAINS),
        Invalid::ServerCount(n) => format!("{n} servers (exactly one)"),
        Invalid::DuplicateName(n) => format!("two domains are named {n:?}"),
        Invalid::BadName(n) => format!("name {n:?} is empty or longer than 16 bytes"),
        Invalid::BadImage(n) => format!("domain {n:?}: empty image, or args longer than 32 bytes"),
        Invalid::BadPriority(n) => format!("domain {n:?}: priority must be 1..={}", crate::MAX_PRIORITY),
        Invalid::BadBadge(n) => {
            format!("domain {n:?}: a badge may not be 0, the root task's ({}), or 2^63 or more", crate::ROOT_BADGE)
        }
        Invalid::DuplicateBadge { domain, other, badge } => {
            format!("domains {other:?} and {domain:?} have the same badge {badge:#x}; each needs its own")
        }
        Invalid::BadCategories(n) => format!("domain {n:?}: a source must publish at least one category"),
        Invalid::BadRingPool(n) => format!(
            "the server's ring_pool_pages is {n}; it must be from 2 to {} ({} MiB of rings)",
            crate::MAX_RING_POOL_PAGES,
            crate::MAX_RING_POOL_PAGES / 256
        ),
        Invalid::UnknownDomain(n) => format!("a notification or endpoint names unknown domain {n:?}"),
        Invalid::DuplicateCapName(n) => format!("two notifications or endpoints are named {n:?}"),
        Invalid::BadCallerBadge(n) => format!("endpoint caller {n:?}: badge is 0 or another caller's"),
        Invalid::BadIngest(n) => format!(
            "domain {n:?}: only a source has an ingest ring, of a power of two from 1 to {} pages (ingest_pages)",
            crate::MAX_INGEST_PAGES
        ),
        Invalid::BadLossless(n) => format!("domain {n:?}: only a client's queues can be lossless"),
        Invalid::BadDevice(n) => format!(
            "device or domain {n:?}: bad name, empty ports, no resource, shared with another device, more than {} devices or more than {} DMA pages",
            crate::MAX_DEVICES,
            crate::MAX_DMA_PAGES
        ),
    }
}

impl System<'_> {
    /// The description as a Rust expression of type `evq_system::System<'static>`,
    /// for a build script to write into a `const`.
    pub fn to_rust(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "evq_system::System {{ board: {:?}, domains: &[", self.board);
        for d in self.domains {
            let role = match d.role {
                Role::Server { ring_pool_pages } => format!("Server {{ ring_pool_pages: {ring_pool_pages} }}"),
                Role::Source { badge, categories, budget_per_tick } => format!(
                    "Source {{ badge: {badge:#x}, categories: evq_abi::event::CategorySet({:#x}), budget_per_tick: {budget_per_tick} }}",
                    categories.0
                ),
                Role::Client { badge } => format!("Client {{ badge: {badge:#x} }}"),
                Role::Plain => "Plain".to_string(),
            };
            let _ = write!(
                out,
                "evq_system::Domain {{ name: {:?}, image: {:?}, args: {:?}, priority: {}, role: evq_system::Role::{role}, devices: &[",
                d.name, d.image, d.args, d.priority
            );
            for dev in d.devices {
                let _ = write!(
                    out,
                    "evq_system::Device {{ name: {:?}, mmio: {:?}, mmio_pages: {}, ioports: {:?}, irq: {:?}, level_triggered: {}, driver: evq_system::Driver::{:?} }}, ",
                    dev.name, dev.mmio, dev.mmio_pages, dev.ioports, dev.irq, dev.level_triggered, dev.driver
                );
            }
            let _ = write!(
                out,
                "], dma_pages: {}, ingest_pages: {}, lossless: {} }}, ",
                d.dma_pages, d.ingest_pages, d.lossless
            );
        }
        out.push_str("], notifications: &[");
        for n in self.notifications {
            let _ = write!(
                out,
                "evq_system::Notification {{ name: {:?}, waiter: {:?}, signallers: &{:?} }}, ",
                n.name, n.waiter, n.signallers
            );
        }
        out.push_str("], endpoints: &[");
        for e in self.endpoints {
            let _ = write!(out, "evq_system::Endpoint {{ name: {:?}, server: {:?}, callers: &[", e.name, e.server);
            for c in e.callers {
                let _ = write!(out, "evq_system::Caller {{ domain: {:?}, badge: {:#x} }}, ", c.domain, c.badge);
            }
            out.push_str("] }, ");
        }
        out.push_str("] }");
        out
    }
}
