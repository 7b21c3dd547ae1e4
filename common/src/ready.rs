//! Ready files: a process writes its bound addresses as JSON once it is listening, so tests and
//! supervisors wait on the file instead of sleeping.

use {
    serde::Serialize,
    std::{io, path::Path},
};

/// Writes `value` as JSON to `path` atomically (a temporary file renamed into place).
pub fn write(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, json)?;
    std::fs::rename(&temp, path)
}
