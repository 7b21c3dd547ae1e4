//! The relay on real kernels: namespaces, veth pairs, AF_PACKET, the real binary, real socat.

mod support;

use {
    relay::{
        testkit::{ShredSpec, build_shred},
        tunnel::{Key, TunnelHeader, decode, encode},
        unix_nanos,
        unwrap::wrap_ipv4,
    },
    std::{
        net::{Ipv4Addr, UdpSocket},
        time::Duration,
    },
    support::*,
};

const SETTLE: Duration = Duration::from_secs(10);

/// Data shreds among the stream positions `range`.
fn data_shreds(range: std::ops::Range<u64>) -> f64 {
    range
        .filter(|n| {
            ShredSpec::nth(*n, 1000, 1).variant.shred_type() == relay::shred::ShredType::Data
        })
        .count() as f64
}

/// Starts `relay forward` in the root namespace on `listen_host`, forwarding to `sink`.
fn forward(listen_host: &str, sink: &Sink, extra: &[&str]) -> Proc {
    let listen = format!("{listen_host}:0");
    let to = sink.addr();
    let mut args = vec![
        "forward",
        "--listen",
        &listen,
        "--to",
        &to,
        "--metrics-bind",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Proc::relay("", &args)
}

/// Starts `relay capture` on the mirror interface of `net`, tunnelling to each of `to`.
fn capture(net: &Net, to: &[String], extra: &[&str]) -> Proc {
    let metrics_bind = format!("{}:0", net.capture_backbone);
    let mut args = vec![
        "capture",
        "--interface",
        &net.mirror_if,
        "--port",
        "20000",
        "--metrics-bind",
        &metrics_bind,
    ];
    for to in to {
        args.extend_from_slice(&["--to", to]);
    }
    args.extend_from_slice(extra);
    Proc::relay(&net.capture, &args)
}

#[test]
fn capture_tunnel_forward_delivers_every_shred_once() {
    if !require_root("capture_tunnel_forward_delivers_every_shred_once") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let key = key.to_str().unwrap();
    let net = Net::new();
    let mut sink = Sink::bind("127.0.0.1:0");
    let fwd = forward(
        &net.root_backbone,
        &sink,
        &["--key", key, "--shred-version", "1"],
    );
    let cap = capture(&net, &[fwd.addr("listen")], &["--key", key]);
    let (fwd_metrics, cap_metrics) = (fwd.addr("metrics"), cap.addr("metrics"));

    // IPv4 and IPv6 to the TVU port, then traffic to another port that must not be captured.
    net.send(&format!("{}:20000", net.target_v4), 2000, 0, 40_000);
    net.send(&format!("[{}]:20000", net.target_v6), 500, 2000, 40_000);
    net.send(&format!("{}:20001", net.target_v4), 300, 5000, 0);
    net.send(&format!("[{}]:20001", net.target_v6), 100, 6000, 0);

    sink.collect(2500, SETTLE);
    wait_until(SETTLE, "capture counters", || {
        metric(&cap_metrics, "relay_captured_packets_total") >= 2500.0
    });
    assert_eq!(
        sink.drain(Duration::from_millis(300)),
        0,
        "extra datagrams after the stream"
    );
    assert_exactly_once(&sink.received, &expected(0..2500));

    assert_eq!(metric(&cap_metrics, "relay_captured_packets_total"), 2500.0);
    assert_eq!(metric(&cap_metrics, "relay_sent_packets_total"), 2500.0);
    assert_eq!(
        dropped(&cap_metrics, "wrong_port"),
        0.0,
        "the kernel filter let other ports through"
    );
    assert_eq!(dropped(&cap_metrics, "outgoing"), 0.0);
    let fwd_all = metrics(&fwd_metrics);
    assert_eq!(fwd_all["relay_forwarded_packets_total"], 2500.0);
    assert_eq!(fwd_all["relay_received_packets_total"], 2500.0);
    assert_eq!(fwd_all["relay_tunnel_seq_gaps_total"], 0.0);
    assert_eq!(fwd_all["relay_tunnel_sessions_total"], 1.0);
    assert_eq!(
        fwd_all["relay_shreds_total{type=\"data\"}"],
        data_shreds(0..2500)
    );
    assert_eq!(
        fwd_all["relay_shreds_total{type=\"code\"}"],
        2500.0 - data_shreds(0..2500)
    );
    assert_eq!(fwd_all["relay_latest_slot"], (1000 + 2499 / 128) as f64);
    assert_eq!(fwd_all["relay_tunnel_latency_seconds_count"], 2500.0);
    let drops: f64 = fwd_all
        .iter()
        .filter(|(k, _)| k.starts_with("relay_dropped_packets_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(drops, 0.0);
    assert_eq!(http_get(&fwd_metrics, "/health").0, 200);
    // Per-slot statistics, published about once a second.
    let mut slots = serde_json::Value::Null;
    wait_until(SETTLE, "/slots", || {
        slots = serde_json::from_str(&http_get(&fwd_metrics, "/slots").1).unwrap_or_default();
        slots.as_array().is_some_and(|rows| !rows.is_empty())
    });
    let rows = slots.as_array().unwrap();
    assert_eq!(rows[0]["slot"], 1000 + 2499 / 128, "newest first");
    let shreds: u64 = rows
        .iter()
        .map(|r| r["data"].as_u64().unwrap() + r["code"].as_u64().unwrap())
        .sum();
    assert_eq!(shreds, 2500);
    assert_eq!(rows.last().unwrap()["last_index"], 63);
}

#[test]
fn forged_and_replayed_datagrams_are_dropped_and_counted() {
    if !require_root("forged_and_replayed_datagrams_are_dropped_and_counted") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key_path = keygen(dir.path());
    let key = Key::parse(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    let key_arg = key_path.to_str().unwrap();
    let net = Net::new();
    let mut sink = Sink::bind("127.0.0.1:0");
    let fwd = forward(&net.root_backbone, &sink, &["--key", key_arg]);
    let fwd_addr = fwd.addr("listen");
    let fwd_metrics = fwd.addr("metrics");
    // An eavesdropper on the backbone: the capture also sends every datagram here.
    let tap = bound_socket(&format!("{}:0", net.root_backbone));
    let tap_addr = tap.local_addr().unwrap().to_string();
    let mut cap = capture(
        &net,
        &[fwd_addr.clone(), tap_addr.clone()],
        &["--key", key_arg],
    );

    net.send(&format!("{}:20000", net.target_v4), 50, 0, 0);
    assert_exactly_once(sink.collect(50, SETTLE), &expected(0..50));
    let recorded = recv_n(&tap, 50, SETTLE);

    // Replay: genuine datagrams, sent again by someone without the key.
    let attacker = UdpSocket::bind("0.0.0.0:0").unwrap();
    for datagram in &recorded {
        attacker.send_to(datagram, &fwd_addr).unwrap();
    }
    wait_until(SETTLE, "replays counted", || {
        dropped(&fwd_metrics, "replay") >= 50.0
    });
    // Forgeries: a genuine datagram with a new sequence number, with a changed shred byte, made
    // with another key, and with no MAC at all.
    let (header, inner) = decode(&recorded[0], Some(&key)).unwrap();
    let mut new_seq = recorded[0].clone();
    new_seq[12..20].copy_from_slice(&1000u64.to_le_bytes());
    let mut changed = recorded[1].clone();
    changed[200] ^= 0x55;
    let mut out = vec![0u8; 2048];
    let fresh = TunnelHeader {
        seq: 2000,
        timestamp_ns: unix_nanos(),
        ..header
    };
    let other_key = Key::from_bytes([0x42; 32]);
    let len = encode(&fresh, inner, Some(&other_key), &mut out).unwrap();
    let other = out[..len].to_vec();
    let len = encode(&TunnelHeader { seq: 2001, ..fresh }, inner, None, &mut out).unwrap();
    let unkeyed = out[..len].to_vec();
    for datagram in [&new_seq, &changed, &other, &unkeyed] {
        attacker.send_to(datagram, &fwd_addr).unwrap();
    }
    wait_until(SETTLE, "forgeries counted", || {
        dropped(&fwd_metrics, "bad_mac") >= 4.0
    });
    assert_eq!(dropped(&fwd_metrics, "bad_mac"), 4.0);
    assert_eq!(dropped(&fwd_metrics, "replay"), 50.0);
    assert_eq!(
        sink.drain(Duration::from_millis(200)),
        0,
        "a forged or replayed datagram reached the TVU"
    );

    // The capture side restarts: a new session is accepted, the old session's datagrams are
    // still replays.
    assert!(
        cap.terminate(Duration::from_secs(5))
            .is_some_and(|status| status.success())
    );
    let cap2 = capture(&net, std::slice::from_ref(&fwd_addr), &["--key", key_arg]);
    assert_ne!(cap.ready["session"], cap2.ready["session"]);
    net.send(&format!("{}:20000", net.target_v4), 50, 50, 0);
    sink.collect(100, SETTLE);
    for datagram in &recorded {
        attacker.send_to(datagram, &fwd_addr).unwrap();
    }
    wait_until(SETTLE, "second replay counted", || {
        dropped(&fwd_metrics, "replay") >= 100.0
    });
    assert_eq!(sink.drain(Duration::from_millis(200)), 0);
    assert_exactly_once(&sink.received, &expected(0..100));
    assert_eq!(metric(&fwd_metrics, "relay_tunnel_sessions_total"), 2.0);
}

#[test]
fn malformed_input_is_dropped_and_counted() {
    if !require_root("malformed_input_is_dropped_and_counted") {
        return;
    }
    let key = Key::from_bytes([7; 32]);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k");
    std::fs::write(&key_path, key.to_file_text()).unwrap();
    let mut sink = Sink::bind("127.0.0.1:0");
    let fwd = forward(
        "127.0.0.1",
        &sink,
        &["--key", key_path.to_str().unwrap(), "--shred-version", "1"],
    );
    let (fwd_addr, fwd_metrics) = (fwd.addr("listen"), fwd.addr("metrics"));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seq = 0;
    let mut send = |inner: &[u8]| {
        let mut out = vec![0u8; 4096];
        let header = TunnelHeader {
            flags: 0,
            session: 5,
            seq,
            timestamp_ns: unix_nanos(),
        };
        seq += 1;
        let len = encode(&header, inner, Some(&key), &mut out).unwrap();
        sender.send_to(&out[..len], &fwd_addr).unwrap();
    };
    let (a, b) = (Ipv4Addr::new(10, 1, 1, 1), Ipv4Addr::new(10, 1, 1, 2));
    let shred = |n| build_shred(&ShredSpec::nth(n, 1000, 1));
    let good = |n| wrap_ipv4((a, 8001), (b, 20000), &shred(n));

    send(&good(0));
    let mut bad_version = good(1);
    bad_version[0] = 0x35;
    send(&bad_version);
    let mut bad_ihl = good(1);
    bad_ihl[0] = 0x4f;
    send(&bad_ihl);
    let mut bad_checksum = good(1);
    bad_checksum[10] ^= 0xff;
    send(&bad_checksum);
    send(&good(1)[..30]); // truncated: IP total length beyond the bytes
    let mut not_udp = good(1);
    not_udp[9] = 6;
    not_udp[10..12].copy_from_slice(&[0, 0]);
    let sum = !not_udp[..20].chunks(2).fold(0u32, |s, p| {
        let s = s + u32::from(u16::from_be_bytes([p[0], p[1]]));
        (s & 0xffff) + (s >> 16)
    }) as u16;
    not_udp[10..12].copy_from_slice(&sum.to_be_bytes());
    send(&not_udp);
    let mut bad_udp = good(1);
    bad_udp[24..26].copy_from_slice(&4u16.to_be_bytes());
    send(&bad_udp);
    send(&wrap_ipv4((a, 1), (b, 20000), b"not a shred at all"));
    send(&wrap_ipv4((a, 1), (b, 20000), &shred(2)[..1000]));
    send(&wrap_ipv4(
        (a, 1),
        (b, 20000),
        &build_shred(&ShredSpec::nth(3, 1000, 9)),
    ));
    send(&good(0)); // the same shred under a new sequence number
    for garbage in [&b""[..], b"\x01", b"\x02\x00\x00\x00garbage", &[0xff; 1500]] {
        sender.send_to(garbage, &fwd_addr).unwrap();
    }
    send(&good(4));

    assert_exactly_once(
        sink.collect(2, SETTLE),
        &expected(0..1).into_iter().chain(expected(4..5)).collect(),
    );
    wait_until(SETTLE, "all drops counted", || {
        metric(&fwd_metrics, "relay_received_packets_total") >= 16.0
    });
    for (reason, count) in [
        ("malformed_ip", 4.0),
        ("not_udp", 1.0),
        ("malformed_udp", 1.0),
        ("not_a_shred", 2.0),
        ("wrong_shred_version", 1.0),
        ("duplicate", 1.0),
        ("malformed_tunnel", 4.0),
    ] {
        assert_eq!(dropped(&fwd_metrics, reason), count, "{reason}");
    }
    assert_eq!(metric(&fwd_metrics, "relay_forwarded_packets_total"), 2.0);

    // Raw mode: random bytes never crash it, and a good packet still passes afterwards.
    let mut raw_sink = Sink::bind("127.0.0.1:0");
    let raw = forward("127.0.0.1", &raw_sink, &["--raw"]);
    let raw_addr = raw.addr("listen");
    let mut state = 0x1234_5678_u64;
    for i in 0..2000usize {
        let mut datagram = vec![0u8; i % 1400];
        for byte in datagram.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        if let Some(first) = datagram.first_mut() {
            *first = [0x45, 0x60, 0x46, 0x00][i % 4];
        }
        sender.send_to(&datagram, &raw_addr).unwrap();
    }
    sender.send_to(&good(7), &raw_addr).unwrap();
    assert_exactly_once(raw_sink.collect(1, SETTLE), &expected(7..8));
    wait_until(SETTLE, "raw datagrams counted", || {
        metric(&raw.addr("metrics"), "relay_received_packets_total") >= 2001.0
    });
    assert_eq!(
        metric(&raw.addr("metrics"), "relay_forwarded_packets_total"),
        1.0
    );
}

#[test]
fn raw_mode_interoperates_with_socat() {
    if !require_root("raw_mode_interoperates_with_socat") {
        return;
    }
    let net = Net::new();
    let mut sink = Sink::bind("127.0.0.1:0");
    let fwd = forward(&net.root_backbone, &sink, &["--raw"]);
    let fwd_metrics = fwd.addr("metrics");
    // The write-up's sender, as it ran on the relay host.
    let _socat = Proc::spawn(
        &net.capture,
        "socat",
        &[
            "-u",
            // The write-up's command; a larger socket buffer only, so that socat does not drop
            // bursts on a busy CI machine.
            &format!("INTERFACE:{},type=2,rcvbuf=4194304", net.mirror_if),
            &format!("UDP-SENDTO:{}", fwd.addr("listen")),
        ],
    );
    // socat has no ready signal: probe the path until a probe shred comes through.
    wait_until(SETTLE, "socat capturing", || {
        send_in(
            &net.sender,
            &format!("{}:20000", net.target_v4),
            1,
            0,
            0,
            &["--first-slot", "900000"],
        );
        !sink.collect(1, Duration::from_millis(50)).is_empty()
    });
    sink.received.clear();
    net.send(&format!("{}:20000", net.target_v4), 1000, 0, 4_000);
    sink.collect(1000, SETTLE);
    sink.drain(Duration::from_millis(200));
    // socat forwards everything on the interface (also neighbour discovery and the like): the
    // forward drops what is not a shred and delivers each shred once.
    assert_exactly_once(&sink.received, &expected(0..1000));
    assert_eq!(
        metric(&fwd_metrics, "relay_shreds_total{type=\"data\"}") - 1.0,
        data_shreds(0..1000)
    );
    let probes = metric(&fwd_metrics, "relay_forwarded_packets_total") - 1000.0;
    assert!(probes >= 1.0, "probes forwarded: {probes}");
}

#[test]
fn injected_loss_and_reordering_show_in_the_metrics() {
    if !require_root("injected_loss_and_reordering_show_in_the_metrics") {
        return;
    }
    let net = Net::new();
    let mut sink = Sink::bind("127.0.0.1:0");
    let fwd = forward("127.0.0.1", &sink, &[]);
    let fwd_metrics = fwd.addr("metrics");
    // The capture tunnels to this socket; the test is a lossy, reordering link to the forward.
    let link = bound_socket(&format!("{}:0", net.root_backbone));
    let _cap = capture(&net, &[link.local_addr().unwrap().to_string()], &[]);
    net.send(&format!("{}:20000", net.target_v4), 200, 0, 0);
    let datagrams = recv_n(&link, 200, SETTLE);
    let out = UdpSocket::bind("127.0.0.1:0").unwrap();
    let fwd_addr = fwd.addr("listen");
    let lost = |seq: usize| seq % 10 == 3 && seq < 190;
    let mut order: Vec<usize> = (0..200).collect();
    order.swap(100, 101);
    for &seq in &order {
        if !lost(seq) {
            out.send_to(&datagrams[seq], &fwd_addr).unwrap();
        }
    }
    let delivered = (0..200u64)
        .filter(|n| !lost(*n as usize))
        .collect::<Vec<_>>();
    sink.collect(delivered.len(), SETTLE);
    let expected = delivered
        .iter()
        .map(|n| (build_shred(&ShredSpec::nth(*n, 1000, 1)), *n))
        .collect();
    assert_exactly_once(&sink.received, &expected);
    // 19 lost + 1 skipped by the swap; the swapped one arrives late.
    assert_eq!(metric(&fwd_metrics, "relay_tunnel_seq_gaps_total"), 20.0);
    assert_eq!(metric(&fwd_metrics, "relay_tunnel_reordered_total"), 1.0);
}

#[test]
fn loopback_capture_sees_each_packet_once() {
    if !require_root("loopback_capture_sees_each_packet_once") {
        return;
    }
    let net = Net::new();
    let mut sink = Sink::bind("127.0.0.1:0");
    let fwd = forward(&net.root_backbone, &sink, &[]);
    // On lo the kernel shows each packet twice (outgoing and incoming): only one may be sent.
    let cap = Proc::relay(
        &net.capture,
        &[
            "capture",
            "--interface",
            "lo",
            "--to",
            &fwd.addr("listen"),
            "--metrics-bind",
            &format!("{}:0", net.capture_backbone),
        ],
    );
    send_in(&net.capture, "127.0.0.1:20000", 300, 0, 0, &[]);
    sink.collect(300, SETTLE);
    assert_eq!(sink.drain(Duration::from_millis(300)), 0);
    assert_exactly_once(&sink.received, &expected(0..300));
    let cap_metrics = cap.addr("metrics");
    assert_eq!(metric(&cap_metrics, "relay_captured_packets_total"), 300.0);
    assert_eq!(
        dropped(&cap_metrics, "outgoing"),
        0.0,
        "outgoing copies reached user space"
    );
}

#[test]
fn udp_listen_capture_health_and_clean_shutdown() {
    if !require_root("udp_listen_capture_health_and_clean_shutdown") {
        return;
    }
    let mut sink = Sink::bind("127.0.0.1:0");
    let mut fwd = forward("127.0.0.1", &sink, &["--health-idle-secs", "1"]);
    let fwd_metrics = fwd.addr("metrics");
    let mut cap = Proc::relay(
        "",
        &[
            "capture",
            "--listen",
            "127.0.0.1:0",
            "--to",
            &fwd.addr("listen"),
            "--metrics-bind",
            "127.0.0.1:0",
        ],
    );
    send_in("", &cap.addr("listen"), 100, 0, 0, &[]);
    assert_exactly_once(sink.collect(100, SETTLE), &expected(0..100));
    assert_eq!(http_get(&fwd_metrics, "/health").0, 200);
    // Idle for longer than --health-idle-secs: not ok.
    wait_until(Duration::from_secs(5), "health to turn idle", || {
        http_get(&fwd_metrics, "/health").0 == 503
    });
    send_in("", &cap.addr("listen"), 1, 100, 0, &[]);
    wait_until(SETTLE, "health back", || {
        http_get(&fwd_metrics, "/health").0 == 200
    });
    // SIGTERM: both stop cleanly with status 0.
    for proc in [&mut cap, &mut fwd] {
        let status = proc
            .terminate(Duration::from_secs(5))
            .expect("stopped within 5 s");
        assert!(status.success(), "{status}: {}", proc.log_text());
        assert!(proc.log_text().contains("stopped"));
    }
}

#[test]
fn keygen_writes_a_private_key_once_and_flags_conflict_clearly() {
    use std::{os::unix::fs::PermissionsExt, process::Command};
    let dir = tempfile::tempdir().unwrap();
    let path = keygen(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    Key::parse(&text).expect("a key file relay reads");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = Command::new(RELAY)
        .args(["keygen", "--outfile"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!again.status.success(), "overwrote an existing key");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let conflict = Command::new(RELAY)
        .args([
            "forward",
            "--listen",
            "127.0.0.1:0",
            "--to",
            "127.0.0.1:1",
            "--raw",
            "--key",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!conflict.status.success());
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("cannot be used with"));
    let neither = Command::new(RELAY)
        .args(["capture", "--to", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(
        !neither.status.success(),
        "capture needs --interface or --listen"
    );
}

#[test]
fn compare_tells_which_path_delivered_first() {
    if !require_root("compare_tells_which_path_delivered_first") {
        return;
    }
    let net = Net::new();
    // In the capture namespace standing in for the validator host: turbine arrives on the
    // mirror link (direct), the relay delivers over lo (relayed).
    let cmp = Proc::relay(
        &net.capture,
        &[
            "compare",
            "--direct-interface",
            &net.mirror_if,
            "--relayed-interface",
            "lo",
            "--port",
            "20000",
            "--metrics-bind",
            &format!("{}:0", net.capture_backbone),
        ],
    );
    let m = cmp.addr("metrics");
    let get = |name: &str, path: &str| metric(&m, &format!("{name}{{path=\"{path}\"}}"));
    // Shreds 0..150 directly, then 0..100 and 150..200 through the relay path.
    net.send(&format!("{}:20000", net.target_v4), 150, 0, 0);
    wait_until(SETTLE, "direct shreds", || {
        get("relay_compare_shreds_total", "direct") >= 150.0
    });
    send_in(&net.capture, "127.0.0.1:20000", 100, 0, 0, &[]);
    send_in(&net.capture, "127.0.0.1:20000", 50, 150, 0, &[]);
    wait_until(SETTLE, "relayed shreds", || {
        get("relay_compare_shreds_total", "relayed") >= 150.0
    });
    assert_eq!(get("relay_compare_shreds_total", "direct"), 150.0);
    assert_eq!(
        get("relay_compare_shreds_total", "relayed"),
        150.0,
        "lo seen once per packet"
    );
    assert_eq!(get("relay_compare_first_total", "direct"), 100.0);
    assert_eq!(get("relay_compare_first_total", "relayed"), 0.0);
    assert_eq!(get("relay_compare_lead_seconds_count", "direct"), 100.0);
}
