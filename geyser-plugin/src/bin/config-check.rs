//! Validates a plugin config file the way `on_load` will: `config-check <plugin.json>`.
//! Exits 0 when valid; prints the error and exits 1 otherwise.

use {
    geyser_plugin::PluginConfig, replication_proto::transport::load_identity,
    std::process::ExitCode,
};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: config-check <plugin-config.json>");
        return ExitCode::from(2);
    };
    let config = match PluginConfig::load(&path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = load_identity(&config.identity) {
        eprintln!("error: identity: {error}");
        return ExitCode::FAILURE;
    }
    println!("{path}: ok");
    ExitCode::SUCCESS
}
