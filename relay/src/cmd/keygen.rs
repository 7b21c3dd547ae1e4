//! `relay keygen`.

use {
    anyhow::Context,
    clap::Args,
    rand::{TryRngCore, rngs::OsRng},
    relay::tunnel::Key,
    std::{io::Write, path::PathBuf},
};

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the key (created with mode 0600; never overwritten).
    #[arg(long)]
    outfile: PathBuf,
}

pub(crate) fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .context("the operating system's random source failed")?;
    let key = Key::from_bytes(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&args.outfile).with_context(|| {
        format!(
            "failed to create {} (it must not exist)",
            args.outfile.display()
        )
    })?;
    file.write_all(key.to_file_text().as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to write {}", args.outfile.display()))?;
    tracing::info!(path = %args.outfile.display(), "wrote tunnel key");
    Ok(())
}
