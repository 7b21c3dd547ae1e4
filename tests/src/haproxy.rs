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
