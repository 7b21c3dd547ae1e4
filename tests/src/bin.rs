//! Finds workspace binaries. `CARGO_BIN_EXE_*` only works inside the binary's own package, so
//! tests look next to their own executable (`target/<profile>/deps/it-…` → `target/<profile>/`).

use std::path::PathBuf;

/// The path of a workspace binary built in the same profile as the running test, or
/// `$REPLICA_BIN_DIR/<name>` when set. Panics with the build command when it is missing.
pub fn path(name: &str) -> PathBuf {
    let dir = match std::env::var_os("REPLICA_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("the test executable has a path");
            let deps = exe
                .parent()
                .expect("test executables live in target/<profile>/deps");
            deps.parent()
                .expect("deps lives in target/<profile>")
                .to_path_buf()
        }
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: build it first (`cargo build -p {}` in the same profile as the tests), \
         or set REPLICA_BIN_DIR",
        path.display(),
        package_of(name),
    );
    path
}

fn package_of(binary: &str) -> &str {
    match binary {
        "replica" => "replica",
        "snapshot-tools" => "snapshot-tools",
        other => other,
    }
}
