//! Verifying a downloaded chain before it enters the ledger: the archives are read in full,
//! the head manifest must pass Agave's load checks (`ChainSummary::check_manifest`:
//! capitalization, epoch schedule, ticks, epoch stakes), and the lattice hash of the merged
//! accounts must equal the hash in the head's file name and the manifest's
//! (`ChainSummary::verify`). A corrupt archive fails while being read.

use {
    crate::archive::{ChainOptions, SnapshotChain, read_chain},
    std::path::{Path, PathBuf},
};

/// Reads and verifies `full` (+ `incremental`) on a blocking thread.
pub async fn verify_chain(
    full: &Path,
    incremental: Option<&Path>,
    temp_dir: &Path,
    sort_memory: usize,
) -> Result<(), String> {
    let (full, incremental, temp_dir): (PathBuf, Option<PathBuf>, PathBuf) = (
        full.to_path_buf(),
        incremental.map(Path::to_path_buf),
        temp_dir.to_path_buf(),
    );
    tokio::task::spawn_blocking(move || {
        let chain = SnapshotChain::new(&full, incremental.as_deref()).map_err(|e| e.to_string())?;
        let mut options = ChainOptions::new(&temp_dir);
        options.sort_memory = sort_memory;
        let summary = read_chain(&chain, &options, |_| Ok(())).map_err(|e| e.to_string())?;
        summary.check_manifest().map_err(|e| e.to_string())?;
        summary.verify().map_err(|e| e.to_string())
    })
    .await
    .map_err(|error| format!("the verification thread failed: {error}"))?
}
