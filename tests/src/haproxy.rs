//! The real HAProxy for the load-balancer tests.

use std::path::Path;

/// The HAProxy binary (`HAPROXY_BIN`, default Debian's), asserted to exist.
pub fn binary() -> String {
    let binary = std::env::var("HAPROXY_BIN").unwrap_or_else(|_| "/usr/sbin/haproxy".into());
    assert!(
        Path::new(&binary).exists(),
        "HAProxy not found at {binary}: `apt-get install -y haproxy` (or set HAPROXY_BIN)"
    );
    binary
}

/// A child process killed and reaped when dropped.
#[derive(Debug)]
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `config` to `<dir>/haproxy.cfg`, checks it with `haproxy -c` (it must be valid), and
/// runs HAProxy on it in the foreground, its log in `<dir>/haproxy.err`.
pub fn start(dir: &Path, config: &str) -> Killed {
    let binary = binary();
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let check = std::process::Command::new(&binary)
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "the example config must be valid: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    Killed(
        std::process::Command::new(&binary)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("haproxy.err")).unwrap())
            .spawn()
            .unwrap(),
    )
}
