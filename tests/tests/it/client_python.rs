//! solana-py (AsyncClient) and solders (tests/clients/python) against a token-archive replica.
//! Needs Python 3 (`PYTHON`, default `python3`) with
//! `pip install -r tests/clients/python/requirements.txt`.

use {
    crate::clients,
    std::{path::Path, process::Command},
};

#[test]
fn solana_py_and_solders_read_every_method() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let installed = Command::new(&python)
        .args(["-c", "import solana, solders, httpx2"])
        .status()
        .unwrap_or_else(|error| panic!("cannot run {python}: {error}"));
    assert!(
        installed.success(),
        "the Python clients are not installed for {python}: run `pip install -r {}`",
        dir.join("requirements.txt").display()
    );
    clients::run_client(&python, &[dir.join("run.py").to_str().unwrap()], &dir);
}
