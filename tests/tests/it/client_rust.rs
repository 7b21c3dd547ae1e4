//! solana-rpc-client (the Solana 3.x line) against a token-archive replica: every supported
//! method, values checked against the archive.

use {
    crate::{clients::GENESIS_HASH, token_replica},
    serde_json::{Value, json},
    solana_account_decoder::{UiAccountData, UiAccountEncoding},
    solana_commitment_config::CommitmentConfig,
    solana_pubkey::Pubkey,
    solana_rpc_client::rpc_client::RpcClient,
    solana_rpc_client_types::{
        config::{RpcAccountInfoConfig, RpcLargestAccountsConfig, RpcProgramAccountsConfig},
        filter::{Memcmp, RpcFilterType},
        request::{RpcRequest, TokenAccountsFilter},
    },
    tests::fixtures::{TOKEN_2022_PROGRAM, TOKEN_PROGRAM},
};

fn parsed_amount(account: &solana_rpc_client_types::response::RpcKeyedAccount) -> String {
    match &account.account.data {
        UiAccountData::Json(parsed) => parsed.parsed["info"]["tokenAmount"]["amount"]
            .as_str()
            .unwrap()
            .to_string(),
        other => panic!("not parsed: {other:?}"),
    }
}

#[test]
fn solana_rpc_client_reads_every_method() {
    let (replica, f, state) = token_replica(&["--genesis-hash", GENESIS_HASH]);
    let manifest = &state.manifest;
    let client = RpcClient::new(replica.url());
    let confirmed = RpcClient::new_with_commitment(replica.url(), CommitmentConfig::confirmed());

    assert_eq!(client.get_slot().unwrap(), manifest.slot);
    assert_eq!(confirmed.get_slot().unwrap(), manifest.slot);
    assert_eq!(client.get_block_height().unwrap(), manifest.block_height);
    let epoch_info = client.get_epoch_info().unwrap();
    assert_eq!(epoch_info.absolute_slot, manifest.slot);
    assert_eq!(
        epoch_info.transaction_count,
        Some(manifest.transaction_count)
    );
    let schedule = client.get_epoch_schedule().unwrap();
    assert_eq!(
        schedule.slots_per_epoch,
        manifest.epoch_schedule.slots_per_epoch
    );
    assert_eq!(
        schedule.first_normal_slot,
        manifest.epoch_schedule.first_normal_slot
    );
    let governor = client.get_inflation_governor().unwrap();
    assert_eq!(governor.initial, manifest.inflation.initial);
    assert_eq!(governor.foundation_term, manifest.inflation.foundation_term);
    let rate = client.get_inflation_rate().unwrap();
    assert!((rate.validator + rate.foundation - rate.total).abs() < 1e-12);

    let blockhash = manifest.blockhash_queue.last_hash.unwrap();
    assert_eq!(client.get_latest_blockhash().unwrap(), blockhash);
    assert!(
        client
            .is_blockhash_valid(&blockhash, CommitmentConfig::finalized())
            .unwrap()
    );
    assert_eq!(client.get_genesis_hash().unwrap().to_string(), GENESIS_HASH);
    assert_eq!(
        client.get_identity().unwrap().to_string(),
        replica.ready["identity"].as_str().unwrap()
    );
    assert!(client.get_version().unwrap().solana_core.contains('.'));
    client.get_health().unwrap();

    // Accounts (the client asks for base64+zstd).
    for (pubkey, expected) in state.accounts.iter().take(30) {
        let account = client.get_account(pubkey).unwrap();
        assert_eq!(account.lamports, expected.lamports, "{pubkey}");
        assert_eq!(account.owner, expected.owner);
        assert_eq!(account.data, expected.data);
        assert_eq!(account.executable, expected.executable);
        assert_eq!(client.get_balance(pubkey).unwrap(), expected.lamports);
    }
    assert!(
        client
            .get_account(&tests::fixtures::key("missing"))
            .is_err()
    );
    let multiple = client
        .get_multiple_accounts(&[
            f.data_account,
            tests::fixtures::key("missing"),
            f.account_a1,
        ])
        .unwrap();
    assert_eq!(multiple[0].as_ref().unwrap().data, vec![1, 2, 3, 4, 5]);
    assert!(multiple[1].is_none());
    assert_eq!(multiple[2].as_ref().unwrap().owner, TOKEN_PROGRAM);

    // Program accounts, with filters and jsonParsed.
    let program = client.get_program_accounts(&f.program).unwrap();
    assert_eq!(program.len(), 1);
    assert_eq!(program[0].0, f.program_account);
    let owned = client
        .get_program_ui_accounts_with_config(
            &TOKEN_PROGRAM,
            RpcProgramAccountsConfig {
                filters: Some(vec![
                    RpcFilterType::DataSize(165),
                    RpcFilterType::Memcmp(Memcmp::new_base58_encoded(32, f.owner_1.as_ref())),
                ]),
                account_config: RpcAccountInfoConfig {
                    encoding: Some(UiAccountEncoding::Base64Zstd),
                    ..RpcAccountInfoConfig::default()
                },
                ..RpcProgramAccountsConfig::default()
            },
        )
        .unwrap();
    let mut expected = vec![f.account_a1, f.account_a2, f.native_1];
    expected.sort();
    assert_eq!(
        owned.iter().map(|(key, _)| *key).collect::<Vec<_>>(),
        expected
    );

    // Token helpers (jsonParsed).
    let by_owner = client
        .get_token_accounts_by_owner(&f.owner_1, TokenAccountsFilter::Mint(f.mint_a))
        .unwrap();
    let amounts: Vec<(String, String)> = by_owner
        .iter()
        .map(|account| (account.pubkey.clone(), parsed_amount(account)))
        .collect();
    let mut expected = vec![
        (f.account_a1.to_string(), "420".to_string()),
        (f.account_a2.to_string(), "80".to_string()),
    ];
    expected.sort_by_key(|(key, _)| key.parse::<Pubkey>().unwrap());
    assert_eq!(amounts, expected);
    // solana-rpc-client 3.1's get_token_accounts_by_delegate sends getTokenAccountsByOwner
    // (a client bug that answers the same against Agave), so ask through `send`.
    let by_delegate: Value = client
        .send(
            RpcRequest::GetTokenAccountsByDelegate,
            json!([f.delegate.to_string(), {"programId": TOKEN_2022_PROGRAM.to_string()}, {"encoding": "jsonParsed"}]),
        )
        .unwrap();
    let by_delegate: Vec<solana_rpc_client_types::response::RpcKeyedAccount> =
        serde_json::from_value(by_delegate["value"].clone()).unwrap();
    assert_eq!(by_delegate.len(), 1);
    assert_eq!(by_delegate[0].pubkey, f.account_b1.to_string());
    assert_eq!(parsed_amount(&by_delegate[0]), "250000");
    let token_account = client.get_token_account(&f.account_a1).unwrap().unwrap();
    assert_eq!(token_account.token_amount.ui_amount_string, "4.2");
    assert_eq!(token_account.owner, f.owner_1.to_string());
    let balance = client.get_token_account_balance(&f.account_a1).unwrap();
    assert_eq!(
        (balance.amount.as_str(), balance.decimals, balance.ui_amount),
        ("420", 2, Some(4.2))
    );
    let supply = client.get_token_supply(&f.mint_a).unwrap();
    assert_eq!(
        (supply.amount.as_str(), supply.ui_amount_string.as_str()),
        ("500", "5")
    );
    let largest = client.get_token_largest_accounts(&f.mint_a).unwrap();
    assert_eq!(
        largest
            .iter()
            .map(|entry| (entry.address.clone(), entry.amount.amount.clone()))
            .collect::<Vec<_>>(),
        vec![
            (f.account_a1.to_string(), "420".to_string()),
            (f.account_a2.to_string(), "80".to_string()),
            (f.account_a3.to_string(), "0".to_string()),
        ]
    );

    // Cluster-wide values.
    let largest = client
        .get_largest_accounts_with_config(RpcLargestAccountsConfig::default())
        .unwrap();
    let expected: Vec<(String, u64)> = state
        .largest(20)
        .into_iter()
        .map(|(pubkey, lamports)| (pubkey.to_string(), lamports))
        .collect();
    assert_eq!(
        largest
            .value
            .iter()
            .map(|entry| (entry.address.clone(), entry.lamports))
            .collect::<Vec<_>>(),
        expected
    );
    let capitalization: u64 = state
        .accounts
        .values()
        .map(|account| account.lamports)
        .sum();
    let supply = client.supply().unwrap().value;
    assert_eq!(supply.total, capitalization);
    assert_eq!(supply.circulating + supply.non_circulating, capitalization);
    assert_eq!(
        client.get_minimum_balance_for_rent_exemption(165).unwrap(),
        state.minimum_balance(165)
    );
    let minimum = client.get_stake_minimum_delegation().unwrap();
    assert!(minimum == 1 || minimum == 1_000_000_000, "{minimum}");

    // Fees for a transfer message with the latest blockhash.
    let payer = tests::fixtures::key("payer");
    let message = crate::transfer_message(&[payer], &f.owner_1, blockhash);
    assert_eq!(client.get_fee_for_message(&message).unwrap(), 5000);

    // Methods without a typed helper, through `send`.
    let commitment: Value = client
        .send(
            RpcRequest::Custom {
                method: "getBlockCommitment",
            },
            json!([manifest.slot]),
        )
        .unwrap();
    assert_eq!(commitment["commitment"], Value::Null);
    let status: Value = client
        .send(
            RpcRequest::Custom {
                method: "getReplicaStatus",
            },
            Value::Null,
        )
        .unwrap();
    assert_eq!(status["rootSlot"], json!(manifest.slot));
    // Removed methods are -32601 as on Agave.
    let removed: Result<Value, _> = client.send(
        RpcRequest::Custom {
            method: "getRecentBlockhash",
        },
        Value::Null,
    );
    assert!(format!("{:?}", removed.unwrap_err()).contains("-32601"));
}
