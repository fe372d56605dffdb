//! The frames the core builds and reads, and the events it owes.

use evq_abi::event::{network, Category, CountersPayload};
use evq_net::{arp_request, parse_arp_reply, ArpReply, Interface, ARP_FRAME_LEN};
use zerocopy::FromBytes;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const GW_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
const IP: [u8; 4] = [10, 0, 2, 15];
const GW: [u8; 4] = [10, 0, 2, 2];

/// The reply a gateway sends, built by hand from RFC 826's layout.
fn reply_to(mac: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&mac);
    f.extend_from_slice(&GW_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    f.extend_from_slice(&GW_MAC);
    f.extend_from_slice(&GW);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&IP);
    f.resize(60, 0); // padded to the Ethernet minimum, as NICs deliver it
    f
}

#[test]
fn an_arp_request_is_laid_out_as_rfc_826_says() {
    let f = arp_request(MAC, IP, GW);
    assert_eq!(f.len(), ARP_FRAME_LEN);
    assert_eq!(&f[0..6], &[0xff; 6], "broadcast");
    assert_eq!(&f[6..12], &MAC);
    assert_eq!(&f[12..22], &[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    assert_eq!(&f[22..28], &MAC);
    assert_eq!(&f[28..32], &IP);
    assert_eq!(&f[32..38], &[0; 6]);
    assert_eq!(&f[38..42], &GW);
}

#[test]
fn the_gateways_reply_is_recognised_and_nothing_else_is() {
    let reply = reply_to(MAC);
    assert_eq!(parse_arp_reply(&reply, MAC), Some(ArpReply { sender_mac: GW_MAC, sender_ip: GW }));
    assert_eq!(parse_arp_reply(&reply_to([1; 6]), MAC), None, "a reply to another host");
    assert_eq!(parse_arp_reply(&arp_request(GW_MAC, GW, IP), MAC), None, "a request is no reply");
    assert_eq!(parse_arp_reply(&reply[..41], MAC), None, "truncated");
    for at in [12, 13, 15, 17, 18, 19, 21] {
        let mut bad = reply.clone();
        bad[at] ^= 0xff;
        assert_eq!(parse_arp_reply(&bad, MAC), None, "byte {at} altered");
    }
    for len in 0..80 {
        let _ = parse_arp_reply(&vec![0xAA; len], MAC);
    }
}

#[test]
fn the_link_is_an_event_when_it_changes_and_only_then() {
    let mut i = Interface::new(3);
    let e = i.link(true).expect("the first report is news");
    assert_eq!((e.category, e.kind, e.object_id, e.payload.len()), (Category::Network, network::LINK_UP, 3, 0));
    assert!(i.link(true).is_none());
    assert_eq!(i.link(false).map(|e| e.kind), Some(network::LINK_DOWN));
    assert_eq!(i.link(true).map(|e| e.kind), Some(network::LINK_UP));
}

#[test]
fn each_frame_is_one_packet_and_the_totals_add_up() {
    let mut i = Interface::new(1);
    for (n, len) in [60usize, 42, 1514].into_iter().enumerate() {
        let e = i.received(len);
        assert_eq!((e.category, e.kind, e.object_id), (Category::Network, network::RX, 1));
        let c = CountersPayload::read_from_bytes(e.payload).unwrap();
        assert_eq!((c.packets.get(), c.bytes.get()), (1, len as u64), "frame {n}");
        assert!(e.check().is_ok());
    }
    let e = i.sent(42);
    assert_eq!(e.kind, network::TX);
    assert_eq!((i.rx_total().packets.get(), i.rx_total().bytes.get()), (3, 1616));
    assert_eq!((i.tx_total().packets.get(), i.tx_total().bytes.get()), (1, 42));
}
