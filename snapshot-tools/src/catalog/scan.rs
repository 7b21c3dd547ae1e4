//! Listing archive directories: which files are archives, and which directories may be read.
//!
//! Files: a regular file (never a symlink) whose name is an archive name and that passes
//! [`probe_archive`] (magic, size, first tar header). The verdict is kept per path, size and
//! modification time, so a scan re-reads only files that changed; a refused file is logged
//! once (per version of the file) and reported in [`ScanOutcome::rejected`].
//!
//! Directories: the configured directories are trusted as given (they may themselves be
//! symlinks, resolved once per scan). Below them only `remote/` is read (where Agave puts
//! downloaded archives); if `remote/` is a symlink, it is followed only when its resolved
//! path lies inside a configured directory. A `remote/` pointing elsewhere is never read, so
//! nothing reached only through it is listed or served; it is logged once.

use {
    super::{Catalog, CatalogError, LocalArchive, best_first},
    crate::archive::{
        ArchiveName,
        probe::{ProbeError, probe_archive},
    },
    std::{
        collections::{HashMap, HashSet},
        io,
        path::{Path, PathBuf},
        time::SystemTime,
    },
};

/// A file that is named like an archive but is not taken for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFile {
    pub path: PathBuf,
    pub error: ProbeError,
}

/// A `remote/` symlink that leads outside the configured directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedDir {
    pub path: PathBuf,
    /// Where it leads (`None` if it leads nowhere).
    pub target: Option<PathBuf>,
}

/// What one scan found.
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    pub catalog: Catalog,
    /// Files refused for the first time (a file refused before and unchanged is not repeated).
    pub rejected: Vec<RejectedFile>,
    /// Files named like archives that are not listed (all of them, old verdicts included).
    pub rejected_files: usize,
    /// `remote/` symlinks refused for the first time.
    pub refused_dirs: Vec<RefusedDir>,
}

#[derive(Debug, Clone)]
struct Verdict {
    size: u64,
    modified: SystemTime,
    result: Result<(), ProbeError>,
}

/// Lists archive directories, remembering verdicts between scans.
#[derive(Debug)]
pub struct ArchiveScanner {
    dirs: Vec<PathBuf>,
    verdicts: HashMap<PathBuf, Verdict>,
    refused_dirs: HashSet<PathBuf>,
}

impl ArchiveScanner {
    /// A scanner of `dirs` (each with its `remote/`).
    pub fn new(dirs: &[PathBuf]) -> Self {
        Self {
            dirs: dirs.to_vec(),
            verdicts: HashMap::new(),
            refused_dirs: HashSet::new(),
        }
    }

    /// The configured directories, resolved. An archive is read or served only below one.
    pub fn roots(&self) -> Result<Vec<PathBuf>, CatalogError> {
        self.dirs
            .iter()
            .map(|dir| {
                std::fs::canonicalize(dir).map_err(|error| CatalogError::List {
                    dir: dir.clone(),
                    error,
                })
            })
            .collect()
    }

    /// Lists every configured directory and its `remote/`. A missing `remote/` is fine; a
    /// configured directory that cannot be listed is an error. The first copy of a name wins.
    pub fn scan(&mut self) -> Result<ScanOutcome, CatalogError> {
        let roots = self.roots()?;
        let mut listing = Listing::default();
        for root in &roots {
            self.list_dir(root, &mut listing)?;
            let remote = root.join("remote");
            let metadata = match std::fs::symlink_metadata(&remote) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(CatalogError::List { dir: remote, error }),
            };
            if metadata.is_dir() {
                self.list_dir(&remote, &mut listing)?;
            } else if metadata.file_type().is_symlink() {
                match std::fs::canonicalize(&remote) {
                    Ok(target)
                        if target.is_dir() && roots.iter().any(|root| target.starts_with(root)) =>
                    {
                        self.list_dir(&target, &mut listing)?;
                    }
                    resolved => self.refuse_dir(remote, resolved.ok(), &mut listing),
                }
            }
        }
        // Forget files that are gone, so the verdicts stay as many as the files.
        self.verdicts
            .retain(|path, _| listing.visited.contains(path.as_path()));
        listing
            .archives
            .sort_by(|a, b| best_first(&a.name, &b.name));
        Ok(ScanOutcome {
            catalog: Catalog {
                archives: listing.archives,
                roots,
            },
            rejected: listing.rejected,
            rejected_files: listing.rejected_files,
            refused_dirs: listing.refused_dirs,
        })
    }

    fn refuse_dir(&mut self, path: PathBuf, target: Option<PathBuf>, listing: &mut Listing) {
        if self.refused_dirs.insert(path.clone()) {
            tracing::warn!(
                path = %path.display(),
                target = %target.as_deref().map_or("nothing".into(), |t| t.display().to_string()),
                "not reading `remote/`: it is a symlink that leads outside the archive directories"
            );
            listing.refused_dirs.push(RefusedDir { path, target });
        }
    }

    fn list_dir(&mut self, dir: &Path, listing: &mut Listing) -> Result<(), CatalogError> {
        let list_error = |error| CatalogError::List {
            dir: dir.to_path_buf(),
            error,
        };
        for entry in std::fs::read_dir(dir).map_err(list_error)? {
            let entry = entry.map_err(list_error)?;
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Ok(name) = file_name.parse::<ArchiveName>() else {
                continue;
            };
            // `file_type` does not follow symlinks: only regular files are served.
            if !entry.file_type().is_ok_and(|kind| kind.is_file())
                || listing.names.contains(&file_name)
            {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let path = entry.path();
            let size = metadata.len();
            let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            listing.visited.insert(path.clone());
            let result = match self.verdicts.get(&path) {
                Some(verdict) if verdict.size == size && verdict.modified == modified => {
                    verdict.result.clone()
                }
                _ => {
                    let result = probe_archive(&path, name.format, size);
                    if let Err(error) = &result {
                        // An empty file is an archive still being written: not worth a warning.
                        if size == 0 {
                            tracing::debug!(path = %path.display(), %error, "not listing a file");
                        } else {
                            tracing::warn!(path = %path.display(), %error, "not listing a file named like a snapshot archive");
                        }
                        listing.rejected.push(RejectedFile {
                            path: path.clone(),
                            error: error.clone(),
                        });
                    }
                    self.verdicts.insert(
                        path.clone(),
                        Verdict {
                            size,
                            modified,
                            result: result.clone(),
                        },
                    );
                    result
                }
            };
            if result.is_err() {
                listing.rejected_files += 1;
                continue;
            }
            listing.names.insert(file_name);
            listing.archives.push(LocalArchive {
                name,
                path,
                size,
                modified,
            });
        }
        Ok(())
    }
}

/// One scan's work in progress.
#[derive(Debug, Default)]
struct Listing {
    archives: Vec<LocalArchive>,
    names: HashSet<String>,
    visited: HashSet<PathBuf>,
    rejected: Vec<RejectedFile>,
    rejected_files: usize,
    refused_dirs: Vec<RefusedDir>,
}

/// Whether `path`'s directory, resolved, lies inside one of `roots`: the check before
/// serving a listed archive, in case a directory was swapped for a symlink since the scan.
pub fn resolved_inside(path: &Path, roots: &[PathBuf]) -> io::Result<PathBuf> {
    let parent = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no directory"))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no file name"))?;
    let parent = std::fs::canonicalize(parent)?;
    if roots.iter().any(|root| parent.starts_with(root)) {
        Ok(parent.join(file_name))
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            "outside the archive directories",
        ))
    }
}
