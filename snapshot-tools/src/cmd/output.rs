//! Results on stdout. A reader that goes away (`snapshot-tools inspect ... | head`) closes the
//! pipe: the rest of the output is dropped quietly and the command exits with its own code,
//! instead of the panic `println!` raises on `EPIPE`.

use std::{
    fmt,
    io::{self, Write},
};

/// Writes `line` and a newline to stdout. A broken pipe is not an error (later lines go
/// nowhere, as the reader wanted); any other write error is.
pub fn line(line: impl fmt::Display) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    let written = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    match written {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
