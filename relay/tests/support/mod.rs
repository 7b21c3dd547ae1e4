//! Test hosts for the relay: network namespaces and veth pairs made with `ip`, the real `relay`
//! binary, metrics over HTTP, a UDP sink standing in for the validator's TVU port. Everything
//! made here is removed on drop, also when a test fails.

#![allow(dead_code, unreachable_pub)]

use {
    relay::testkit::{ShredSpec, build_shred},
    std::{
        collections::HashMap,
        io::{Read, Write},
        net::{SocketAddr, TcpStream, UdpSocket},
        path::{Path, PathBuf},
        process::{Child, Command, Stdio},
        sync::{
            Arc, Mutex,
            atomic::{AtomicBool, AtomicU32, Ordering},
        },
        time::{Duration, Instant},
    },
};

pub const RELAY: &str = env!("CARGO_BIN_EXE_relay");
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether this process may create namespaces. Tests print why they skip.
pub fn require_root(test: &str) -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(2).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid == "0" {
        return true;
    }
    eprintln!("SKIPPED {test}: needs root (network namespaces, AF_PACKET); CI runs as root");
    false
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two namespaces: `sender` and `capture`, joined by the "mirror" veth pair (what the switch's
/// monitor port is in production), and a "backbone" veth pair from `capture` to the root
/// namespace, where the forward side and the stand-in TVU run.
#[derive(Debug)]
pub struct Net {
    pub sender: String,
    pub capture: String,
    /// The capture namespace's end of the mirror link.
    pub mirror_if: String,
    /// Where the sender sends to: an address nobody owns on the mirror link (a static neighbour
    /// entry puts the frames on the wire), as a mirror port sees other hosts' traffic.
    pub target_v4: String,
    pub target_v6: String,
    /// The capture namespace's backbone address (its metrics bind here).
    pub capture_backbone: String,
    /// The root namespace's backbone address (the forward listens here).
    pub root_backbone: String,
}

impl Net {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let subnet = (pid.wrapping_mul(7).wrapping_add(n * 13)) % 250 + 2;
        let id = format!("{}{n}", pid % 100_000);
        let net = Self {
            sender: format!("relay-{id}-s"),
            capture: format!("relay-{id}-c"),
            mirror_if: format!("rm{id}c"),
            target_v4: format!("198.18.{subnet}.3"),
            target_v6: format!("fd52:{subnet:x}::3"),
            capture_backbone: format!("198.19.{subnet}.1"),
            root_backbone: format!("198.19.{subnet}.2"),
        };
        // The guard exists before anything is created, so a failure half-way still cleans up.
        let sender_if = format!("rm{id}s");
        let backbone_c = format!("rk{id}c");
        let backbone_r = format!("rk{id}r");
        ip(&["netns", "add", &net.sender]);
        ip(&["netns", "add", &net.capture]);
        for ns in [&net.sender, &net.capture] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "link",
            "add",
            &sender_if,
            "netns",
            &net.sender,
            "type",
            "veth",
            "peer",
            "name",
            &net.mirror_if,
            "netns",
            &net.capture,
        ]);
        ip(&[
            "link",
            "add",
            &backbone_c,
            "netns",
            &net.capture,
            "type",
            "veth",
            "peer",
            "name",
            &backbone_r,
        ]);
        ip(&[
            "-n",
            &net.sender,
            "addr",
            "add",
            &format!("198.18.{subnet}.1/24"),
            "dev",
            &sender_if,
        ]);
        ip(&[
            "-n",
            &net.sender,
            "addr",
            "add",
            &format!("fd52:{subnet:x}::1/64"),
            "dev",
            &sender_if,
            "nodad",
        ]);
        ip(&[
            "-n",
            &net.capture,
            "addr",
            "add",
            &format!("198.18.{subnet}.2/24"),
            "dev",
            &net.mirror_if,
        ]);
        ip(&[
            "-n",
            &net.capture,
            "addr",
            "add",
            &format!("{}/24", net.capture_backbone),
            "dev",
            &backbone_c,
        ]);
        ip(&[
            "addr",
            "add",
            &format!("{}/24", net.root_backbone),
            "dev",
            &backbone_r,
        ]);
        ip(&["-n", &net.sender, "link", "set", &sender_if, "up"]);
        ip(&["-n", &net.capture, "link", "set", &net.mirror_if, "up"]);
        ip(&["-n", &net.capture, "link", "set", &backbone_c, "up"]);
        ip(&["link", "set", &backbone_r, "up"]);
        for target in [&net.target_v4, &net.target_v6] {
            ip(&[
                "-n",
                &net.sender,
                "neigh",
                "add",
                target,
                "lladdr",
                "02:00:00:00:00:01",
                "dev",
                &sender_if,
                "nud",
                "permanent",
            ]);
        }
        net
    }

    /// Runs `relay test-send` in the sender namespace and waits for it.
    pub fn send(&self, to: &str, count: u64, start: u64, rate: u64) {
        send_in(&self.sender, to, count, start, rate, &[]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends, and with them their peers.
        for ns in [&self.sender, &self.capture] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `relay test-send` inside `ns` (or here with `""`).
pub fn send_in(ns: &str, to: &str, count: u64, start: u64, rate: u64, extra: &[&str]) {
    let mut command = in_ns(ns, RELAY);
    command.args([
        "test-send",
        "--to",
        to,
        "--count",
        &count.to_string(),
        "--start",
        &start.to_string(),
        "--rate",
        &rate.to_string(),
    ]);
    command.args(extra);
    let output = command.output().expect("run relay test-send");
    assert!(
        output.status.success(),
        "test-send: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn in_ns(ns: &str, program: &str) -> Command {
    if ns.is_empty() {
        Command::new(program)
    } else {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns, program]);
        command
    }
}

/// A child process, stopped with SIGTERM (then SIGKILL) on drop.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
    pub ready: serde_json::Value,
}

impl Proc {
    /// Starts `relay <args>` in `ns` ("" for this namespace) with a ready file and waits for it.
    pub fn relay(ns: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ready_path = dir.path().join("ready.json");
        let log = dir.path().join("stderr.log");
        let mut command = in_ns(ns, RELAY);
        command
            .args(args)
            .arg("--ready-file")
            .arg(&ready_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        let child = command.spawn().expect("spawn relay");
        let mut proc = Self {
            child,
            log,
            _dir: dir,
            ready: serde_json::Value::Null,
        };
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_path)
                && let Ok(value) = serde_json::from_str(&text)
            {
                proc.ready = value;
                return proc;
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("relay {args:?} exited with {status}: {}", proc.log_text());
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "relay {args:?} not ready: {}",
                proc.log_text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Starts any program in `ns`, without a ready file.
    pub fn spawn(ns: &str, program: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("stderr.log");
        let child = in_ns(ns, program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn");
        Self {
            child,
            log,
            _dir: dir,
            ready: serde_json::Value::Null,
        }
    }

    /// An address from the ready file.
    pub fn addr(&self, field: &str) -> String {
        self.ready[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.ready))
            .to_owned()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait()
            && self.terminate(Duration::from_secs(3)).is_none()
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET path` from `addr`: status and body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The metrics at `addr`, `name{labels}` → value.
pub fn metrics(addr: &str) -> HashMap<String, f64> {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// One metric (0 when absent).
pub fn metric(addr: &str, name: &str) -> f64 {
    metrics(addr).get(name).copied().unwrap_or(0.0)
}

/// Dropped packets for `reason`.
pub fn dropped(addr: &str, reason: &str) -> f64 {
    metric(
        addr,
        &format!("relay_dropped_packets_total{{reason=\"{reason}\"}}"),
    )
}

/// Polls `condition` until it holds (panics after `timeout` with `what`).
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The stand-in for the validator's TVU port: a thread receives into `received` from the start,
/// so nothing is lost while a test is busy sending.
#[derive(Debug)]
pub struct Sink {
    addr: String,
    inbox: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Datagrams taken so far by `collect`/`drain`.
    pub received: Vec<Vec<u8>>,
}

impl Sink {
    pub fn bind(addr: &str) -> Self {
        let socket = bound_socket(addr);
        let addr = socket.local_addr().expect("sink address").to_string();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (inbox, stop) = (inbox.clone(), stop.clone());
            std::thread::Builder::new()
                .name("test-sink".into())
                .spawn(move || {
                    let mut buf = [0u8; 2048];
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(len) = socket.recv(&mut buf) {
                            inbox.lock().expect("inbox").push(buf[..len].to_vec());
                        }
                    }
                })
                .expect("spawn sink")
        };
        Self {
            addr,
            inbox,
            stop,
            thread: Some(thread),
            received: Vec::new(),
        }
    }

    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    fn take(&mut self) {
        let mut inbox = self.inbox.lock().expect("inbox");
        self.received.append(&mut inbox);
    }

    /// Waits until `count` datagrams are in (or `timeout` passes).
    pub fn collect(&mut self, count: usize, timeout: Duration) -> &[Vec<u8>] {
        let started = Instant::now();
        self.take();
        while self.received.len() < count && started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(5));
            self.take();
        }
        &self.received
    }

    /// Waits `quiet` and returns how many more datagrams arrived in that time.
    pub fn drain(&mut self, quiet: Duration) -> usize {
        self.take();
        let before = self.received.len();
        std::thread::sleep(quiet);
        self.take();
        self.received.len() - before
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A UDP socket with a large receive buffer and a short read timeout.
pub fn bound_socket(addr: &str) -> UdpSocket {
    let addr: SocketAddr = addr.parse().expect("socket address");
    relay::udp_socket(addr, 16 << 20, Some(Duration::from_millis(20))).expect("bind")
}

/// The stream positions `range` as `test-send` builds them (first slot 1000, version 1).
pub fn expected(range: std::ops::Range<u64>) -> HashMap<Vec<u8>, u64> {
    range
        .map(|n| (build_shred(&ShredSpec::nth(n, 1000, 1)), n))
        .collect()
}

/// Asserts that `received` holds each of `expected` exactly once, byte for byte, and nothing else.
pub fn assert_exactly_once(received: &[Vec<u8>], expected: &HashMap<Vec<u8>, u64>) {
    let mut seen = HashMap::new();
    for payload in received {
        let n = expected
            .get(payload)
            .unwrap_or_else(|| panic!("unexpected payload of {} bytes", payload.len()));
        *seen.entry(*n).or_insert(0u32) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(
        seen.len(),
        expected.len(),
        "missing {} of {}",
        expected.len() - seen.len(),
        expected.len()
    );
}

/// Writes a fresh key file with `relay keygen` into `dir`.
pub fn keygen(dir: &Path) -> PathBuf {
    let path = dir.join("tunnel.key");
    let status = Command::new(RELAY)
        .args(["keygen", "--outfile"])
        .arg(&path)
        .stderr(Stdio::null())
        .status()
        .expect("keygen");
    assert!(status.success());
    path
}

/// A socket address string with the port from `addr` and host `host`.
pub fn with_host(host: &str, addr: &str) -> String {
    let port = addr.parse::<SocketAddr>().expect("socket address").port();
    format!("{host}:{port}")
}

/// Receives `count` datagrams from `socket` (panics after `timeout`).
pub fn recv_n(socket: &UdpSocket, count: usize, timeout: Duration) -> Vec<Vec<u8>> {
    let started = Instant::now();
    let mut out = Vec::with_capacity(count);
    let mut buf = [0u8; 2048];
    while out.len() < count {
        assert!(
            started.elapsed() < timeout,
            "received {} of {count} datagrams",
            out.len()
        );
        if let Ok(len) = socket.recv(&mut buf) {
            out.push(buf[..len].to_vec());
        }
    }
    out
}
