//! Flags: `--legacy-rpc`, `--rpc-fallback`, `--rpc-max-multiple-accounts`,
//! `--rpc-max-request-body-size`, `--genesis-hash`.
//!
//! Checked against Agave 4.2.2's `rpc/src/rpc.rs` (limits, getGenesisHash) and, for the removed
//! methods, their last shapes in Agave 1.18.

use {
    crate::{agave_replica, token_replica},
    serde_json::{Value, json},
    std::{
        io::{BufRead, BufReader, Read, Write},
        net::TcpListener,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
    },
    tests::fixtures::{self, ArchiveState},
};

#[test]
fn legacy_methods_with_their_last_shapes() {
    let state = ArchiveState::read(&fixtures::agave_full_and_incremental()).unwrap();
    let manifest = &state.manifest;
    let replica = agave_replica(&["--legacy-rpc"]);
    let rpc = replica.client();
    let blockhash = manifest.blockhash_queue.last_hash.unwrap().to_string();
    let lamports = manifest.lamports_per_signature;
    let recent = rpc.result("getRecentBlockhash", json!(null));
    assert_eq!(
        recent["value"],
        json!({"blockhash": blockhash, "feeCalculator": {"lamportsPerSignature": lamports}})
    );
    assert_eq!(recent["context"]["slot"], json!(manifest.slot));
    let fees = rpc.result("getFees", json!([{"commitment": "confirmed"}]));
    assert_eq!(
        fees["value"],
        json!({"blockhash": blockhash, "feeCalculator": {"lamportsPerSignature": lamports},
            "lastValidSlot": manifest.slot + 300, "lastValidBlockHeight": manifest.block_height + 150})
    );
    assert_eq!(
        rpc.result("getFeeCalculatorForBlockhash", json!([blockhash]))["value"],
        json!({"feeCalculator": {"lamportsPerSignature": lamports}})
    );
    assert_eq!(
        rpc.result(
            "getFeeCalculatorForBlockhash",
            json!([fixtures::key("x").to_string()])
        )["value"],
        json!(null)
    );
    assert_eq!(
        rpc.error("getFeeCalculatorForBlockhash", json!(["bad"])),
        json!({"code": -32602, "message": "WrongSize"})
    );
    let governor = &manifest.fee_rate_governor;
    assert_eq!(
        rpc.result("getFeeRateGovernor", json!(null))["value"],
        json!({"feeRateGovernor": {"burnPercent": governor.burn_percent,
            "maxLamportsPerSignature": governor.max_lamports_per_signature,
            "minLamportsPerSignature": governor.min_lamports_per_signature,
            "targetLamportsPerSignature": governor.target_lamports_per_signature,
            "targetSignaturesPerSlot": governor.target_signatures_per_slot}})
    );
    // The genesis stake account is fully active (bootstrap delegation).
    let stake =
        solana_pubkey::Pubkey::from_str_const("Stake11111111111111111111111111111111111111");
    let (stake_account, account) = state.owned_by(&stake).unwrap();
    let activation = rpc.result("getStakeActivation", json!([stake_account.to_string()]));
    assert_eq!(activation["state"], json!("active"), "{activation}");
    assert_eq!(activation["inactive"], json!(0));
    assert!(activation["active"].as_u64().unwrap() <= account.lamports);
    assert_eq!(
        rpc.error(
            "getStakeActivation",
            json!([fixtures::key("none").to_string()])
        ),
        json!({"code": -32602, "message": "Invalid param: account not found"})
    );
    assert_eq!(
        rpc.error(
            "getStakeActivation",
            json!([stake_account.to_string(), {"epoch": 99}])
        ),
        json!({"code": -32602, "message": "Invalid param: epoch 99 has not yet started"})
    );
}

/// A stand-in full node: answers every call with `{"fromFallback": <method>}` and its id.
fn fake_full_node(calls: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            calls.fetch_add(1, Ordering::SeqCst);
            let call: Value = serde_json::from_slice(&body).unwrap();
            let answer = json!({"jsonrpc": "2.0", "result": {"fromFallback": call["method"], "params": call["params"]}, "id": call["id"]}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

#[test]
fn fallback_answers_methods_outside_the_subset() {
    let calls = Arc::new(AtomicUsize::new(0));
    let url = fake_full_node(calls.clone());
    let replica = agave_replica(&["--rpc-fallback", &url]);
    let rpc = replica.client();
    assert_eq!(
        rpc.post(r#"{"jsonrpc":"2.0","id":"a","method":"getBlock","params":[2]}"#)
            .json(),
        json!({"jsonrpc": "2.0", "result": {"fromFallback": "getBlock", "params": [2]}, "id": "a"})
    );
    // A batch mixing local and forwarded calls keeps its order.
    let batch = rpc.post(r#"[{"jsonrpc":"2.0","id":1,"method":"getSlot"},{"jsonrpc":"2.0","id":2,"method":"sendTransaction","params":["x"]}]"#).json();
    assert_eq!(batch[0], json!({"jsonrpc": "2.0", "result": 2, "id": 1}));
    assert_eq!(batch[1]["result"]["fromFallback"], json!("sendTransaction"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Served methods stay local; removed ones stay -32601.
    rpc.result("getBalance", json!([fixtures::key("x").to_string()]));
    assert_eq!(rpc.error("getRecentBlockhash", json!(null))["code"], -32601);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A fallback that is down is an internal error, still HTTP 200.
    let down = agave_replica(&["--rpc-fallback", "http://127.0.0.1:1/"]);
    let answer = down
        .client()
        .post(r#"{"jsonrpc":"2.0","id":1,"method":"getBlock","params":[2]}"#);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["error"]["code"], -32603);
}

#[test]
fn limits_and_genesis_hash_flags() {
    let (replica, fixture, _) = token_replica(&[
        "--rpc-max-multiple-accounts",
        "2",
        "--rpc-max-request-body-size",
        "1000",
    ]);
    let rpc = replica.client();
    let key = fixture.data_account.to_string();
    assert_eq!(
        rpc.error("getMultipleAccounts", json!([[key, key, key]])),
        json!({"code": -32602, "message": "Too many inputs provided; max 2"})
    );
    rpc.result("getMultipleAccounts", json!([[key, key]]));
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"getSlot","params":[{{"x":"{}"}}]}}"#,
        "a".repeat(1000)
    );
    assert_eq!(rpc.post(&big).status, 413);
    // No genesis file or flag: a clear error, never a made-up hash.
    let error = rpc.error("getGenesisHash", json!(null));
    assert_eq!(error["code"], -32603);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("--genesis-hash"),
        "{error}"
    );
}
