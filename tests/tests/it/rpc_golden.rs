//! Golden cases: exact responses for encodings, limits
//! and errors (base58 limit, 101 keys, 5 filters, commitment placement, removed methods, …).
//!
//! Checked against Agave 4.2.2: solana-rpc 4.2.2 `rpc/src/rpc.rs` (params, limits, errors of
//! each method), solana-rpc-client-types 4.2.2 (request configs and their serde errors),
//! solana-account-decoder 4.2.2 (encodings) and jsonrpc-core 18 (the envelope).

use {
    crate::{normalized, token_replica},
    serde_json::json,
};

#[test]
fn account_encodings_and_slices_are_exact() {
    let (replica, fixture, state) = token_replica(&[]);
    let rpc = replica.client();
    let data = fixture.data_account.to_string();
    let slot = state.manifest.slot;
    let account = |data: serde_json::Value| {
        json!({"jsonrpc": "2.0", "result": {"context": {"apiVersion": "<apiVersion>", "slot": slot},
            "value": {"data": data, "executable": false, "lamports": 42,
                "owner": "11111111111111111111111111111111", "rentEpoch": 18446744073709551615u64, "space": 5}},
            "id": 1})
    };
    // Default encoding: legacy binary, a bare base58 string.
    assert_eq!(
        normalized(rpc.call("getAccountInfo", json!([data]))),
        account(json!("7bWpTW"))
    );
    let slice = json!({"offset": 1, "length": 2});
    assert_eq!(
        normalized(rpc.call(
            "getAccountInfo",
            json!([data, {"encoding": "base64", "dataSlice": slice}])
        )),
        account(json!(["AgM=", "base64"]))
    );
    assert_eq!(
        normalized(rpc.call(
            "getAccountInfo",
            json!([data, {"encoding": "binary", "dataSlice": slice}])
        )),
        account(json!("9t"))
    );
    assert_eq!(
        normalized(rpc.call("getAccountInfo", json!([data, {"encoding": "base58"}]))),
        account(json!(["7bWpTW", "base58"]))
    );
    // jsonParsed on an unparseable account: a sliced base64 pair.
    assert_eq!(
        normalized(rpc.call(
            "getAccountInfo",
            json!([data, {"encoding": "jsonParsed", "dataSlice": slice}])
        )),
        account(json!(["AgM=", "base64"]))
    );
    // A slice past the end is empty.
    assert_eq!(
        normalized(rpc.call(
            "getAccountInfo",
            json!([data, {"encoding": "base64", "dataSlice": {"offset": 9, "length": 1}}])
        )),
        account(json!(["", "base64"]))
    );
    // base64+zstd decodes to the data.
    let zstd = rpc.result("getAccountInfo", json!([data, {"encoding": "base64+zstd"}]));
    use base64::Engine;
    let frame = base64::engine::general_purpose::STANDARD
        .decode(zstd["value"]["data"][0].as_str().unwrap())
        .unwrap();
    assert_eq!(zstd::decode_all(&frame[..]).unwrap(), vec![1, 2, 3, 4, 5]);
    assert_eq!(zstd["value"]["data"][1], "base64+zstd");
    assert_eq!(zstd["value"]["space"], 5);
    // Keys come out sorted, byte for byte.
    let raw = rpc.post(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": [data]})
            .to_string(),
    );
    assert!(
        raw.body
            .starts_with("{\"jsonrpc\":\"2.0\",\"result\":{\"context\":{\"apiVersion\":\""),
        "{}",
        raw.body
    );
    assert!(raw.body.ends_with(&format!(",\"slot\":{slot}}},\"value\":{{\"data\":\"7bWpTW\",\"executable\":false,\"lamports\":42,\"owner\":\"11111111111111111111111111111111\",\"rentEpoch\":18446744073709551615,\"space\":5}}}},\"id\":1}}\n")), "{}", raw.body);
}

#[test]
fn base58_limit_fails_the_whole_request() {
    let (replica, fixture, state) = token_replica(&[]);
    let rpc = replica.client();
    let (vote, _) = state
        .owned_by(&solana_pubkey::Pubkey::from_str_const(
            "Vote111111111111111111111111111111111111111",
        ))
        .unwrap();
    let expected = json!({"code": -32600, "message": "Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding."});
    for encoding in [
        json!({"encoding": "base58"}),
        json!({}),
        json!({"encoding": "binary"}),
    ] {
        assert_eq!(
            rpc.error("getAccountInfo", json!([vote.to_string(), encoding])),
            expected
        );
    }
    // A slice that fits is fine; exactly 128 bytes is allowed.
    rpc.result("getAccountInfo", json!([vote.to_string(), {"encoding": "base58", "dataSlice": {"offset": 0, "length": 128}}]));
    assert_eq!(
        rpc.error("getAccountInfo", json!([vote.to_string(), {"encoding": "base58", "dataSlice": {"offset": 0, "length": 129}}])),
        expected
    );
    // One oversized account fails getMultipleAccounts, and token lists in their default encoding.
    assert_eq!(
        rpc.error(
            "getMultipleAccounts",
            json!([[fixture.data_account.to_string(), vote.to_string()], {"encoding": "base58"}])
        ),
        expected
    );
    assert_eq!(
        rpc.error("getTokenAccountsByOwner", json!([fixture.owner_1.to_string(), {"programId": tests::fixtures::TOKEN_PROGRAM.to_string()}])),
        expected
    );
}

#[test]
fn multiple_accounts_order_nulls_and_limit() {
    let (replica, fixture, _) = token_replica(&[]);
    let rpc = replica.client();
    let missing = tests::fixtures::key("missing").to_string();
    let keys = json!([
        fixture.data_account.to_string(),
        missing,
        fixture.program_account.to_string()
    ]);
    let value = rpc.result("getMultipleAccounts", json!([keys]))["value"].clone();
    assert_eq!(value[0]["data"], json!(["AQIDBAU=", "base64"]));
    assert_eq!(value[1], json!(null));
    assert_eq!(value[2]["owner"], json!(fixture.program.to_string()));
    let base58 = rpc.result("getMultipleAccounts", json!([keys, {"encoding": "base58"}]));
    assert_eq!(base58["value"][0]["data"], json!(["7bWpTW", "base58"]));
    // 101 keys: rejected before any key is parsed (even invalid ones).
    let many: Vec<String> = (0..101).map(|i| format!("bad{i}")).collect();
    assert_eq!(
        rpc.error("getMultipleAccounts", json!([many])),
        json!({"code": -32602, "message": "Too many inputs provided; max 100"})
    );
    // Empty and duplicate lists are fine.
    assert_eq!(
        rpc.result("getMultipleAccounts", json!([[]]))["value"],
        json!([])
    );
    let twice = json!([
        fixture.data_account.to_string(),
        fixture.data_account.to_string()
    ]);
    assert_eq!(
        rpc.result("getMultipleAccounts", json!([twice]))["value"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn pubkey_and_context_errors() {
    let (replica, fixture, state) = token_replica(&[]);
    let rpc = replica.client();
    assert_eq!(
        rpc.error("getBalance", json!(["a1b2c3d4"])),
        json!({"code": -32602, "message": "Invalid param: WrongSize"})
    );
    assert_eq!(
        rpc.error(
            "getBalance",
            json!(["0OIl000000000000000000000000000000000000000"])
        ),
        json!({"code": -32602, "message": "Invalid param: Invalid"})
    );
    assert_eq!(
        rpc.error(
            "getAccountInfo",
            json!([fixture.data_account.to_string(), {"minContextSlot": 999999999999u64}])
        ),
        json!({"code": -32016, "message": "Minimum context slot has not been reached", "data": {"contextSlot": state.manifest.slot}})
    );
    // minContextSlot is ignored where Agave does not support it.
    rpc.result("getTokenSupply", json!([fixture.mint_a.to_string(), {"commitment": "finalized", "minContextSlot": 999999999999u64}]));
}

#[test]
fn filters_are_validated_like_agave() {
    let (replica, fixture, _) = token_replica(&[]);
    let rpc = replica.client();
    let program = fixture.program.to_string();
    let size = json!({"dataSize": 1});
    assert_eq!(
        rpc.error(
            "getProgramAccounts",
            json!([program, {"filters": [size, size, size, size, size]}])
        ),
        json!({"code": -32602, "message": "Too many filters provided; max 4"})
    );
    let undecodable = rpc.error(
        "getProgramAccounts",
        json!([program, {"filters": [{"memcmp": {"offset": 0, "bytes": "III"}}]}]),
    );
    assert_eq!(undecodable["code"], -32602);
    assert!(
        undecodable["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid param: Base58DecodeError("),
        "{undecodable}"
    );
    assert_eq!(
        rpc.error(
            "getProgramAccounts",
            json!([program, {"filters": [{"memcmp": {"offset": 0, "bytes": vec![1u8; 129]}}]}])
        ),
        json!({"code": -32602, "message": "Invalid param: DataTooLarge"})
    );
    let long = bs58::encode([0xffu8; 129]).into_string();
    assert_eq!(
        rpc.error(
            "getProgramAccounts",
            json!([program, {"filters": [{"memcmp": {"offset": 0, "bytes": long}}]}])
        ),
        json!({"code": -32602, "message": "Invalid param: DataTooLarge"})
    );
    // "binary" is not a memcmp encoding.
    let binary = rpc.error("getProgramAccounts", json!([program, {"filters": [{"memcmp": {"offset": 0, "bytes": "1", "encoding": "binary"}}]}]));
    assert_eq!(binary["code"], -32602);
    assert!(
        binary["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid params: "),
        "{binary}"
    );
    // Token programs: a memcmp at 32 or 0 must be 32 bytes (agave >= 3.1).
    let token = tests::fixtures::TOKEN_PROGRAM.to_string();
    let short = bs58::encode([7u8; 16]).into_string();
    assert_eq!(
        rpc.error("getProgramAccounts", json!([token, {"filters": [{"memcmp": {"offset": 32, "bytes": short}}, {"dataSize": 165}], "encoding": "base64"}])),
        json!({"code": -32602, "message": "Incorrect byte length 16 for SPL token owner filter, expected 32"})
    );
    assert_eq!(
        rpc.error("getProgramAccounts", json!([token, {"filters": [{"memcmp": {"offset": 0, "bytes": short}}], "encoding": "base64"}])),
        json!({"code": -32602, "message": "Incorrect byte length 16 for SPL token mint filter, expected 32"})
    );
    // memcmp bytes as base64 and as a raw array.
    use base64::Engine;
    let mint_a = fixture.mint_a.to_bytes();
    for bytes in [
        json!({"offset": 0, "bytes": base64::engine::general_purpose::STANDARD.encode(mint_a), "encoding": "base64"}),
        json!({"offset": 0, "bytes": mint_a.to_vec()}),
        json!({"offset": 0, "bytes": fixture.mint_a.to_string(), "encoding": "bytes"}),
    ] {
        let found = rpc.result("getProgramAccounts", json!([token, {"filters": [{"memcmp": bytes}, {"dataSize": 165}], "encoding": "base64"}]));
        assert_eq!(found.as_array().unwrap().len(), 3, "{bytes}: {found}");
    }
}

#[test]
fn program_accounts_shapes() {
    let (replica, fixture, state) = token_replica(&[]);
    let rpc = replica.client();
    let entry = json!({"account": {"data": "", "executable": false, "lamports": 42,
        "owner": fixture.program.to_string(), "rentEpoch": 18446744073709551615u64, "space": 0},
        "pubkey": fixture.program_account.to_string()});
    assert_eq!(
        rpc.result("getProgramAccounts", json!([fixture.program.to_string()])),
        json!([entry])
    );
    assert_eq!(
        normalized(rpc.call(
            "getProgramAccounts",
            json!([fixture.program.to_string(), {"withContext": true}])
        )),
        json!({"jsonrpc": "2.0", "result": {"context": {"apiVersion": "<apiVersion>", "slot": state.manifest.slot}, "value": [entry]}, "id": 1})
    );
    // Unknown config keys are ignored; nulls mean absent (the Rust client sends them).
    assert_eq!(
        rpc.result("getProgramAccounts", json!([fixture.program.to_string(), {"changedSinceSlot": 5, "filters": null, "withContext": null, "sortResults": null, "encoding": null, "dataSlice": null, "minContextSlot": null}])),
        json!([entry])
    );
    assert_eq!(
        rpc.result(
            "getProgramAccounts",
            json!([tests::fixtures::key("nothing").to_string()])
        ),
        json!([])
    );
}

#[test]
fn commitment_binding_styles() {
    let (replica, fixture, _) = token_replica(&[]);
    let rpc = replica.client();
    let mint = fixture.mint_a.to_string();
    // Standalone CommitmentConfig: strict.
    assert_eq!(
        rpc.error("getTokenSupply", json!([mint, {}])),
        json!({"code": -32602, "message": "Invalid params: missing field `commitment`."})
    );
    assert_eq!(
        rpc.error("getTokenSupply", json!([mint, {"commitment": "recent"}])),
        json!({"code": -32602, "message": "Invalid params: unknown variant `recent`, expected one of `processed`, `confirmed`, `finalized`."})
    );
    assert_eq!(
        rpc.error(
            "getMinimumBalanceForRentExemption",
            json!([0, {"commitment": "max"}])
        )["code"],
        -32602
    );
    // Flattened: an invalid commitment silently means finalized.
    for commitment in [
        json!("recent"),
        json!("Confirmed"),
        json!(5),
        json!(null),
        json!("processed"),
        json!("confirmed"),
    ] {
        rpc.result("getBalance", json!([mint, {"commitment": commitment}]));
        rpc.result(
            "getAccountInfo",
            json!([mint, {"commitment": commitment, "encoding": "base64"}]),
        );
    }
    // Bad encodings are serde errors.
    assert_eq!(
        rpc.error("getAccountInfo", json!([mint, {"encoding": "json"}])),
        json!({"code": -32602, "message": "Invalid params: unknown variant `json`, expected one of `binary`, `base58`, `base64`, `jsonParsed`, `base64+zstd`."})
    );
}

#[test]
fn parameter_binding_errors() {
    let (replica, _, _) = token_replica(&[]);
    let rpc = replica.client();
    assert_eq!(
        rpc.error("getMinimumBalanceForRentExemption", json!(["50"])),
        json!({"code": -32602, "message": "Invalid params: invalid type: string \"50\", expected usize."})
    );
    assert_eq!(
        rpc.error("getMinimumBalanceForRentExemption", json!([10485761])),
        json!({"code": -32600, "message": "Invalid request"})
    );
    rpc.result("getMinimumBalanceForRentExemption", json!([10485760]));
    assert_eq!(
        rpc.error("getBalance", json!({"pubkey": "x"})),
        json!({"code": -32602, "message": "`params` should be an array"})
    );
    assert_eq!(
        rpc.error("getBalance", json!([])),
        json!({"code": -32602, "message": "`params` should have at least 1 argument(s)"})
    );
    assert_eq!(
        rpc.error("getBalance", json!(["a", {}, 3])),
        json!({"code": -32602, "message": "Invalid parameters: Expected from 1 to 2 parameters.", "data": "\"Got: 3\""})
    );
    assert_eq!(
        rpc.error("getTokenAccountsByOwner", json!(["x"])),
        json!({"code": -32602, "message": "`params` should have at least 2 argument(s)"})
    );
    assert_eq!(
        rpc.error("getHealth", json!([{}])),
        json!({"code": -32602, "message": "Invalid parameters: No parameters were expected", "data": "Array([Object {}])"})
    );
    rpc.result("getHealth", json!([]));
    rpc.result("getHealth", json!(null));
    assert_eq!(rpc.error("getBlockCommitment", json!(null))["code"], -32602);
}

#[test]
fn removed_and_unknown_methods_are_not_found() {
    let (replica, _, _) = token_replica(&[]);
    let rpc = replica.client();
    let not_found = json!({"code": -32601, "message": "Method not found"});
    for method in [
        "getRecentBlockhash",
        "getFees",
        "getFeeCalculatorForBlockhash",
        "getFeeRateGovernor",
        "getStakeActivation",
        "getSnapshotSlot",
        "getConfirmedBlock",
        "getBlock",
        "sendTransaction",
        "getFooBar",
    ] {
        assert_eq!(rpc.error(method, json!(null)), not_found, "{method}");
    }
}

#[test]
fn token_method_errors() {
    let (replica, fixture, _) = token_replica(&[]);
    let rpc = replica.client();
    let random = tests::fixtures::key("random").to_string();
    let owner = fixture.owner_1.to_string();
    let invalid = |message: &str| json!({"code": -32602, "message": message});
    assert_eq!(
        rpc.error("getTokenAccountsByOwner", json!([owner, {"mint": random}])),
        invalid("Invalid param: could not find mint")
    );
    assert_eq!(
        rpc.error(
            "getTokenAccountsByOwner",
            json!([owner, {"programId": random}])
        ),
        invalid("Invalid param: unrecognized Token program id")
    );
    assert_eq!(
        rpc.error(
            "getTokenAccountsByOwner",
            json!([owner, {"mint": fixture.data_account.to_string()}])
        ),
        invalid("Invalid param: Token mint could not be unpacked")
    );
    assert_eq!(
        rpc.error(
            "getTokenAccountsByOwner",
            json!([owner, {"mint": random, "programId": random}])
        )["code"],
        -32602
    );
    assert_eq!(
        rpc.error("getTokenAccountBalance", json!([random])),
        invalid("Invalid param: could not find account")
    );
    assert_eq!(
        rpc.error(
            "getTokenAccountBalance",
            json!([fixture.data_account.to_string()])
        ),
        invalid("Invalid param: not a Token account")
    );
    assert_eq!(
        rpc.error(
            "getTokenAccountBalance",
            json!([fixture.mint_a.to_string()])
        ),
        invalid("Invalid param: not a Token account")
    );
    assert_eq!(
        rpc.error("getTokenSupply", json!([random])),
        invalid("Invalid param: could not find account")
    );
    assert_eq!(
        rpc.error("getTokenSupply", json!([fixture.data_account.to_string()])),
        invalid("Invalid param: not a Token mint")
    );
    assert_eq!(
        rpc.error("getTokenSupply", json!([fixture.account_a1.to_string()])),
        invalid("Invalid param: mint could not be unpacked")
    );
    assert_eq!(
        rpc.error("getTokenLargestAccounts", json!([random])),
        invalid("Invalid param: could not find mint")
    );
    assert_eq!(
        rpc.error(
            "getTokenLargestAccounts",
            json!([fixture.account_a1.to_string()])
        ),
        invalid("Invalid param: Token mint could not be unpacked")
    );
}

#[test]
fn envelope_cases() {
    let (replica, _, state) = token_replica(&[]);
    let rpc = replica.client();
    let slot = state.manifest.slot;
    // Missing jsonrpc: the error has no "jsonrpc" key.
    assert_eq!(
        rpc.post(r#"{"id":1,"method":"getSlot"}"#).body,
        "{\"error\":{\"code\":-32600,\"message\":\"Unsupported JSON-RPC protocol version\"},\"id\":1}\n"
    );
    assert_eq!(
        rpc.post("{not json").body,
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"Parse error\"},\"id\":null}\n"
    );
    assert_eq!(
        rpc.post(r#"{"jsonrpc":"2.0","id":-1,"method":"getSlot"}"#)
            .json(),
        json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null})
    );
    assert_eq!(
        rpc.post(r#"{"jsonrpc":"2.0","id":"x","method":"getSlot","extra":true}"#)
            .json(),
        json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": "x"})
    );
    assert_eq!(
        rpc.post(r#"{"jsonrpc":"2.0","id":"7","method":"getSlot"}"#)
            .body,
        format!("{{\"jsonrpc\":\"2.0\",\"result\":{slot},\"id\":\"7\"}}\n")
    );
    assert_eq!(
        rpc.post(r#"{"jsonrpc":"2.0","id":null,"method":"getSlot"}"#)
            .json(),
        json!({"jsonrpc": "2.0", "result": slot, "id": null})
    );
    // Batches keep order and drop notifications; an empty batch and a lone notification
    // have empty bodies.
    assert_eq!(
        rpc.post(r#"[{"jsonrpc":"2.0","id":1,"method":"getSlot"},{"jsonrpc":"2.0","method":"getSlot"},{"jsonrpc":"2.0","id":"x","method":"getBalance","params":["a1b2c3d4"]}]"#).json(),
        json!([
            {"jsonrpc": "2.0", "result": slot, "id": 1},
            {"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid param: WrongSize"}, "id": "x"}
        ])
    );
    for body in [
        "[]",
        r#"{"jsonrpc":"2.0","method":"getSlot"}"#,
        r#"[{"jsonrpc":"2.0","method":"getSlot"}]"#,
    ] {
        let answer = rpc.post(body);
        assert_eq!((answer.status, answer.body.as_str()), (200, ""), "{body}");
    }
    // A batch element that is not an object fails the whole batch.
    assert_eq!(
        rpc.post(r#"[{"jsonrpc":"2.0","id":1,"method":"getSlot"},5]"#)
            .json()["error"]["code"],
        -32700
    );
}
