use {clap::Parser, snapshot_tools::cmd::Cli, std::process::ExitCode};

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::tracing::init(cli.log_json);
    cli.run()
}
