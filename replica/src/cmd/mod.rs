//! One module per subcommand: clap arguments and `run(args)` (`sim` and `dev` live in the sim
//! crate).

pub mod keygen;
pub mod run;
pub mod store;
