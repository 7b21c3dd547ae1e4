//! The `replica sim` and `replica dev` subcommands: clap arguments and `run(args)`.

pub mod dev;
pub mod sim;
