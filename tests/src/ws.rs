//! A minimal blocking WebSocket client (RFC 6455 over std TCP) for PubSub tests: text frames
//! in and out, and the raw socket for malformed frames and clients that never read.

use {
    base64::{Engine, prelude::BASE64_STANDARD},
    serde_json::Value,
    std::{
        io::{BufRead, BufReader, Read, Write},
        net::{SocketAddr, TcpStream},
        time::{Duration, Instant},
    },
};

#[derive(Debug)]
pub struct WsClient {
    reader: BufReader<TcpStream>,
    pub stream: TcpStream,
}

impl WsClient {
    /// Connects and completes the opening handshake.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        let mut client = Self {
            reader: BufReader::new(stream.try_clone()?),
            stream,
        };
        let key = BASE64_STANDARD.encode(rand_bytes::<16>());
        write!(
            client.stream,
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )?;
        let mut status = String::new();
        client.reader.read_line(&mut status)?;
        if !status.contains(" 101 ") {
            return Err(std::io::Error::other(format!(
                "handshake refused: {status}"
            )));
        }
        loop {
            let mut line = String::new();
            if client.reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
        }
        Ok(client)
    }

    /// Sends one masked frame with the given opcode.
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        let mask = rand_bytes::<4>();
        frame.extend_from_slice(&mask);
        frame.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, byte)| byte ^ mask[i % 4]),
        );
        self.stream.write_all(&frame)
    }

    pub fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send_frame(0x1, text.as_bytes())
    }

    /// Sends a JSON-RPC call.
    pub fn call(&mut self, id: u64, method: &str, params: Value) -> std::io::Result<()> {
        let request =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_text(&request.to_string())
    }

    /// The next text message (answering pings), or an error when the connection closes or
    /// `timeout` passes.
    pub fn recv(&mut self, timeout: Duration) -> std::io::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            self.reader.get_ref().set_read_timeout(Some(left))?;
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head).map_err(|error| {
                if error.kind() == std::io::ErrorKind::WouldBlock {
                    std::io::ErrorKind::TimedOut.into()
                } else {
                    error
                }
            })?;
            let opcode = head[0] & 0x0f;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut ext = [0u8; 2];
                self.reader.read_exact(&mut ext)?;
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0u8; 8];
                self.reader.read_exact(&mut ext)?;
                len = u64::from_be_bytes(ext);
            }
            let mut payload = vec![0u8; len as usize];
            self.reader.read_exact(&mut payload)?;
            match opcode {
                0x1 => {
                    return String::from_utf8(payload)
                        .map_err(|error| std::io::Error::other(error.to_string()));
                }
                0x8 => return Err(std::io::ErrorKind::ConnectionAborted.into()),
                0x9 => self.send_frame(0xa, &payload)?,
                _ => {}
            }
        }
    }

    /// The next message parsed as JSON.
    pub fn recv_json(&mut self, timeout: Duration) -> std::io::Result<Value> {
        let text = self.recv(timeout)?;
        serde_json::from_str(&text).map_err(|error| std::io::Error::other(error.to_string()))
    }

    /// Subscribes and returns the subscription id.
    pub fn subscribe(&mut self, id: u64, method: &str, params: Value) -> u64 {
        self.call(id, method, params).unwrap();
        loop {
            let answer = self.recv_json(Duration::from_secs(10)).unwrap();
            if answer["id"] == id {
                return answer["result"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{method}: {answer}"));
            }
        }
    }
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let hash = blake3::hash(&seed.to_le_bytes());
    let mut out = [0u8; N];
    out.copy_from_slice(&hash.as_bytes()[..N]);
    out
}
