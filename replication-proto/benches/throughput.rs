//! Loopback throughput of the replication transport.
//!
//! (a) raw quinn: one bidirectional stream, bulk bytes, with the replication transport and TLS
//!     configuration; (b) slot streaming through the real `ReplicationServer` and
//!     `ReplicationClient` from an in-memory source of N slots × M token-account-sized records,
//!     fetched one slot after another (as a replica follows) and with several slots in flight.
//!
//! `cargo bench -p replication-proto --bench throughput -- [--slots N] [--records M]
//! [--raw-mib X] [--concurrency C] [--no-compress]`

use {
    bytes::Bytes,
    replication_proto::{
        AccountRecord, Hash, Pubkey, SlotInfo, SlotStatus, SlotStreamEvent,
        source::MemorySlotSource,
        transport::{
            ClientAllowlist, QuicConfig, ReplicationClient, ReplicationClientConfig,
            ReplicationServer, ReplicationServerConfig, identity_pubkey,
            tls::{quinn_client_config, quinn_server_config},
        },
    },
    solana_keypair::Keypair,
    std::{
        sync::Arc,
        time::{Duration, Instant},
    },
    tokio_util::sync::CancellationToken,
};

struct Args {
    slots: u64,
    records: usize,
    raw_mib: usize,
    concurrency: usize,
    no_compress: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        slots: 200,
        records: 2_000,
        raw_mib: 512,
        concurrency: 4,
        no_compress: false,
    };
    let argv: Vec<String> = std::env::args().collect();
    let value = |i: usize| argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
    for (i, arg) in argv.iter().enumerate() {
        match arg.as_str() {
            "--slots" => args.slots = value(i).unwrap_or(args.slots),
            "--records" => args.records = value(i).map_or(args.records, |v| v as usize),
            "--raw-mib" => args.raw_mib = value(i).map_or(args.raw_mib, |v| v as usize),
            "--concurrency" => args.concurrency = value(i).map_or(args.concurrency, |v| v as usize),
            "--no-compress" => args.no_compress = true,
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    args
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "replication-proto loopback throughput ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    runtime.block_on(raw_quinn(args.raw_mib))?;
    runtime.block_on(slot_streaming(&args))?;
    Ok(())
}

/// (a) Bulk bytes over one stream with the replication QUIC configuration.
async fn raw_quinn(mib: usize) -> anyhow::Result<()> {
    let quic = QuicConfig::default();
    let server_key = Keypair::new();
    let server_identity = identity_pubkey(&server_key);
    let server = quinn::Endpoint::server(
        quinn_server_config(&server_key, &quic)?,
        "127.0.0.1:0".parse()?,
    )?;
    let server_addr = server.local_addr()?;
    let sink = tokio::spawn(async move {
        let conn = server.accept().await.expect("incoming").await?;
        let (mut send, mut recv) = conn.accept_bi().await?;
        let mut total = 0usize;
        while let Some(chunk) = recv.read_chunk(usize::MAX, true).await? {
            total += chunk.bytes.len();
        }
        send.write_all(&(total as u64).to_le_bytes()).await?;
        send.finish()?;
        let _ = conn.closed().await;
        anyhow::Ok(total)
    });

    let client = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let config = quinn_client_config(&Keypair::new(), server_identity, &quic)?;
    let conn = client
        .connect_with(config, server_addr, "solana-replica")?
        .await?;
    let chunk = Bytes::from(vec![0xa5u8; 64 * 1024]);
    let total = mib * 1024 * 1024;
    let started = Instant::now();
    let (mut send, mut recv) = conn.open_bi().await?;
    let mut sent = 0;
    while sent < total {
        send.write_chunk(chunk.clone()).await?;
        sent += chunk.len();
    }
    send.finish()?;
    let ack = recv.read_to_end(8).await?;
    let elapsed = started.elapsed();
    let received = u64::from_le_bytes(ack.as_slice().try_into()?);
    anyhow::ensure!(
        received as usize == total,
        "server got {received} of {total} bytes"
    );
    conn.close(0u32.into(), b"done");
    sink.await??;
    println!(
        "(a) raw quinn stream: {} MiB in {:.2?} = {:.0} MB/s",
        mib,
        elapsed,
        total as f64 / elapsed.as_secs_f64() / 1e6
    );
    Ok(())
}

/// A 165-byte SPL token account: mint, owner, amount, (no) delegate, state, (not) native,
/// delegated amount, (no) close authority.
fn token_account(rng: &mut u64, mints: &[[u8; 32]]) -> Vec<u8> {
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let mut data = Vec::with_capacity(165);
    data.extend_from_slice(&mints[next() as usize % mints.len()]);
    for _ in 0..4 {
        data.extend_from_slice(&next().to_le_bytes()); // owner
    }
    data.extend_from_slice(&(next() % 1_000_000_000).to_le_bytes()); // amount
    data.extend_from_slice(&[0; 36]); // delegate: None
    data.push(1); // state: initialized
    data.extend_from_slice(&[0; 12]); // is_native: None
    data.extend_from_slice(&[0; 8]); // delegated amount
    data.extend_from_slice(&[0; 36]); // close authority: None
    debug_assert_eq!(data.len(), 165);
    data
}

/// (b) Slots through the real server and client.
async fn slot_streaming(args: &Args) -> anyhow::Result<()> {
    let source = Arc::new(MemorySlotSource::new());
    let token_program = Pubkey::new_from_array([6; 32]);
    let mints: Vec<[u8; 32]> = (0..64u8).map(|i| [i; 32]).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut banks = Vec::new();
    for slot in 1..=args.slots {
        let blockhash = Hash::new_unique();
        let records = (0..args.records)
            .map(|_| AccountRecord {
                pubkey: Pubkey::new_unique(),
                lamports: 2_039_280,
                owner: token_program,
                executable: false,
                rent_epoch: u64::MAX,
                data: token_account(&mut rng, &mints),
            })
            .collect();
        let info = SlotInfo {
            slot,
            parent: slot - 1,
            blockhash,
            status: SlotStatus::Rooted,
            block_height: Some(slot),
            block_time: None,
            executed_transaction_count: None,
        };
        source.insert_slot(info, records, Some(Hash::new_unique()));
        banks.push((slot, blockhash));
    }
    let record_bytes = args.records * (AccountRecord::ENCODED_OVERHEAD + 165);

    let cancel = CancellationToken::new();
    let server_key = Keypair::new();
    let server_identity = identity_pubkey(&server_key);
    let mut config = ReplicationServerConfig::new(
        server_key,
        "127.0.0.1:0".parse()?,
        ClientAllowlist::AllowAny,
    );
    if args.no_compress {
        config.frame.compress_threshold = usize::MAX;
    }
    println!(
        "(b) zstd compression of large frames: {}",
        if args.no_compress { "off" } else { "on" }
    );
    let server = ReplicationServer::spawn(config, source, cancel.clone())?;

    for concurrency in [1, args.concurrency.max(1)] {
        let client = Arc::new(
            ReplicationClient::connect(
                &Keypair::new(),
                server.local_addr(),
                server_identity,
                ReplicationClientConfig::default(),
            )
            .await?,
        );
        let confirmations = client.slot_confirmation(0, 0, Duration::ZERO).await?;
        anyhow::ensure!(confirmations.slots.len() as u64 == args.slots);
        let rx_before = client.connection().stats().udp_rx.bytes;
        let started = Instant::now();
        let queue = Arc::new(std::sync::Mutex::new(banks.clone().into_iter()));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let client = client.clone();
            let queue = queue.clone();
            workers.push(tokio::spawn(async move {
                let mut records = 0u64;
                loop {
                    let next = queue.lock().expect("queue").next();
                    let Some((slot, blockhash)) = next else { break };
                    let mut stream = client.slot_accounts(slot, blockhash).await?;
                    let mut ended = false;
                    while let Some(event) = stream.next().await? {
                        match event {
                            SlotStreamEvent::Records(chunk) => records += chunk.len() as u64,
                            SlotStreamEvent::End(_) => ended = true,
                            SlotStreamEvent::Header(_) => {}
                        }
                    }
                    anyhow::ensure!(ended, "slot {slot} did not end");
                }
                anyhow::Ok(records)
            }));
        }
        let mut records = 0;
        for worker in workers {
            records += worker.await??;
        }
        let elapsed = started.elapsed();
        let wire = client.connection().stats().udp_rx.bytes - rx_before;
        anyhow::ensure!(records == args.slots * args.records as u64);
        let secs = elapsed.as_secs_f64();
        println!(
            "(b) slot streaming, {} slot(s) in flight: {} slots x {} records ({:.1} MB of records) \
             in {:.2?} = {:.0} records/s, {:.1} MB/s of records, {:.1} MB/s on the wire \
             ({:.2} wire/record bytes)",
            concurrency,
            args.slots,
            args.records,
            (args.slots as usize * record_bytes) as f64 / 1e6,
            elapsed,
            records as f64 / secs,
            (args.slots as usize * record_bytes) as f64 / secs / 1e6,
            wire as f64 / secs / 1e6,
            wire as f64 / (args.slots as usize * record_bytes) as f64,
        );
        client.close();
    }
    cancel.cancel();
    server.join().await;
    Ok(())
}
