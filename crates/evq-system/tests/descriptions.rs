//! The shipped descriptions parse and hold together; broken ones are refused
//! with the reason.

use evq_abi::event::Category;
use evq_system::{parse, Driver, Grant, Rights, Role, MAX_DOMAINS, ROOT_BADGE};

/// Every seL4 board in images/: each directory with a system.toml but the
/// hosted platform's.
fn boards() -> Vec<String> {
    let dir = format!("{}/../../images", env!("CARGO_MANIFEST_DIR"));
    let mut boards: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("system.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|b| b != "hosted")
        .collect();
    boards.sort();
    boards
}

fn shipped(board: &str) -> String {
    let path = format!("{}/../../images/{board}/system.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn shipped_descriptions_are_valid_systems() {
    let boards = boards();
    for expected in ["qemu-arm-virt", "pc99", "qemu-riscv-virt", "rpi4", "hifive", "spike"] {
        assert!(boards.iter().any(|b| b == expected), "images/{expected}/system.toml is missing");
    }
    for board in &boards {
        let board = board.as_str();
        let system = parse(&shipped(board)).unwrap_or_else(|e| panic!("{board}: {e}"));
        assert_eq!(system.board, board);
        let (id, server) = system.server().expect("a server");
        assert_eq!(id, 1);
        assert!(matches!(server.role, Role::Server { ring_pool_pages } if ring_pool_pages >= 2));
    }
}

#[test]
fn shipped_benchmark_descriptions_are_valid_systems() {
    for board in boards() {
        let path = format!("{}/../../images/{board}/bench.toml", env!("CARGO_MANIFEST_DIR"));
        if !std::path::Path::new(&path).is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let system = parse(&text).unwrap_or_else(|e| panic!("{board}: {e}"));
        let (_, client) = system.domain("bench-client").unwrap();
        assert!(system.grants(client).any(|g| matches!(g, Grant::Endpoint { name: "ping", .. })));
    }
}

#[test]
fn grants_follow_roles() {
    let system = parse(&shipped("qemu-arm-virt")).unwrap();
    let (_, server) = system.server().unwrap();
    let grants: Vec<Grant> = system.grants(server).collect();
    assert_eq!(grants[0], Grant::ServerEndpoint { badge: 0, rights: Rights::ALL });
    let clients = system.domains.iter().filter(|d| matches!(d.role, Role::Client { .. })).count();
    let signals = grants
        .iter()
        .filter(|g| matches!(g, Grant::ClientNotification { rights, .. } if *rights == Rights::SIGNAL))
        .count();
    assert_eq!(signals, clients, "the server signals every client and nothing else");

    let (_, client) = system.domain("test-client").unwrap();
    let grants: Vec<Grant> = system.grants(client).collect();
    assert_eq!(grants[0], Grant::ServerEndpoint { badge: 0x21, rights: Rights::CALL_RECEIVING_CAPS });
    assert_eq!(grants[1], Grant::ClientNotification { client: "test-client", rights: Rights::WAIT });
    assert!(grants.contains(&Grant::Notification { name: "script-go", rights: Rights::SIGNAL }));
    assert!(grants.contains(&Grant::Notification { name: "script-done", rights: Rights::WAIT }));
    assert!(!grants.iter().any(|g| matches!(g, Grant::ClientNotification { client, .. } if *client != "test-client")));

    let (_, source) = system.domain("test-source").unwrap();
    let Role::Source { categories, .. } = source.role else { panic!("test-source is a source") };
    assert!(categories.contains(Category::Vfs) && !categories.contains(Category::Process));
    assert_eq!(system.grants(source).next(), Some(Grant::ServerEndpoint { badge: 0x11, rights: Rights::CALL }));
}

#[test]
fn lookups_agree_on_ids() {
    let system = parse(&shipped("pc99")).unwrap();
    for (i, d) in system.domains.iter().enumerate() {
        let id = i as u32 + 1;
        assert_eq!(system.domain(d.name).map(|(id, _)| id), Some(id));
        assert_eq!(system.domain_by_id(id), Some(d));
        if let Some(badge) = d.badge() {
            assert_eq!(system.by_badge(badge).map(|(id, _)| id), Some(id));
        }
    }
    assert_eq!(system.domain_by_id(0), None, "0 is the root task");
    assert_eq!(system.by_badge(ROOT_BADGE), None);
}

#[test]
fn rendered_constant_reads_back_the_same() {
    let system = parse(&shipped("qemu-arm-virt")).unwrap();
    let rust = system.to_rust();
    for d in system.domains {
        assert!(rust.contains(&format!("name: {:?}", d.name)), "{rust}");
    }
    assert!(rust.contains("badge: 0x22"));
    assert!(rust.contains("signallers: &[\"test-client\"]"));
}

fn refused(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const SERVER: &str =
    "[[domain]]\nname = \"s\"\nimage = \"srv\"\npriority = 200\nrole = \"server\"\nring_pool_pages = 8\n";

#[test]
fn broken_descriptions_are_refused_with_the_reason() {
    let head = "board = \"b\"\n";
    assert!(refused(head).contains("0 domains"));
    assert!(refused(&format!("{head}{SERVER}{SERVER}")).contains("2 servers"));
    let dup = SERVER.replace("role = \"server\"\nring_pool_pages = 8", "role = \"client\"\nbadge = 5");
    assert!(refused(&format!("{head}{SERVER}{dup}")).contains("two domains are named"));
    let client = |badge: u64| {
        format!("[[domain]]\nname = \"c{badge}\"\nimage = \"cli\"\npriority = 1\nrole = \"client\"\nbadge = {badge}\n")
    };
    assert!(refused(&format!("{head}{SERVER}{}", client(ROOT_BADGE))).contains("badge"));
    assert!(refused(&format!("{head}{SERVER}{}", client(0))).contains("badge"));
    let twin = client(7).replace("c7", "d7");
    assert_eq!(
        refused(&format!("{head}{SERVER}{}{twin}", client(7))),
        "system description is not a valid system: domains \"c7\" and \"d7\" have the same badge 0x7; each needs its own"
    );
    let source = "[[domain]]\nname = \"v\"\nimage = \"vfs\"\npriority = 9\nrole = \"source\"\nbadge = 3\n";
    assert!(refused(&format!("{head}{SERVER}{source}")).contains("needs `categories`"));
    assert!(refused(&format!("{head}{SERVER}{source}categories = [\"meta\"]\n")).contains("unknown category"));
    assert!(refused(&format!("{head}{SERVER}{source}categories = []\n")).contains("at least one category"));
    assert!(refused(&format!("{head}{}", SERVER.replace("= 8", "= 1"))).contains("ring_pool_pages is 1"));
    assert_eq!(
        refused(&format!("{head}{}", SERVER.replace("= 8", "= 100000000"))),
        "system description is not a valid system: the server's ring_pool_pages is 100000000; it must be from 2 to 262144 (1024 MiB of rings)"
    );
    assert!(!refused(&format!("{head}{}", SERVER.replace("= 8", "= 262145"))).is_empty());
    assert!(refused(&format!("{head}{}", SERVER.replace("200", "255"))).contains("priority"));
    assert!(refused(&format!("{head}{}", SERVER.replace("= \"server\"", "= \"king\""))).contains("unknown role"));
    assert!(refused(&format!("{head}{SERVER}badge = 4\n")).contains("takes no `badge`"));
    assert!(refused(&format!("{head}{SERVER}colour = 1\n")).contains("colour"));
    let note = "[[notification]]\nname = \"n\"\nwait = \"s\"\nsignal = [\"ghost\"]\n";
    assert!(refused(&format!("{head}{SERVER}{note}")).contains("ghost"));
    assert!(refused("board = ").contains("system description"));
}

#[test]
fn a_description_holds_a_server_a_source_and_64_clients_and_no_more_than_max_domains() {
    let head = "board = \"b\"\n";
    let source = "[[domain]]\nname = \"v\"\nimage = \"vfs\"\npriority = 9\nrole = \"source\"\nbadge = 3\ncategories = [\"vfs\"]\n";
    let clients = |n: usize| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "[[domain]]\nname = \"c{i}\"\nimage = \"cli\"\npriority = 1\nrole = \"client\"\nbadge = {}\n",
                    0x100 + i
                )
            })
            .collect()
    };
    let system = parse(&format!("{head}{SERVER}{source}{}", clients(64))).expect("66 domains");
    assert_eq!(system.domains.len(), 66);
    let (_, server) = system.server().unwrap();
    let signals = system.grants(server).filter(|g| matches!(g, Grant::ClientNotification { .. })).count();
    assert_eq!(signals, 64);
    let full = format!("{head}{SERVER}{}", clients(MAX_DOMAINS - 1));
    assert_eq!(parse(&full).expect("MAX_DOMAINS domains").domains.len(), MAX_DOMAINS);
    let over = format!("{head}{SERVER}{}", clients(MAX_DOMAINS));
    assert!(refused(&over).contains(&format!("{} domains (1..={MAX_DOMAINS})", MAX_DOMAINS + 1)));
}

#[test]
fn described_endpoints_go_to_their_server_and_badged_to_their_callers() {
    let system = parse(&shipped("qemu-arm-virt")).unwrap();
    let (_, vfs) = system.domain("vfs").unwrap();
    assert!(system.grants(vfs).any(|g| g == Grant::Endpoint { name: "vfs", badge: 0, rights: Rights::ALL }));
    let (_, workload) = system.domain("fs-workload").unwrap();
    let grants: Vec<Grant> = system.grants(workload).collect();
    assert!(grants.contains(&Grant::Endpoint { name: "vfs", badge: 0x31, rights: Rights::CALL }));
    assert!(
        !grants.iter().any(|g| matches!(g, Grant::ServerEndpoint { .. })),
        "a plain domain gets no endpoint to the event server"
    );
    let (_, client) = system.domain("test-client").unwrap();
    assert!(!system.grants(client).any(|g| matches!(g, Grant::Endpoint { .. })), "only the described callers");
}

#[test]
fn broken_endpoints_are_refused_with_the_reason() {
    let head = "board = \"b\"\n";
    let caller = "[[domain]]\nname = \"w\"\nimage = \"w\"\npriority = 1\nrole = \"plain\"\n";
    let ep = |server: &str, callers: &str| {
        format!("[[endpoint]]\nname = \"e\"\nserver = \"{server}\"\ncallers = [{callers}]\n")
    };
    let ok = format!("{head}{SERVER}{caller}{}", ep("s", "{ domain = \"w\", badge = 1 }"));
    assert!(parse(&ok).is_ok());
    assert!(
        refused(&format!("{head}{SERVER}{caller}{}", ep("ghost", "{ domain = \"w\", badge = 1 }"))).contains("ghost")
    );
    assert!(
        refused(&format!("{head}{SERVER}{caller}{}", ep("s", "{ domain = \"ghost\", badge = 1 }"))).contains("ghost")
    );
    assert!(refused(&format!("{head}{SERVER}{caller}{}", ep("s", "{ domain = \"w\", badge = 0 }"))).contains("badge"));
    let twice = ep("s", "{ domain = \"w\", badge = 2 }, { domain = \"s\", badge = 2 }");
    assert!(refused(&format!("{head}{SERVER}{caller}{twice}")).contains("badge"));
    let note = "[[notification]]\nname = \"e\"\nwait = \"s\"\nsignal = [\"w\"]\n";
    assert!(refused(&format!("{ok}{note}")).contains("two notifications or endpoints are named"));
}

#[test]
fn drivers_get_their_devices_and_dma_memory() {
    for board in ["qemu-arm-virt", "pc99", "qemu-riscv-virt"] {
        let system = parse(&shipped(board)).unwrap();
        let (_, net) = system.domain("net").unwrap();
        assert_eq!(net.dma_pages, 64);
        let devices: Vec<_> = system
            .grants(net)
            .filter_map(|g| match g {
                Grant::Device(d) => Some(d),
                _ => None,
            })
            .collect();
        let virtio = devices.iter().find(|d| d.name == "virtio").expect("the NIC");
        assert!(virtio.mmio.is_some() && virtio.irq.is_some());
        let (_, device) = system.domain("device").unwrap();
        assert_eq!(system.grants(device).filter(|g| matches!(g, Grant::Device(_))).count(), 2, "{board}: uart and rtc");
    }
    let pc = parse(&shipped("pc99")).unwrap();
    let (_, net) = pc.domain("net").unwrap();
    let virtio = net.devices.iter().find(|d| d.name == "virtio").unwrap();
    assert_eq!((virtio.mmio_pages, virtio.level_triggered), (4, true), "a PCI BAR of four pages, INTx");
    assert_eq!(net.devices.iter().find(|d| d.name == "pci").unwrap().ioports, Some((0xcf8, 8)));
}

#[test]
fn devices_that_collide_or_make_no_sense_are_refused() {
    let head = "board = \"b\"\n";
    let driver = |name: &str, devices: &str| {
        format!("[[domain]]\nname = \"{name}\"\nimage = \"d\"\npriority = 9\nrole = \"plain\"\ndevices = [{devices}]\n")
    };
    let ok = format!(
        "{head}{SERVER}{}",
        driver("a", "{ name = \"u\", mmio = 0x9000000, pages = 2, irq = 33, trigger = \"level\" }")
    );
    assert!(parse(&ok).is_ok());
    // The second page of a two-page device is someone else's first.
    assert!(refused(&format!("{ok}{}", driver("b", "{ name = \"v\", mmio = 0x9001000 }"))).contains("device"));
    assert!(refused(&format!("{ok}{}", driver("b", "{ name = \"v\", irq = 33 }"))).contains("device"));
    assert!(parse(&format!("{ok}{}", driver("b", "{ name = \"v\", mmio = 0x9002000, irq = 34 }"))).is_ok());
    let ports = driver("b", "{ name = \"p\", ioport = 0x3f8, ports = 8 }, { name = \"q\", ioport = 0x3fc, ports = 2 }");
    assert!(refused(&format!("{head}{SERVER}{ports}")).contains("device"), "overlapping ports");
    assert!(refused(&format!("{head}{SERVER}{}", driver("b", "{ name = \"p\", ioport = 0x3f8 }"))).contains("together"));
    assert!(refused(&format!("{head}{SERVER}{}", driver("b", "{ name = \"p\" }"))).contains("device"), "no resource");
    assert!(refused(&format!("{head}{SERVER}{}", driver("b", "{ name = \"p\", irq = 5, trigger = \"both\" }")))
        .contains("trigger"));
    let too_much_dma = format!("{head}{SERVER}{}dma_pages = 257\n", driver("b", ""));
    assert!(refused(&too_much_dma).contains("DMA"));
}

#[test]
fn only_sources_have_ingest_rings_and_badges_leave_the_signal_bit_alone() {
    let system = parse(&shipped("qemu-arm-virt")).unwrap();
    assert_eq!(system.domain("net").unwrap().1.ingest_pages, 8);
    let head = "board = \"b\"\n";
    let plain = "[[domain]]\nname = \"p\"\nimage = \"p\"\npriority = 9\nrole = \"plain\"\ningest_pages = 2\n";
    assert!(refused(&format!("{head}{SERVER}{plain}")).contains("ingest"));
    let source = |extra: &str| {
        format!(
            "[[domain]]\nname = \"v\"\nimage = \"v\"\npriority = 9\nrole = \"source\"\ncategories = [\"vfs\"]\n{extra}"
        )
    };
    assert!(parse(&format!("{head}{SERVER}{}", source("badge = 3\ningest_pages = 64\n"))).is_ok());
    assert!(refused(&format!("{head}{SERVER}{}", source("badge = 3\ningest_pages = 65\n"))).contains("ingest"));
    assert!(refused(&format!("{head}{SERVER}{}", source("badge = 0x8000000000000000\n"))).contains("badge"));
}

#[test]
fn every_source_has_an_ingest_ring_of_a_power_of_two_pages() {
    let head = "board = \"b\"\n";
    let source = |extra: &str| {
        format!("[[domain]]\nname = \"v\"\nimage = \"v\"\npriority = 9\nrole = \"source\"\ncategories = [\"vfs\"]\nbadge = 3\n{extra}")
    };
    let given = parse(&format!("{head}{SERVER}{}", source("ingest_pages = 16\n"))).unwrap();
    assert_eq!(given.domain("v").unwrap().1.ingest_ring_pages(), Some(16));
    let default = parse(&format!("{head}{SERVER}{}", source(""))).unwrap();
    assert_eq!(default.domain("v").unwrap().1.ingest_ring_pages(), Some(evq_system::DEFAULT_INGEST_PAGES));
    assert_eq!(default.domain("s").unwrap().1.ingest_ring_pages(), None, "the server is no source");
    assert!(refused(&format!("{head}{SERVER}{}", source("ingest_pages = 3\n"))).contains("power of two"));
}

#[test]
fn only_a_client_can_be_lossless() {
    let head = "board = \"b\"\n";
    let client =
        "[[domain]]\nname = \"c\"\nimage = \"c\"\npriority = 9\nrole = \"client\"\nbadge = 5\nlossless = true\n";
    let system = parse(&format!("{head}{SERVER}{client}")).unwrap();
    assert!(system.domain("c").unwrap().1.lossless);
    assert!(refused(&format!("{head}{SERVER}lossless = true\n")).contains("only a client's queues can be lossless"));
    let rust = system.to_rust();
    assert!(rust.contains("lossless: true"), "the seL4 build's constant keeps it");
}

/// Each board's device domain names the chip of each of its devices, and it
/// is one that sits where that board's registers or ports are: a UART on
/// every board that has the domain, a clock device where the board has one.
#[test]
fn device_domains_name_their_chips() {
    let expected: &[(&str, Driver, Option<Driver>)] = &[
        ("qemu-arm-virt", Driver::Pl011, Some(Driver::Pl031)),
        ("pc99", Driver::Ns16550Ports, Some(Driver::Cmos)),
        ("qemu-riscv-virt", Driver::Ns16550Mmio8, Some(Driver::GoldfishRtc)),
        ("rpi4", Driver::Ns16550Mmio32, Some(Driver::Bcm2835SystemTimer)),
        ("hifive", Driver::SifiveUart, None),
    ];
    for (board, uart, rtc) in expected {
        let system = parse(&shipped(board)).unwrap();
        let (_, device) = system.domain("device").unwrap_or_else(|| panic!("{board}: no device domain"));
        let find = |name: &str| device.devices.iter().find(|d| d.name == name).map(|d| d.driver);
        assert_eq!(find("uart"), Some(*uart), "{board}: uart");
        assert_eq!(find("rtc"), *rtc, "{board}: rtc");
        if rtc.is_none() {
            assert!(device.args.starts_with("epoch="), "{board}: a board with no clock sets the epoch");
        }
    }
    let spike = parse(&shipped("spike")).unwrap();
    assert!(spike.domain("device").is_none() && spike.domain("net").is_none(), "spike routes no interrupts");
}

#[test]
fn a_driver_is_named_from_the_known_ones_and_needs_its_registers() {
    let with = |device: &str| {
        shipped("qemu-arm-virt")
            .replace(r#"{ name = "rtc", driver = "pl031", mmio = 0x9010000, irq = 34, trigger = "level" }"#, device)
    };
    let e = parse(&with(r#"{ name = "rtc", driver = "pl032", mmio = 0x9010000, irq = 34 }"#)).unwrap_err().to_string();
    assert!(e.contains(r#"driver "pl032" is none of pl011, pl031, ns16550"#), "{e}");
    let e = parse(&with(r#"{ name = "rtc", driver = "pl031", irq = 34 }"#)).unwrap_err().to_string();
    assert!(e.contains("rtc"), "a memory-mapped chip with no registers: {e}");
    let e = parse(&with(r#"{ name = "rtc", driver = "cmos", mmio = 0x9010000, irq = 34 }"#)).unwrap_err().to_string();
    assert!(e.contains("rtc"), "a chip reached by ports with none: {e}");
    for d in Driver::ALL {
        assert_eq!(Driver::from_code(d.code()), Some(d));
        if d != Driver::Unnamed {
            assert_eq!(Driver::from_name(d.name()), Some(d));
        }
    }
    assert_eq!(Driver::from_code(Driver::ALL.len() as u32), None);
    assert_eq!(Driver::from_name(""), None);
}
