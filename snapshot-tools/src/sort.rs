//! An external sort of (key, value) records with bounded memory: records collect in an arena;
//! a full arena is sorted and spilled to a run file; the result is a k-way merge of the runs
//! and the last arena. Keys must be unique (callers append a sequence number where needed).

use std::{
    cmp::Ordering,
    fs::File,
    io::{self, BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
};

const RECORD_HEADER: usize = 6;
const RUN_IO_BUFFER: usize = 1 << 20;

#[derive(Debug)]
pub struct ExternalSorter {
    temp_dir: PathBuf,
    run_limit: usize,
    /// Records as `[key_len u16][value_len u32][key][value]`.
    arena: Vec<u8>,
    /// (first 8 key bytes big-endian, arena offset) per record.
    index: Vec<(u64, usize)>,
    runs: Vec<tempfile::TempPath>,
    records: u64,
}

fn key_prefix(key: &[u8]) -> u64 {
    let mut prefix = [0u8; 8];
    let len = key.len().min(8);
    prefix[..len].copy_from_slice(&key[..len]);
    u64::from_be_bytes(prefix)
}

fn record_at(arena: &[u8], offset: usize) -> (&[u8], &[u8]) {
    let key_len = u16::from_le_bytes([arena[offset], arena[offset + 1]]) as usize;
    let value_len =
        u32::from_le_bytes(arena[offset + 2..offset + 6].try_into().expect("4 bytes")) as usize;
    let key_start = offset + RECORD_HEADER;
    let value_start = key_start + key_len;
    (
        &arena[key_start..value_start],
        &arena[value_start..value_start + value_len],
    )
}

impl ExternalSorter {
    /// `run_limit` bounds the arena in bytes; run files go to `temp_dir`.
    pub fn new(temp_dir: &Path, run_limit: usize) -> Self {
        Self {
            temp_dir: temp_dir.to_path_buf(),
            run_limit: run_limit.max(1 << 16),
            arena: Vec::new(),
            index: Vec::new(),
            runs: Vec::new(),
            records: 0,
        }
    }

    pub fn push(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let key_len =
            u16::try_from(key.len()).map_err(|_| io::Error::other("sort key over 64 KiB"))?;
        let value_len =
            u32::try_from(value.len()).map_err(|_| io::Error::other("sort value over 4 GiB"))?;
        let size = RECORD_HEADER + key.len() + value.len();
        if !self.arena.is_empty() && self.arena.len() + size > self.run_limit {
            self.spill()?;
        }
        if self.arena.capacity() == 0 {
            self.arena.reserve(self.run_limit.min(64 << 20));
        }
        self.index.push((key_prefix(key), self.arena.len()));
        self.arena.extend_from_slice(&key_len.to_le_bytes());
        self.arena.extend_from_slice(&value_len.to_le_bytes());
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.records += 1;
        Ok(())
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Run files written so far.
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    fn sort_index(&mut self) {
        let arena = &self.arena;
        self.index.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| record_at(arena, a.1).0.cmp(record_at(arena, b.1).0))
        });
    }

    fn spill(&mut self) -> io::Result<()> {
        self.sort_index();
        let file = tempfile::Builder::new()
            .prefix("sort-run-")
            .tempfile_in(&self.temp_dir)?;
        let (file, path) = file.into_parts();
        let mut writer = BufWriter::with_capacity(RUN_IO_BUFFER, file);
        for &(_, offset) in &self.index {
            let (key, value) = record_at(&self.arena, offset);
            writer
                .write_all(&self.arena[offset..offset + RECORD_HEADER + key.len() + value.len()])?;
        }
        writer.flush()?;
        self.runs.push(path);
        self.arena.clear();
        self.index.clear();
        Ok(())
    }

    /// A writer for a run whose records the caller supplies already in key order.
    pub fn sorted_run(&mut self) -> io::Result<SortedRunWriter<'_>> {
        let file = tempfile::Builder::new()
            .prefix("sort-run-")
            .tempfile_in(&self.temp_dir)?;
        let (file, path) = file.into_parts();
        Ok(SortedRunWriter {
            sorter: self,
            writer: BufWriter::with_capacity(RUN_IO_BUFFER, file),
            path: Some(path),
        })
    }

    /// Sorts what is left and returns the records in key order.
    pub fn finish(mut self) -> io::Result<SortedRecords> {
        self.sort_index();
        let mut sources = Vec::with_capacity(self.runs.len() + 1);
        for path in &self.runs {
            sources.push(Source::File(RunReader::open(path)?));
        }
        if !self.index.is_empty() {
            sources.push(Source::Memory {
                arena: std::mem::take(&mut self.arena),
                index: std::mem::take(&mut self.index),
                next: 0,
                key: Vec::new(),
            });
        }
        let mut sorted = SortedRecords {
            sources,
            heap: Vec::new(),
            current: None,
            _runs: std::mem::take(&mut self.runs),
        };
        for source in 0..sorted.sources.len() {
            if sorted.sources[source].advance()? {
                sorted.heap_push(source);
            }
        }
        Ok(sorted)
    }
}

/// Writes a pre-sorted run; it joins the sorter's runs on [`SortedRunWriter::finish`].
#[derive(Debug)]
pub struct SortedRunWriter<'a> {
    sorter: &'a mut ExternalSorter,
    writer: BufWriter<File>,
    path: Option<tempfile::TempPath>,
}

impl SortedRunWriter<'_> {
    /// Appends a record; records must come in key order.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let key_len =
            u16::try_from(key.len()).map_err(|_| io::Error::other("sort key over 64 KiB"))?;
        let value_len =
            u32::try_from(value.len()).map_err(|_| io::Error::other("sort value over 4 GiB"))?;
        self.writer.write_all(&key_len.to_le_bytes())?;
        self.writer.write_all(&value_len.to_le_bytes())?;
        self.writer.write_all(key)?;
        self.writer.write_all(value)?;
        self.sorter.records += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.writer.flush()?;
        self.sorter
            .runs
            .push(self.path.take().expect("finished once"));
        Ok(())
    }
}

#[derive(Debug)]
struct RunReader {
    reader: BufReader<File>,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl RunReader {
    fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            reader: BufReader::with_capacity(RUN_IO_BUFFER, File::open(path)?),
            key: Vec::new(),
            value: Vec::new(),
        })
    }

    fn advance(&mut self) -> io::Result<bool> {
        let mut header = [0u8; RECORD_HEADER];
        match self.reader.read_exact(&mut header) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(error) => return Err(error),
        }
        let key_len = u16::from_le_bytes([header[0], header[1]]) as usize;
        let value_len = u32::from_le_bytes(header[2..6].try_into().expect("4 bytes")) as usize;
        self.key.resize(key_len, 0);
        self.reader.read_exact(&mut self.key)?;
        self.value.resize(value_len, 0);
        self.reader.read_exact(&mut self.value)?;
        Ok(true)
    }
}

#[derive(Debug)]
enum Source {
    File(RunReader),
    Memory {
        arena: Vec<u8>,
        index: Vec<(u64, usize)>,
        /// Index of the current record plus one (0 = before the first).
        next: usize,
        /// The current record's key, copied so that heap comparisons stay in cache.
        key: Vec<u8>,
    },
}

impl Source {
    fn advance(&mut self) -> io::Result<bool> {
        match self {
            Source::File(reader) => reader.advance(),
            Source::Memory {
                arena,
                index,
                next,
                key,
            } => {
                *next += 1;
                if *next > index.len() {
                    return Ok(false);
                }
                key.clear();
                key.extend_from_slice(record_at(arena, index[*next - 1].1).0);
                Ok(true)
            }
        }
    }

    fn key(&self) -> &[u8] {
        match self {
            Source::File(reader) => &reader.key,
            Source::Memory { key, .. } => key,
        }
    }

    fn record(&self) -> (&[u8], &[u8]) {
        match self {
            Source::File(reader) => (&reader.key, &reader.value),
            Source::Memory {
                arena, index, next, ..
            } => record_at(arena, index[*next - 1].1),
        }
    }
}

/// Records in key order. Run files are deleted when this is dropped.
#[derive(Debug)]
pub struct SortedRecords {
    sources: Vec<Source>,
    /// Binary min-heap of source indices, ordered by each source's current key.
    heap: Vec<usize>,
    /// The source whose record was returned last; advanced on the next call.
    current: Option<usize>,
    _runs: Vec<tempfile::TempPath>,
}

impl SortedRecords {
    fn less(&self, a: usize, b: usize) -> bool {
        self.sources[a].key().cmp(self.sources[b].key()) == Ordering::Less
    }

    fn heap_push(&mut self, source: usize) {
        self.heap.push(source);
        let mut child = self.heap.len() - 1;
        while child > 0 {
            let parent = (child - 1) / 2;
            if self.less(self.heap[child], self.heap[parent]) {
                self.heap.swap(child, parent);
                child = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self) {
        let mut parent = 0;
        loop {
            let left = 2 * parent + 1;
            if left >= self.heap.len() {
                break;
            }
            let right = left + 1;
            let smaller = if right < self.heap.len() && self.less(self.heap[right], self.heap[left])
            {
                right
            } else {
                left
            };
            if self.less(self.heap[smaller], self.heap[parent]) {
                self.heap.swap(smaller, parent);
                parent = smaller;
            } else {
                break;
            }
        }
    }

    /// The next record in key order.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> io::Result<Option<(&[u8], &[u8])>> {
        if let Some(source) = self.current.take() {
            if self.sources[source].advance()? {
                self.sift_down();
            } else {
                let last = self.heap.pop().expect("current source is on the heap");
                if !self.heap.is_empty() {
                    self.heap[0] = last;
                    self.sift_down();
                }
            }
        }
        let Some(&top) = self.heap.first() else {
            return Ok(None);
        };
        self.current = Some(top);
        Ok(Some(self.sources[top].record()))
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        rand::{Rng, SeedableRng},
    };

    type Records = Vec<(Vec<u8>, Vec<u8>)>;

    fn sorted_all(run_limit: usize, records: &[(Vec<u8>, Vec<u8>)]) -> (Records, usize) {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = ExternalSorter::new(dir.path(), run_limit);
        for (key, value) in records {
            sorter.push(key, value).unwrap();
        }
        let runs = sorter.spilled_runs();
        let mut sorted = sorter.finish().unwrap();
        let mut out = Vec::new();
        while let Some((key, value)) = sorted.next().unwrap() {
            out.push((key.to_vec(), value.to_vec()));
        }
        drop(sorted);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "run files are removed"
        );
        (out, runs)
    }

    #[test]
    fn sorts_in_memory_and_across_spilled_runs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let records: Vec<(Vec<u8>, Vec<u8>)> = (0..20_000u32)
            .map(|index| {
                let mut key = vec![0u8; rng.random_range(1..40)];
                rng.fill(key.as_mut_slice());
                key.extend_from_slice(&index.to_be_bytes());
                (key, vec![index as u8; rng.random_range(0..300)])
            })
            .collect();
        let mut expected = records.clone();
        expected.sort();
        let (in_memory, runs) = sorted_all(64 << 20, &records);
        assert_eq!(runs, 0);
        assert_eq!(in_memory, expected);
        let (spilled, runs) = sorted_all(1 << 16, &records);
        assert!(runs > 10, "{runs}");
        assert_eq!(spilled, expected);
    }

    #[test]
    fn empty_input_yields_nothing() {
        let (out, runs) = sorted_all(1 << 16, &[]);
        assert!(out.is_empty());
        assert_eq!(runs, 0);
    }
}
