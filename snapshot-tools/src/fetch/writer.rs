//! Writing a download to disk off the async runtime.
//!
//! Received chunks (hyper's `Bytes`, not copied) go over a bounded channel to a named writer
//! thread, which writes whatever has queued up with one vectored write, so the network side
//! never waits for the disk unless it falls `CHANNEL_CHUNKS` chunks (hyper reads at most
//! ~400 KiB at a time) behind. Every `SYNC_EVERY` bytes the writer asks a second thread to
//! `fdatasync` a clone of the file: writeback then runs during the download instead of all
//! at the final fsync, which the rename into the ledger needs before it.

use {
    bytes::Bytes,
    std::{
        fs::File,
        io::{self, IoSlice, Seek, SeekFrom, Write},
        path::{Path, PathBuf},
        sync::{Arc, Mutex, mpsc as sync_mpsc},
    },
    tokio::sync::{mpsc, oneshot},
};

/// Chunks in flight between the network and the disk.
const CHANNEL_CHUNKS: usize = 128;
/// Most bytes gathered into one vectored write.
const GATHER: usize = 8 << 20;
const SYNC_EVERY: u64 = 32 << 20;

enum Op {
    Write(Bytes),
    Truncate,
    Finish(oneshot::Sender<io::Result<()>>),
}

/// A file being written by the writer thread.
#[derive(Debug)]
pub struct FileWriter {
    path: PathBuf,
    sender: mpsc::Sender<Op>,
    /// The writer thread's error, once it stopped on one.
    failure: Arc<Mutex<Option<io::Error>>>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Write(_) => "Write",
            Op::Truncate => "Truncate",
            Op::Finish(_) => "Finish",
        })
    }
}

fn run_writer(
    mut file: File,
    mut receiver: mpsc::Receiver<Op>,
    failure: Arc<Mutex<Option<io::Error>>>,
) {
    let (sync_request, sync_requests) = sync_mpsc::sync_channel::<()>(1);
    if let Ok(clone) = file.try_clone() {
        let _ = std::thread::Builder::new()
            .name("fetch-sync".into())
            .spawn(move || {
                // Errors surface in the final fsync.
                while sync_requests.recv().is_ok() {
                    let _ = clone.sync_data();
                }
            });
    }
    let mut unsynced = 0u64;
    let mut pending: Option<Op> = None;
    let mut gathered: Vec<Bytes> = Vec::new();
    loop {
        let Some(op) = pending.take().or_else(|| receiver.blocking_recv()) else {
            return;
        };
        let result = match op {
            Op::Write(bytes) => {
                // Gather what else is queued, up to GATHER bytes, for one vectored write.
                let mut len = bytes.len();
                gathered.push(bytes);
                while len < GATHER {
                    match receiver.try_recv() {
                        Ok(Op::Write(more)) => {
                            len += more.len();
                            gathered.push(more);
                        }
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let result = write_all_vectored(&mut file, &gathered);
                gathered.clear();
                unsynced += len as u64;
                if unsynced >= SYNC_EVERY {
                    let _ = sync_request.try_send(());
                    unsynced = 0;
                }
                result
            }
            Op::Truncate => file
                .set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)).map(drop)),
            Op::Finish(reply) => {
                let _ = reply.send(file.sync_all());
                return;
            }
        };
        if let Err(error) = result {
            *failure.lock().expect("writer failure lock") = Some(error);
            return;
        }
    }
}

fn write_all_vectored(file: &mut File, chunks: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|chunk| IoSlice::new(chunk)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

impl FileWriter {
    /// Creates (or truncates) `path` and starts its writer thread.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
        let failure = Arc::new(Mutex::new(None));
        let thread_failure = failure.clone();
        std::thread::Builder::new()
            .name("fetch-write".into())
            .spawn(move || run_writer(file, receiver, thread_failure))?;
        Ok(Self {
            path: path.to_path_buf(),
            sender,
            failure,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn stopped(&self) -> io::Error {
        self.failure
            .lock()
            .expect("writer failure lock")
            .take()
            .unwrap_or_else(|| io::Error::other("the writer thread stopped"))
    }

    async fn send(&self, op: Op) -> io::Result<()> {
        self.sender.send(op).await.map_err(|_| self.stopped())
    }

    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.send(Op::Write(chunk)).await
    }

    /// Empties the file (a source that ignored a Range sends everything again).
    pub async fn truncate(&mut self) -> io::Result<()> {
        self.send(Op::Truncate).await
    }

    /// Waits for every write and fsyncs the file.
    pub async fn finish(self) -> io::Result<()> {
        let (reply, done) = oneshot::channel();
        self.send(Op::Finish(reply)).await?;
        done.await.map_err(|_| self.stopped())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_truncates_and_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        let mut writer = FileWriter::create(&path).unwrap();
        writer.write(vec![1u8; 3 << 20].into()).await.unwrap();
        writer.truncate().await.unwrap();
        writer.write(Bytes::from_static(b"hello")).await.unwrap();
        writer.write(Bytes::from_static(b" world")).await.unwrap();
        writer.finish().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
    }
}
