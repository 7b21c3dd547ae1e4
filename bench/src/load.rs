//! A closed-loop HTTP/1.1 load generator (one request in flight per keep-alive connection, as
//! `wrk` does), lean enough that the server, not the client, is what is measured.

use {
    hdrhistogram::Histogram,
    std::{
        net::SocketAddr,
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
        },
        time::{Duration, Instant},
    },
    tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    },
};

/// Requests answered and their latencies (µs).
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) requests: u64,
    pub(crate) seconds: f64,
    pub(crate) latency: Histogram<u64>,
}

impl Outcome {
    pub(crate) fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// A JSON-RPC POST with `body`, ready to write.
pub(crate) fn post(addr: SocketAddr, body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// When a load ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Until {
    Elapsed(Duration),
    Sent(u64),
}

/// Sends `requests` (round robin, each connection starting elsewhere) over `connections` until
/// `until`; every answer must be `200` and, when `check` is set, satisfy it.
pub(crate) async fn run(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    until: Until,
    check: Option<fn(&[u8]) -> bool>,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let sent_total = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for connection in 0..connections {
        let requests = requests.clone();
        let sent_total = sent_total.clone();
        let more = move || match until {
            Until::Elapsed(duration) => started.elapsed() < duration,
            Until::Sent(limit) => sent_total.fetch_add(1, Ordering::Relaxed) < limit,
        };
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let mut latency = Histogram::<u64>::new(3)?;
            let mut buffer = Vec::with_capacity(64 << 10);
            let mut next = connection * requests.len() / connections.max(1);
            while more() {
                let request = &requests[next % requests.len()];
                next += 1;
                let sent = Instant::now();
                stream.write_all(request).await?;
                let body = read_response(&mut stream, &mut buffer).await?;
                latency.record(sent.elapsed().as_micros() as u64)?;
                if let Some(check) = check {
                    anyhow::ensure!(
                        check(&buffer[body..]),
                        "unexpected answer: {}",
                        String::from_utf8_lossy(&buffer[body..buffer.len().min(body + 300)])
                    );
                }
            }
            anyhow::Ok(latency)
        }));
    }
    let mut latency = Histogram::<u64>::new(3)?;
    for task in tasks {
        latency.add(task.await??)?;
    }
    Ok(Outcome {
        requests: latency.len(),
        seconds: started.elapsed().as_secs_f64(),
        latency,
    })
}

/// Reads one response into `buffer` (cleared first); returns where its body starts. Only
/// `Content-Length` bodies (what the replica sends for a buffered answer) and chunked ones.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<usize> {
    buffer.clear();
    let header_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end + 4;
        }
        fill(stream, buffer).await?;
    };
    let head = std::str::from_utf8(&buffer[..header_end])?.to_ascii_lowercase();
    anyhow::ensure!(head.starts_with("http/1.1 200"), "answer: {head}");
    if let Some(length) = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
    {
        let length: usize = length.trim().parse()?;
        while buffer.len() < header_end + length {
            fill(stream, buffer).await?;
        }
        return Ok(header_end);
    }
    anyhow::ensure!(
        head.contains("transfer-encoding: chunked"),
        "answer: {head}"
    );
    // Chunked: read until the last chunk; the body is left chunk-framed.
    while !buffer[header_end..].ends_with(b"\r\n0\r\n\r\n") && &buffer[header_end..] != b"0\r\n\r\n"
    {
        fill(stream, buffer).await?;
    }
    Ok(header_end)
}

async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    let start = buffer.len();
    buffer.resize(start + (64 << 10), 0);
    let read = stream.read(&mut buffer[start..]).await?;
    buffer.truncate(start + read);
    anyhow::ensure!(read > 0, "the server closed the connection");
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
