//! Account storage files ("AppendVec"): a sequence of 8-byte-aligned entries, each a 136-byte
//! header followed by the account data. The walker streams a storage from any reader with a
//! bounded buffer and checks the layout as Agave's `sanitize_layout_and_length` does.

use {
    solana_pubkey::Pubkey,
    std::io::{self, Read},
};

/// Bytes before an entry's data: StoredMeta (48) + AccountMeta (56) + obsolete hash (32).
pub const STORE_META_OVERHEAD: usize = 136;
/// Agave's `MAX_PERMITTED_DATA_LENGTH`.
pub const MAX_PERMITTED_DATA_LENGTH: u64 = 10 * 1024 * 1024;

const BUFFER_SIZE: usize = 1 << 20;

pub const fn align_up_8(value: u64) -> u64 {
    value.next_multiple_of(8)
}

/// The stored size of an entry with `data_len` bytes of data (including alignment padding).
pub const fn stored_size(data_len: u64) -> u64 {
    align_up_8(STORE_META_OVERHEAD as u64 + data_len)
}

/// One account entry, borrowing its data from the walker's buffer.
#[derive(Debug, Clone, Copy)]
pub struct StoredAccount<'a> {
    pub write_version: u64,
    pub pubkey: Pubkey,
    pub lamports: u64,
    pub rent_epoch: u64,
    pub owner: Pubkey,
    pub executable: bool,
    pub data: &'a [u8],
    /// Offset of the entry within the storage.
    pub offset: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("offset {offset}: data_len {data_len} exceeds the 10 MiB limit")]
    DataTooLong { offset: u64, data_len: u64 },
    #[error(
        "offset {offset}: entry with data_len {data_len} runs past the valid length {valid_len}"
    )]
    PastEnd {
        offset: u64,
        data_len: u64,
        valid_len: u64,
    },
    #[error("offset {offset}: executable byte is {value}, not 0 or 1")]
    Executable { offset: u64, value: u8 },
    #[error(
        "offset {offset}: {remaining} trailing bytes do not form an entry (valid length {valid_len})"
    )]
    TrailingBytes {
        offset: u64,
        remaining: u64,
        valid_len: u64,
    },
    #[error("offset {offset}: {error}")]
    Io { offset: u64, error: io::Error },
}

impl StorageError {
    pub fn offset(&self) -> u64 {
        match self {
            StorageError::DataTooLong { offset, .. }
            | StorageError::PastEnd { offset, .. }
            | StorageError::Executable { offset, .. }
            | StorageError::TrailingBytes { offset, .. }
            | StorageError::Io { offset, .. } => *offset,
        }
    }
}

/// Streams the entries of one storage. Reads at most `valid_len` bytes from `reader`.
#[derive(Debug)]
pub struct StorageWalker<R> {
    reader: R,
    valid_len: u64,
    /// Storage offset of `buffer[start]`.
    offset: u64,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes of the storage not yet read into the buffer.
    unread: u64,
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn read_pubkey(bytes: &[u8], at: usize) -> Pubkey {
    Pubkey::new_from_array(bytes[at..at + 32].try_into().expect("32 bytes"))
}

impl<R: Read> StorageWalker<R> {
    pub fn new(reader: R, valid_len: u64) -> Self {
        Self {
            reader,
            valid_len,
            offset: 0,
            buffer: vec![0; BUFFER_SIZE.min(valid_len as usize).max(STORE_META_OVERHEAD)],
            start: 0,
            end: 0,
            unread: valid_len,
        }
    }

    /// Makes at least `needed` bytes available from `start`; the caller has checked that the
    /// storage holds them.
    fn fill(&mut self, needed: usize) -> Result<(), StorageError> {
        if self.end - self.start >= needed {
            return Ok(());
        }
        if self.buffer.len() - self.start < needed {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buffer.len() < needed {
                self.buffer.resize(needed.next_power_of_two(), 0);
            }
        }
        while self.end - self.start < needed {
            let room = (self.buffer.len() - self.end).min(self.unread as usize);
            let read = self
                .reader
                .read(&mut self.buffer[self.end..self.end + room])
                .map_err(|error| StorageError::Io {
                    offset: self.offset + (self.end - self.start) as u64,
                    error,
                })?;
            if read == 0 {
                return Err(StorageError::Io {
                    offset: self.offset + (self.end - self.start) as u64,
                    error: io::Error::new(io::ErrorKind::UnexpectedEof, "storage ends early"),
                });
            }
            self.end += read;
            self.unread -= read as u64;
        }
        Ok(())
    }

    fn consume(&mut self, bytes: u64) -> Result<(), StorageError> {
        let buffered = (self.end - self.start) as u64;
        if bytes <= buffered {
            self.start += bytes as usize;
        } else {
            self.fill(bytes as usize)?;
            self.start += bytes as usize;
        }
        self.offset += bytes;
        Ok(())
    }

    /// The next entry, or `None` once the walk has ended exactly at the aligned valid length.
    pub fn next_account(&mut self) -> Result<Option<StoredAccount<'_>>, StorageError> {
        let offset = self.offset;
        let remaining = self.valid_len.saturating_sub(offset);
        if remaining == 0 {
            return Ok(None);
        }
        if remaining < STORE_META_OVERHEAD as u64 {
            return Err(StorageError::TrailingBytes {
                offset,
                remaining,
                valid_len: self.valid_len,
            });
        }
        self.fill(STORE_META_OVERHEAD)?;
        let header = &self.buffer[self.start..self.start + STORE_META_OVERHEAD];
        let data_len = read_u64(header, 0x08);
        if data_len > MAX_PERMITTED_DATA_LENGTH {
            return Err(StorageError::DataTooLong { offset, data_len });
        }
        let entry_end = STORE_META_OVERHEAD as u64 + data_len;
        if entry_end > remaining {
            return Err(StorageError::PastEnd {
                offset,
                data_len,
                valid_len: self.valid_len,
            });
        }
        let executable = header[0x60];
        if executable > 1 {
            return Err(StorageError::Executable {
                offset,
                value: executable,
            });
        }
        // The last entry of a storage is not padded, so padding counts only where it exists.
        let advance = align_up_8(entry_end).min(remaining);
        self.fill(advance as usize)?;
        self.offset += advance;
        let entry = &self.buffer[self.start..self.start + advance as usize];
        self.start += advance as usize;
        Ok(Some(StoredAccount {
            write_version: read_u64(entry, 0x00),
            pubkey: read_pubkey(entry, 0x10),
            lamports: read_u64(entry, 0x30),
            rent_epoch: read_u64(entry, 0x38),
            owner: read_pubkey(entry, 0x40),
            executable: executable == 1,
            data: &entry[STORE_META_OVERHEAD..entry_end as usize],
            offset,
        }))
    }

    /// Skips whatever is left of the storage without checking it (used after an error).
    pub fn skip_rest(&mut self) -> Result<(), StorageError> {
        let rest = self.valid_len - self.offset;
        self.consume(rest)
    }

    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// Appends one entry in the storage layout to `out` (padding to 8 bytes first if needed).
#[allow(clippy::too_many_arguments)]
pub fn write_entry(
    out: &mut Vec<u8>,
    write_version: u64,
    pubkey: &Pubkey,
    lamports: u64,
    rent_epoch: u64,
    owner: &Pubkey,
    executable: bool,
    data: &[u8],
) {
    out.resize(align_up_8(out.len() as u64) as usize, 0);
    out.extend_from_slice(&write_version.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(pubkey.as_ref());
    out.extend_from_slice(&lamports.to_le_bytes());
    out.extend_from_slice(&rent_epoch.to_le_bytes());
    out.extend_from_slice(owner.as_ref());
    out.push(u8::from(executable));
    out.extend_from_slice(&[0; 7]);
    out.extend_from_slice(&[0; 32]);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_storage(data_lens: &[usize]) -> (Vec<u8>, Vec<Pubkey>) {
        let mut bytes = Vec::new();
        let mut keys = Vec::new();
        for (index, &len) in data_lens.iter().enumerate() {
            let pubkey = Pubkey::new_unique();
            keys.push(pubkey);
            write_entry(
                &mut bytes,
                index as u64,
                &pubkey,
                1_000 + index as u64,
                u64::MAX,
                &Pubkey::default(),
                index % 2 == 1,
                &vec![index as u8; len],
            );
        }
        (bytes, keys)
    }

    fn walk(bytes: &[u8], valid_len: u64) -> Result<Vec<(Pubkey, u64, usize)>, StorageError> {
        let mut walker = StorageWalker::new(bytes, valid_len);
        let mut seen = Vec::new();
        while let Some(account) = walker.next_account()? {
            seen.push((account.pubkey, account.lamports, account.data.len()));
        }
        Ok(seen)
    }

    #[test]
    fn walks_unpadded_last_entry_and_large_data() {
        let lens = [0, 3, 165, 2 * BUFFER_SIZE, 7];
        let (bytes, keys) = sample_storage(&lens);
        assert_eq!(bytes.len() % 8, (136 + 7) % 8);
        let seen = walk(&bytes, bytes.len() as u64).unwrap();
        assert_eq!(seen.len(), lens.len());
        for (index, (pubkey, lamports, len)) in seen.into_iter().enumerate() {
            assert_eq!(pubkey, keys[index]);
            assert_eq!(lamports, 1_000 + index as u64);
            assert_eq!(len, lens[index]);
        }
    }

    #[test]
    fn rejects_bad_layouts_with_offsets() {
        let (mut bytes, _) = sample_storage(&[3, 5]);
        let valid = bytes.len() as u64;
        // Trailing garbage shorter than a header.
        let mut trailing = bytes.clone();
        trailing.resize(align_up_8(valid) as usize + 16, 0xAA);
        let error = walk(&trailing, trailing.len() as u64).unwrap_err();
        assert!(
            matches!(error, StorageError::TrailingBytes { offset: 288, .. }),
            "{error}"
        );
        // A length past the end of the storage.
        let mut past = bytes.clone();
        past[8..16].copy_from_slice(&10_000u64.to_le_bytes());
        assert!(matches!(
            walk(&past, valid).unwrap_err(),
            StorageError::PastEnd { offset: 0, .. }
        ));
        // A length over 10 MiB.
        let second = stored_size(3) as usize;
        bytes[second + 8..second + 16]
            .copy_from_slice(&(MAX_PERMITTED_DATA_LENGTH + 1).to_le_bytes());
        let error = walk(&bytes, valid).unwrap_err();
        assert!(
            matches!(error, StorageError::DataTooLong { offset: 144, .. }),
            "{error}"
        );
        // An executable byte that is not a bool.
        let (mut exec, _) = sample_storage(&[1]);
        exec[0x60] = 2;
        assert!(matches!(
            walk(&exec, exec.len() as u64).unwrap_err(),
            StorageError::Executable { value: 2, .. }
        ));
        // A reader shorter than the claimed length.
        let (short, _) = sample_storage(&[100]);
        let error = walk(&short[..120], short.len() as u64).unwrap_err();
        assert!(matches!(error, StorageError::Io { .. }), "{error}");
    }
}
