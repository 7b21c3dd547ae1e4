//! `replica keygen`: writes a new identity keypair file in the Solana CLI's format (a JSON array
//! of the 64 keypair bytes), for nodes set up without the Solana tools.

use {
    anyhow::Context,
    solana_keypair::Keypair,
    std::{path::PathBuf, process::ExitCode},
};

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the keypair.
    #[arg(long)]
    pub outfile: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.force || !args.outfile.exists(),
        "{} exists (use --force to replace it)",
        args.outfile.display()
    );
    let keypair = Keypair::new();
    let json = serde_json::to_string(&keypair.to_bytes().to_vec())?;
    write_private(&args.outfile, json.as_bytes())
        .with_context(|| format!("writing {}", args.outfile.display()))?;
    println!(
        "{}",
        replication_proto::transport::identity_pubkey(&keypair)
    );
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
