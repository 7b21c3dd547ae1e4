//! Token methods on the token archive: parsed amounts, owners, delegates, Token-2022
//! extensions, native accounts, jsonParsed list rules.
//!
//! Checked against Agave 4.2.2's `rpc/src/rpc.rs` and `parsed_token_accounts.rs` and
//! solana-account-decoder 4.2.2's token parsers.

use {
    crate::{normalized, token_replica},
    serde_json::{Value, json},
    solana_pubkey::Pubkey,
    tests::fixtures::{TOKEN_2022_PROGRAM, TOKEN_ACCOUNT_LAMPORTS, TOKEN_PROGRAM},
};

fn keys(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["pubkey"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(keys: &[Pubkey]) -> Vec<String> {
    let mut keys = keys.to_vec();
    keys.sort();
    keys.iter().map(Pubkey::to_string).collect()
}

#[test]
fn balances_and_supplies() {
    let (replica, f, state) = token_replica(&[]);
    let rpc = replica.client();
    assert_eq!(
        normalized(rpc.call("getTokenAccountBalance", json!([f.account_a1.to_string()]))),
        json!({"jsonrpc": "2.0", "result": {"context": {"apiVersion": "<apiVersion>", "slot": state.manifest.slot},
            "value": {"amount": "420", "decimals": 2, "uiAmount": 4.2, "uiAmountString": "4.2"}}, "id": 1})
    );
    assert_eq!(
        rpc.result("getTokenSupply", json!([f.mint_a.to_string()]))["value"],
        json!({"amount": "500", "decimals": 2, "uiAmount": 5.0, "uiAmountString": "5"})
    );
    assert_eq!(
        rpc.result("getTokenAccountBalance", json!([f.account_b1.to_string()]))["value"],
        json!({"amount": "250000", "decimals": 6, "uiAmount": 0.25, "uiAmountString": "0.25"})
    );
    // Wrapped SOL: the native mint's 9 decimals.
    assert_eq!(
        rpc.result("getTokenAccountBalance", json!([f.native_1.to_string()]))["value"],
        json!({"amount": "1000000000", "decimals": 9, "uiAmount": 1.0, "uiAmountString": "1"})
    );
    // The raw uiAmount keeps its float form for Kit.
    let raw = rpc.post(
        &json!({"jsonrpc":"2.0","id":1,"method":"getTokenSupply","params":[f.mint_a.to_string()]})
            .to_string(),
    );
    assert!(raw.body.contains("\"uiAmount\":5.0,"), "{}", raw.body);
    assert_eq!(
        rpc.result("getTokenLargestAccounts", json!([f.mint_a.to_string()]))["value"],
        json!([
            {"address": f.account_a1.to_string(), "amount": "420", "decimals": 2, "uiAmount": 4.2, "uiAmountString": "4.2"},
            {"address": f.account_a2.to_string(), "amount": "80", "decimals": 2, "uiAmount": 0.8, "uiAmountString": "0.8"},
            {"address": f.account_a3.to_string(), "amount": "0", "decimals": 2, "uiAmount": 0.0, "uiAmountString": "0"},
        ])
    );
}

#[test]
fn accounts_by_owner_and_delegate() {
    let (replica, f, _) = token_replica(&[]);
    let rpc = replica.client();
    let owner = f.owner_1.to_string();
    let token = TOKEN_PROGRAM.to_string();
    let parsed = json!({"encoding": "jsonParsed"});
    let by_program = rpc.result(
        "getTokenAccountsByOwner",
        json!([owner, {"programId": token}, parsed]),
    );
    assert_eq!(
        keys(&by_program["value"]),
        sorted(&[f.account_a1, f.account_a2, f.native_1])
    );
    let a2 = by_program["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["pubkey"] == json!(f.account_a2.to_string()))
        .unwrap();
    assert_eq!(
        a2["account"],
        json!({"data": {"parsed": {"info": {
                "delegate": f.delegate.to_string(),
                "delegatedAmount": {"amount": "50", "decimals": 2, "uiAmount": 0.5, "uiAmountString": "0.5"},
                "isNative": false, "mint": f.mint_a.to_string(), "owner": owner, "state": "initialized",
                "tokenAmount": {"amount": "80", "decimals": 2, "uiAmount": 0.8, "uiAmountString": "0.8"}},
              "type": "account"}, "program": "spl-token", "space": 165},
            "executable": false, "lamports": TOKEN_ACCOUNT_LAMPORTS, "owner": token,
            "rentEpoch": 18446744073709551615u64, "space": 165})
    );
    let native = by_program["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["pubkey"] == json!(f.native_1.to_string()))
        .unwrap();
    assert_eq!(
        native["account"]["data"]["parsed"]["info"]["isNative"],
        json!(true)
    );
    assert_eq!(
        native["account"]["data"]["parsed"]["info"]["rentExemptReserve"],
        json!({"amount": "2039280", "decimals": 9, "uiAmount": 0.00203928, "uiAmountString": "0.00203928"})
    );
    let by_mint = rpc.result(
        "getTokenAccountsByOwner",
        json!([owner, {"mint": f.mint_a.to_string()}, {"encoding": "base64"}]),
    );
    assert_eq!(
        keys(&by_mint["value"]),
        sorted(&[f.account_a1, f.account_a2])
    );
    let token_2022 = rpc.result(
        "getTokenAccountsByOwner",
        json!([owner, {"programId": TOKEN_2022_PROGRAM.to_string()}, parsed]),
    );
    assert_eq!(keys(&token_2022["value"]), vec![f.account_b1.to_string()]);
    let info = &token_2022["value"][0]["account"]["data"];
    assert_eq!(info["program"], json!("spl-token-2022"));
    assert_eq!(info["space"], json!(170));
    assert_eq!(
        info["parsed"]["info"]["extensions"],
        json!([{"extension": "immutableOwner"}])
    );
    // Unknown owner: empty. Owner 2 has the frozen account.
    assert_eq!(
        rpc.result(
            "getTokenAccountsByOwner",
            json!([f.delegate.to_string(), {"programId": token}])
        )["value"],
        json!([])
    );
    let frozen = rpc.result(
        "getTokenAccountsByOwner",
        json!([f.owner_2.to_string(), {"mint": f.mint_a.to_string()}, parsed]),
    );
    assert_eq!(
        frozen["value"][0]["account"]["data"]["parsed"]["info"]["state"],
        json!("frozen")
    );
    // Delegates: by program and by mint, on both token programs.
    let delegate = f.delegate.to_string();
    for (filter, expected) in [
        (json!({"programId": token}), vec![f.account_a2]),
        (
            json!({"programId": TOKEN_2022_PROGRAM.to_string()}),
            vec![f.account_b1],
        ),
        (json!({"mint": f.mint_a.to_string()}), vec![f.account_a2]),
        (json!({"mint": f.mint_b.to_string()}), vec![f.account_b1]),
        (
            json!({"mint": tests::fixtures::NATIVE_MINT.to_string()}),
            vec![],
        ),
    ] {
        let found = rpc.result(
            "getTokenAccountsByDelegate",
            json!([delegate, filter, {"encoding": "base64"}]),
        );
        assert_eq!(keys(&found["value"]), sorted(&expected), "{filter}");
    }
}

#[test]
fn json_parsed_rules() {
    let (replica, f, _) = token_replica(&[]);
    let rpc = replica.client();
    let parsed = json!({"encoding": "jsonParsed"});
    // Single accounts: token parsing, mint parsing, fallback to full base64 for unparseable
    // token-program data (the slice is ignored there).
    let a1 = rpc.result("getAccountInfo", json!([f.account_a1.to_string(), parsed]));
    assert_eq!(a1["value"]["data"]["parsed"]["type"], json!("account"));
    let mint = rpc.result("getAccountInfo", json!([f.mint_a.to_string(), parsed]));
    assert_eq!(
        mint["value"]["data"],
        json!({"parsed": {"info": {"decimals": 2, "freezeAuthority": null, "isInitialized": true,
            "mintAuthority": f.mint_authority.to_string(), "supply": "500"}, "type": "mint"},
            "program": "spl-token", "space": 82})
    );
    let uninitialized = rpc.result(
        "getAccountInfo",
        json!([f.uninitialized.to_string(), {"encoding": "jsonParsed", "dataSlice": {"offset": 0, "length": 1}}]),
    );
    use base64::Engine;
    assert_eq!(
        uninitialized["value"]["data"],
        json!([
            base64::engine::general_purpose::STANDARD.encode([0u8; 165]),
            "base64"
        ])
    );
    let multiple = rpc.result(
        "getMultipleAccounts",
        json!([[f.account_b1.to_string(), f.mint_b.to_string()], parsed]),
    );
    assert_eq!(
        multiple["value"][0]["data"]["program"],
        json!("spl-token-2022")
    );
    assert_eq!(
        multiple["value"][1]["data"]["parsed"]["type"],
        json!("mint")
    );
    // Lists over the token programs drop unparseable entries (the uninitialized account) but
    // keep mints.
    let all = rpc.result(
        "getProgramAccounts",
        json!([TOKEN_PROGRAM.to_string(), parsed]),
    );
    let listed = keys(&all);
    assert!(!listed.contains(&f.uninitialized.to_string()));
    assert!(listed.contains(&f.mint_a.to_string()));
    assert!(listed.contains(&f.account_a3.to_string()));
    let base64 = rpc.result(
        "getProgramAccounts",
        json!([TOKEN_PROGRAM.to_string(), {"encoding": "base64"}]),
    );
    assert_eq!(keys(&base64).len(), listed.len() + 1);
    // tokenAccountState selects initialized token accounts on either program.
    let initialized = rpc.result(
        "getProgramAccounts",
        json!([TOKEN_PROGRAM.to_string(), {"encoding": "base64", "filters": ["tokenAccountState"]}]),
    );
    assert_eq!(
        keys(&initialized),
        sorted(&[f.account_a1, f.account_a2, f.account_a3, f.native_1])
    );
    let initialized_2022 = rpc.result(
        "getProgramAccounts",
        json!([TOKEN_2022_PROGRAM.to_string(), {"encoding": "base64", "filters": ["tokenAccountState"]}]),
    );
    assert_eq!(keys(&initialized_2022), vec![f.account_b1.to_string()]);
    // Token-2022's account-type byte at 165 proves token accounts and routes by mint.
    let by_type = rpc.result(
        "getProgramAccounts",
        json!([TOKEN_2022_PROGRAM.to_string(), {"encoding": "base64", "filters": [
            {"memcmp": {"offset": 165, "bytes": bs58::encode([2u8]).into_string()}},
            {"memcmp": {"offset": 0, "bytes": f.mint_b.to_string()}}]}]),
    );
    assert_eq!(keys(&by_type), vec![f.account_b1.to_string()]);
    // Stake accounts parse under a generic program; sysvars need their ids.
    let clock = rpc.result(
        "getAccountInfo",
        json!(["SysvarC1ock11111111111111111111111111111111", parsed]),
    );
    assert_eq!(clock["value"]["data"]["parsed"]["type"], json!("clock"));
}
