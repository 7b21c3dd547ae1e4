//! One module per subcommand: clap arguments and `run(args)`.

pub mod dev;
pub mod keygen;
pub mod run;
pub mod sim;
pub mod store;
