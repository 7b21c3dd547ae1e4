//! Scan routing: the same answers with every index configuration (index scans, program-id
//! scans, full scans), Agave's -32010 for excluded keys, the result limit (-32012), and large
//! results streamed in sorted order.
//!
//! Checked against Agave 4.2.2's `rpc/src/rpc.rs` (`get_filtered_program_accounts`,
//! `get_filtered_spl_token_accounts_by_*`, the -32010/-32012 custom errors).

use {
    crate::token_replica,
    serde_json::{Value, json},
    solana_program_pack::Pack,
    tests::{
        fixtures::{self, NewAccount, TOKEN_ACCOUNT_LAMPORTS, TOKEN_PROGRAM},
        replica::Replica,
    },
};

fn queries(f: &fixtures::TokenFixture) -> Vec<(&'static str, Value)> {
    let token = TOKEN_PROGRAM.to_string();
    let token_2022 = fixtures::TOKEN_2022_PROGRAM.to_string();
    let base64 = json!({"encoding": "base64"});
    vec![
        ("getProgramAccounts", json!([token, base64])),
        (
            "getProgramAccounts",
            json!([token, {"encoding": "base64", "filters": [{"dataSize": 165}, {"memcmp": {"offset": 32, "bytes": f.owner_1.to_string()}}]}]),
        ),
        (
            "getProgramAccounts",
            json!([token, {"encoding": "jsonParsed", "filters": [{"dataSize": 165}, {"memcmp": {"offset": 0, "bytes": f.mint_a.to_string()}}]}]),
        ),
        (
            "getProgramAccounts",
            json!([token, {"encoding": "base64", "filters": [{"memcmp": {"offset": 32, "bytes": f.owner_1.to_string()}}]}]),
        ),
        (
            "getProgramAccounts",
            json!([token_2022, {"encoding": "jsonParsed", "withContext": true}]),
        ),
        ("getProgramAccounts", json!([f.program.to_string()])),
        (
            "getTokenAccountsByOwner",
            json!([f.owner_1.to_string(), {"programId": token}, {"encoding": "jsonParsed"}]),
        ),
        (
            "getTokenAccountsByOwner",
            json!([f.owner_1.to_string(), {"mint": f.mint_b.to_string()}, base64]),
        ),
        (
            "getTokenAccountsByDelegate",
            json!([f.delegate.to_string(), {"programId": token}, base64]),
        ),
        (
            "getTokenAccountsByDelegate",
            json!([f.delegate.to_string(), {"mint": f.mint_b.to_string()}, {"encoding": "jsonParsed"}]),
        ),
        ("getTokenLargestAccounts", json!([f.mint_a.to_string()])),
        ("getSupply", json!(null)),
    ]
}

#[test]
fn every_index_configuration_gives_the_same_answers() {
    let (indexed, fixture, _) = token_replica(&[]);
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[accounts_index]\nindexes = []\n").unwrap();
    let config = config.path().to_str().unwrap().to_string();
    let (no_index, _, _) = token_replica(&["--config", &config]);
    let (program_index, _, _) = token_replica(&["--account-index", "program-id"]);
    let (token_indexes, _, _) = token_replica(&[
        "--account-index",
        "spl-token-owner",
        "--account-index",
        "spl-token-mint",
    ]);
    for (method, params) in queries(&fixture) {
        let expected = indexed.client().call(method, params.clone());
        assert!(
            expected.get("result").is_some(),
            "{method} {params}: {expected}"
        );
        for (name, replica) in [
            ("no index", &no_index),
            ("program-id", &program_index),
            ("token indexes", &token_indexes),
        ] {
            assert_eq!(
                replica.client().call(method, params.clone()),
                expected,
                "{name}: {method} {params}"
            );
        }
    }
}

#[test]
fn excluded_keys_are_32010() {
    let token = TOKEN_PROGRAM.to_string();
    let (replica, fixture, _) = token_replica(&[
        "--account-index",
        "program-id",
        "--account-index-exclude-key",
        &token,
    ]);
    let rpc = replica.client();
    let excluded = json!({"code": -32010, "message": format!("{token} excluded from account secondary indexes; this RPC method unavailable for key")});
    assert_eq!(
        rpc.error("getProgramAccounts", json!([token, {"encoding": "base64"}])),
        excluded
    );
    // Without the owner index the by-owner path falls back to the program path.
    assert_eq!(
        rpc.error(
            "getTokenAccountsByOwner",
            json!([fixture.owner_1.to_string(), {"programId": token}, {"encoding": "base64"}])
        ),
        excluded
    );
    // Other programs still scan through the index.
    rpc.result("getProgramAccounts", json!([fixture.program.to_string()]));
    // With the owner index, the owner path answers.
    let (replica, fixture, _) = token_replica(&[
        "--account-index",
        "program-id",
        "--account-index",
        "spl-token-owner",
        "--account-index-exclude-key",
        &token,
    ]);
    let found = replica.client().result(
        "getTokenAccountsByOwner",
        json!([fixture.owner_1.to_string(), {"programId": token}, {"encoding": "base64"}]),
    );
    assert_eq!(found["value"].as_array().unwrap().len(), 3);
}

/// 12 000 token accounts of one owner: about 5.6 MB of base64 output, past the 4 MiB buffer.
fn many_accounts_replica(
    extra: &[&str],
) -> (Replica, solana_pubkey::Pubkey, Vec<solana_pubkey::Pubkey>) {
    let fixture = fixtures::TokenFixture::default();
    let owner = fixtures::key("many-owner");
    let mut accounts = fixture.accounts();
    let mut keys = Vec::new();
    for index in 0..12_000u64 {
        let pubkey = fixtures::key(&format!("many-{index}"));
        keys.push(pubkey);
        let mut data = vec![0u8; spl_token_2022_interface::state::Account::LEN];
        data[..32].copy_from_slice(fixture.mint_a.as_ref());
        data[32..64].copy_from_slice(owner.as_ref());
        data[64..72].copy_from_slice(&index.to_le_bytes());
        data[108] = 1;
        accounts.push(NewAccount {
            pubkey,
            lamports: TOKEN_ACCOUNT_LAMPORTS,
            owner: TOKEN_PROGRAM,
            data,
        });
    }
    keys.sort();
    let dir = tempfile::tempdir().unwrap();
    let archive = fixtures::write_archive_with(dir.path(), &accounts).unwrap();
    let replica = Replica::start(&[archive], extra).unwrap();
    (replica, owner, keys)
}

#[test]
fn large_results_stream_sorted_and_the_limit_aborts() {
    let (replica, owner, keys) = many_accounts_replica(&[]);
    let rpc = replica.client();
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "getTokenAccountsByOwner",
        "params": [owner.to_string(), {"programId": TOKEN_PROGRAM.to_string()}, {"encoding": "base64"}]});
    let answer = rpc.post(&request.to_string());
    assert_eq!(answer.status, 200);
    // Streamed: no Content-Length, the body still one valid response.
    assert!(
        answer.header("content-length").is_none(),
        "{:?}",
        answer.headers
    );
    assert!(answer.body.len() > 4 << 20);
    let value = &answer.json()["result"]["value"];
    let listed: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["pubkey"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = keys.iter().map(ToString::to_string).collect();
    assert_eq!(listed, expected);
    // In a batch, next to a small call.
    let batch = format!("[{request},{{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"getSlot\"}}]");
    let answer = rpc.post(&batch).json();
    assert_eq!(
        answer[0]["result"]["value"].as_array().unwrap().len(),
        12_000
    );
    assert_eq!(answer[1]["id"], json!(2));
    // jsonParsed lists stream too.
    let parsed = rpc.result(
        "getProgramAccounts",
        json!([TOKEN_PROGRAM.to_string(), {"encoding": "jsonParsed", "filters": [{"dataSize": 165}, {"memcmp": {"offset": 32, "bytes": owner.to_string()}}]}]),
    );
    assert_eq!(parsed.as_array().unwrap().len(), 12_000);
    assert_eq!(
        parsed[0]["account"]["data"]["parsed"]["info"]["owner"],
        json!(owner.to_string())
    );

    // 12 000 × (165 + 96) bytes is over 1 MiB: Agave's -32012.
    let (limited, owner, _) =
        many_accounts_replica(&["--accounts-index-scan-results-limit-mb", "1"]);
    let rpc = limited.client();
    assert_eq!(
        rpc.error("getTokenAccountsByOwner", json!([owner.to_string(), {"programId": TOKEN_PROGRAM.to_string()}, {"encoding": "base64"}])),
        json!({"code": -32012, "message": "scan aborted: The accumulated scan results exceeded the limit"})
    );
    // getTokenLargestAccounts keeps only 20 entries and is not limited.
    let mint = fixtures::TokenFixture::default().mint_a;
    let largest = rpc.result("getTokenLargestAccounts", json!([mint.to_string()]));
    assert_eq!(largest["value"].as_array().unwrap().len(), 20);
    assert_eq!(largest["value"][0]["amount"], json!("11999"));
    // Small scans are unaffected.
    rpc.result(
        "getProgramAccounts",
        json!([fixtures::TokenFixture::default().program.to_string()]),
    );
}
