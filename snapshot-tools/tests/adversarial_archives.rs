//! Standing adversarial harness of the archive reader: the genuine Agave fixtures and
//! synthetic archives, damaged in their compressed bytes or in their tar stream (headers,
//! storages, the manifest, truncation), never make the reader panic. Each load ends in an
//! error that names the archive, or reads completely; a complete read that passes the lattice
//! hash and Agave's manifest checks holds exactly the original accounts.
//!
//! Case counts are small by default so that `cargo test` stays fast; `PROPTEST_CASES=100000`
//! runs a long session.

use {
    proptest::prelude::*,
    snapshot_tools::{
        archive::{ArchiveFormat, ChainOptions, LtHash, SnapshotChain, read_chain},
        synthetic::{SyntheticAccounts, SyntheticArchive},
    },
    std::{
        io::{Read, Write},
        path::{Path, PathBuf},
        sync::OnceLock,
    },
};

/// Cases per property: `PROPTEST_CASES` if set, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// An archive to damage: its file name, format, compressed bytes, its decompressed tar
/// stream with the entries' layout, and what a correct load yields.
struct Subject {
    name: String,
    format: ArchiveFormat,
    compressed: Vec<u8>,
    tar: Vec<u8>,
    /// (path, header offset, data offset, data length) of every tar entry.
    entries: Vec<(String, usize, usize, usize)>,
    expected: Loaded,
}

/// What a complete read gave.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Loaded {
    lt_hash: LtHash,
    live_accounts: u64,
    lamports: u64,
    /// The lattice hash agrees with the name and the manifest.
    verified: bool,
    /// Agave's manifest checks pass.
    manifest_ok: bool,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/agave-3slot")
}

fn fixture(prefix: &str) -> PathBuf {
    std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(prefix)
        })
        .unwrap_or_else(|| panic!("no fixture {prefix}*"))
}

fn decompress(format: ArchiveFormat, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match format {
        ArchiveFormat::TarZstd => zstd::stream::read::Decoder::new(bytes)
            .unwrap()
            .read_to_end(&mut out),
        _ => lz4_flex::frame::FrameDecoder::new(bytes).read_to_end(&mut out),
    }
    .unwrap();
    out
}

fn compress(format: ArchiveFormat, tar: &[u8]) -> Vec<u8> {
    match format {
        ArchiveFormat::TarZstd => zstd::stream::encode_all(tar, 1).unwrap(),
        _ => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(tar).unwrap();
            encoder.finish().unwrap()
        }
    }
}

/// Reads `paths` as a chain with a small sort memory; `Err` is the error's text.
fn load(paths: &[PathBuf], temp: &Path) -> Result<Loaded, String> {
    let chain = SnapshotChain::from_paths(paths).map_err(|error| error.to_string())?;
    let mut options = ChainOptions::new(temp);
    options.sort_memory = 4 << 20;
    let summary = read_chain(&chain, &options, |_| Ok(())).map_err(|error| error.to_string())?;
    Ok(Loaded {
        lt_hash: summary.lt_hash.clone(),
        live_accounts: summary.live_accounts,
        lamports: summary.lamports,
        verified: summary.verify().is_ok(),
        manifest_ok: summary.check_manifest().is_ok(),
    })
}

fn subject(path: &Path) -> Subject {
    let temp = tempfile::tempdir().unwrap();
    let expected = load(&[path.to_path_buf()], temp.path()).expect("the original reads");
    Subject {
        expected,
        ..layout(path)
    }
}

/// A subject without an expected load (for an incremental, which does not load alone).
fn layout(path: &Path) -> Subject {
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let format = if name.ends_with(".tar.lz4") {
        ArchiveFormat::TarLz4
    } else {
        ArchiveFormat::TarZstd
    };
    let compressed = std::fs::read(path).unwrap();
    let tar = decompress(format, &compressed);
    let mut entries = Vec::new();
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().unwrap().raw(true) {
        let entry = entry.unwrap();
        entries.push((
            String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            entry.raw_header_position() as usize,
            entry.raw_file_position() as usize,
            entry.size() as usize,
        ));
    }
    Subject {
        name,
        format,
        compressed,
        tar,
        entries,
        expected: Loaded {
            lt_hash: LtHash::identity(),
            live_accounts: 0,
            lamports: 0,
            verified: false,
            manifest_ok: false,
        },
    }
}

/// The genuine full archives (zstd at slot 1, lz4 at slot 2) and a synthetic one with mints.
fn subjects() -> &'static [Subject] {
    static SUBJECTS: OnceLock<Vec<Subject>> = OnceLock::new();
    SUBJECTS.get_or_init(|| {
        let synthetic_dir =
            std::env::temp_dir().join(format!("snapshot-tools-adversarial-{}", std::process::id()));
        std::fs::create_dir_all(&synthetic_dir).unwrap();
        let synthetic = SyntheticAccounts::new(5)
            .write_archive_with(
                &synthetic_dir,
                &SyntheticArchive {
                    accounts: 300,
                    slot: 40,
                    format: ArchiveFormat::TarZstd,
                    mints: true,
                },
            )
            .unwrap();
        let subjects = vec![
            subject(&fixture("snapshot-1-")),
            subject(&fixture("snapshot-2-")),
            subject(&synthetic),
        ];
        let _ = std::fs::remove_dir_all(&synthetic_dir);
        subjects
    })
}

/// Where in the tar stream a damage lands.
#[derive(Debug, Clone)]
enum Target {
    /// A tar header (entry picked by index).
    Header(usize),
    /// The manifest's data.
    Manifest,
    /// A storage's data (picked by index).
    Storage(usize),
    /// Anywhere.
    Anywhere,
}

#[derive(Debug, Clone)]
enum Damage {
    /// XOR bytes at (target, offset) with a mask.
    Flip {
        target: Target,
        at: usize,
        mask: u8,
        len: usize,
    },
    /// Overwrite 8 bytes with a u64 (lengths, lamports, sizes).
    Word {
        target: Target,
        at: usize,
        value: u64,
    },
    /// Cut the stream.
    Truncate { at: usize },
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        2 => any::<usize>().prop_map(Target::Header),
        2 => Just(Target::Manifest),
        3 => any::<usize>().prop_map(Target::Storage),
        1 => Just(Target::Anywhere),
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => (target(), any::<usize>(), 1u8.., 1usize..8)
            .prop_map(|(target, at, mask, len)| Damage::Flip { target, at, mask, len }),
        2 => (target(), any::<usize>(), prop_oneof![
                any::<u64>(),
                Just(0u64),
                Just(u64::MAX),
                (0u64..1 << 24),
            ])
            .prop_map(|(target, at, value)| Damage::Word { target, at, value }),
        1 => any::<usize>().prop_map(|at| Damage::Truncate { at }),
    ]
}

/// The byte range of `target` in the subject's tar stream (never empty).
fn range(subject: &Subject, target: &Target) -> std::ops::Range<usize> {
    let storages: Vec<_> = subject
        .entries
        .iter()
        .filter(|(path, ..)| path.starts_with("accounts/"))
        .collect();
    let whole = 0..subject.tar.len();
    let picked = match target {
        Target::Header(index) => {
            let (_, header, ..) = subject.entries[index % subject.entries.len()];
            header..header + 512
        }
        Target::Manifest => subject
            .entries
            .iter()
            .find(|(path, ..)| path.starts_with("snapshots/") && path.matches('/').count() == 2)
            .map_or(whole.clone(), |&(_, _, data, len)| data..data + len),
        Target::Storage(index) if !storages.is_empty() => {
            let &(_, _, data, len) = storages[index % storages.len()];
            data..data + len
        }
        _ => whole.clone(),
    };
    // An earlier damage may have cut the stream.
    let picked = picked.start.min(whole.end)..picked.end.min(whole.end);
    if picked.is_empty() { whole } else { picked }
}

fn apply(subject: &Subject, damage: &Damage) -> Vec<u8> {
    let mut tar = subject.tar.clone();
    if tar.is_empty() {
        return tar;
    }
    match damage {
        Damage::Flip {
            target,
            at,
            mask,
            len,
        } => {
            let range = range(subject, target);
            let start = range.start + at % range.len();
            for byte in &mut tar[start..(start + len).min(range.end)] {
                *byte ^= mask;
            }
        }
        Damage::Word { target, at, value } => {
            let range = range(subject, target);
            let start = range.start + at % range.len();
            for (offset, byte) in value.to_le_bytes().into_iter().enumerate() {
                if let Some(slot) = tar.get_mut(start + offset) {
                    *slot = byte;
                }
            }
        }
        Damage::Truncate { at } => tar.truncate(at % tar.len()),
    }
    tar
}

/// Loads `bytes` under the subject's name and checks the outcome's contract.
fn check(subject: &Subject, bytes: &[u8], damaged: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(&subject.name);
    std::fs::write(&path, bytes).unwrap();
    match load(std::slice::from_ref(&path), dir.path()) {
        Err(message) => {
            prop_assert!(damaged, "the undamaged archive failed: {}", message);
            prop_assert!(
                message.contains(path.to_str().unwrap()),
                "the error names the archive: {}",
                message
            );
        }
        Ok(loaded) => {
            if loaded.verified && loaded.manifest_ok {
                // A verified load holds exactly the original state.
                prop_assert_eq!(&loaded.lt_hash, &subject.expected.lt_hash);
                prop_assert_eq!(loaded.live_accounts, subject.expected.live_accounts);
                prop_assert_eq!(loaded.lamports, subject.expected.lamports);
            }
            if !damaged {
                prop_assert_eq!(&loaded, &subject.expected);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    /// Damage inside the tar stream: headers, the manifest, storages, truncation.
    #[test]
    fn damaged_tar_streams_fail_cleanly_or_load_exactly(
        which in 0usize..3,
        damages in proptest::collection::vec(damage(), 1..3),
    ) {
        let subject = &subjects()[which];
        let mut tar = subject.tar.clone();
        for damage in &damages {
            let current = Subject { tar: tar.clone(), ..shallow(subject) };
            tar = apply(&current, damage);
        }
        let bytes = compress(subject.format, &tar);
        check(subject, &bytes, tar != subject.tar)?;
    }

    /// Damage to the compressed file: byte flips and truncation.
    #[test]
    fn damaged_compressed_files_fail_cleanly_or_load_exactly(
        which in 0usize..3,
        at in any::<usize>(),
        mask in 1u8..,
        cut in any::<bool>(),
    ) {
        let subject = &subjects()[which];
        let mut bytes = subject.compressed.clone();
        let at = at % bytes.len();
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] ^= mask;
        }
        check(subject, &bytes, true)?;
    }
}

/// A copy of the subject's layout, for applying damages one after another.
fn shallow(subject: &Subject) -> Subject {
    Subject {
        name: subject.name.clone(),
        format: subject.format,
        compressed: Vec::new(),
        tar: Vec::new(),
        entries: subject.entries.clone(),
        expected: subject.expected.clone(),
    }
}

#[test]
fn the_undamaged_subjects_load_as_expected() {
    for subject in subjects() {
        let bytes = compress(subject.format, &subject.tar);
        check(subject, &bytes, false).unwrap();
        assert!(subject.expected.verified, "{}", subject.name);
        assert!(subject.entries.len() >= 4, "{}", subject.name);
    }
}

/// A chain whose incremental is damaged: the merged load fails or is exact.
#[test]
fn a_damaged_incremental_fails_the_chain_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let full = fixture("snapshot-1-");
    let incremental = layout(&fixture("incremental-snapshot-1-2-"));
    let expected = load(
        &[full.clone(), fixture("incremental-snapshot-1-2-")],
        dir.path(),
    )
    .unwrap();
    assert!(expected.verified && expected.manifest_ok);
    for (index, &(_, header, data, len)) in incremental.entries.iter().enumerate() {
        for at in [header + 100, header + 124, data + len / 2] {
            if at >= incremental.tar.len() {
                continue;
            }
            let mut tar = incremental.tar.clone();
            tar[at] ^= 0x41;
            let path = dir.path().join(&incremental.name);
            std::fs::write(&path, compress(incremental.format, &tar)).unwrap();
            match load(&[full.clone(), path.clone()], dir.path()) {
                Err(message) => assert!(message.contains(path.to_str().unwrap()), "{message}"),
                Ok(loaded) if loaded.verified && loaded.manifest_ok => {
                    assert_eq!(loaded, expected, "entry {index}, byte {at}")
                }
                Ok(_) => {}
            }
        }
    }
}
