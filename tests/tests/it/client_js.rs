//! @solana/web3.js 1.x and @solana/kit (tests/clients/js) against a token-archive replica.
//! Needs Node ≥ 20 (`NODE`, default `node`) and `npm ci` run in tests/clients/js.

use {crate::clients, std::path::Path};

#[test]
fn web3_js_and_kit_read_every_method() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/js");
    assert!(
        dir.join("node_modules/@solana/web3.js").is_dir()
            && dir.join("node_modules/@solana/kit").is_dir(),
        "the JavaScript clients are not installed: run `npm ci` in {}",
        dir.display()
    );
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_string());
    clients::run_client(&node, &[dir.join("run.mjs").to_str().unwrap()], &dir);
}
