//! UDP GSO sends and GRO receives on loopback (no root needed): trains of equal-sized datagrams
//! leave as one send and, to a GRO socket, arrive as one buffer; cut apart they are the same
//! datagrams, in order; a socket without GRO gets them one by one.

use {
    relay::{
        sys::{self, RecvBatch},
        udp_socket,
    },
    std::{net::SocketAddr, os::fd::AsFd, time::Duration},
};

fn datagrams() -> Vec<Vec<u8>> {
    // Two trains: 10 × 1316 bytes then a shorter one (ends the train), then 5 × 1291.
    let mut out: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 1316]).collect();
    out.push(vec![10; 700]);
    out.extend((11..16u8).map(|i| vec![i; 1291]));
    out
}

fn receive_all(gro: bool) -> (Vec<Vec<u8>>, usize) {
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let receiver = udp_socket(local, 4 << 20, Some(Duration::from_millis(200))).unwrap();
    if gro {
        sys::enable_gro(receiver.as_fd()).unwrap();
    }
    let sender = udp_socket(local, 0, None).unwrap();
    sender.connect(receiver.local_addr().unwrap()).unwrap();
    let sent = datagrams();
    let views: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
    let mut gso = true;
    let (outcome, error) = sys::send_gso(sender.as_fd(), &views, &mut gso);
    assert_eq!(outcome.sent, sent.len(), "{error:?}");
    assert!(gso, "loopback takes GSO sends");
    let mut batch = RecvBatch::new(65_536);
    let (mut got, mut buffers) = (Vec::new(), 0);
    while got.len() < sent.len() {
        let count = batch.recv(receiver.as_fd(), false).unwrap();
        assert!(count > 0, "timed out after {} datagrams", got.len());
        for i in 0..count {
            buffers += 1;
            got.extend(batch.segments(i).map(<[u8]>::to_vec));
        }
    }
    (got, buffers)
}

#[test]
fn gso_trains_arrive_whole_at_a_gro_socket() {
    let (got, buffers) = receive_all(true);
    assert_eq!(got, datagrams());
    assert!(
        buffers < got.len(),
        "{buffers} buffers for {} datagrams: nothing coalesced",
        got.len()
    );
}

#[test]
fn gso_trains_arrive_one_by_one_without_gro() {
    let (got, buffers) = receive_all(false);
    assert_eq!(got, datagrams());
    assert_eq!(buffers, got.len());
}
