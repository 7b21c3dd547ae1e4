//! Loads the built `cdylib` the way agave-validator does (`dlopen`, `_create_plugin`,
//! `on_load` with a JSON config file), drives it through the `GeyserPlugin` trait object with
//! the simulator, streams the rooted slots over QUIC loopback, and unloads it.

mod common;

use {
    agave_geyser_plugin_interface::geyser_plugin_interface::GeyserPlugin,
    common::*,
    libloading::{Library, Symbol},
    replication_proto::Pubkey,
    sim::{SimConfig, Simulator},
    std::{
        path::PathBuf,
        time::{Duration, Instant},
    },
};

/// The plugin library: `$GEYSER_PLUGIN_LIB`, else the newest `libgeyser_plugin.so` next to
/// this test binary (`target/<profile>/deps/`) or in its profile directory. Cargo builds the
/// package's `cdylib` together with the `rlib` the test links.
fn plugin_library() -> PathBuf {
    if let Some(path) = std::env::var_os("GEYSER_PLUGIN_LIB") {
        return PathBuf::from(path);
    }
    let name = format!(
        "{}geyser_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps directory");
    [
        deps.join(&name),
        deps.parent().expect("profile directory").join(&name),
    ]
    .into_iter()
    .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
    .max()
    .map(|(_, p)| p)
    .unwrap_or_else(|| {
        panic!(
            "{name} not found near {}; set GEYSER_PLUGIN_LIB",
            exe.display()
        )
    })
}

/// What agave-validator's plugin manager declares for the constructor.
type PluginConstructor = unsafe fn() -> *mut dyn GeyserPlugin;

#[allow(unsafe_code)]
fn load(path: &std::path::Path) -> (Library, Box<dyn GeyserPlugin>) {
    // SAFETY: the library is this package's own cdylib, built by the same compiler with the
    // same interface crate; `_create_plugin` returns a `Box<dyn GeyserPlugin>` turned into a
    // raw pointer, which we take back exactly once. The library outlives the plugin (dropped
    // after it by the caller).
    unsafe {
        let library = Library::new(path).expect("dlopen the plugin");
        let constructor: Symbol<PluginConstructor> = library
            .get(b"_create_plugin")
            .expect("_create_plugin symbol");
        let plugin = Box::from_raw(constructor());
        (library, plugin)
    }
}

#[test]
fn validator_style_load_stream_and_unload() {
    let dir = tempfile::tempdir().unwrap();
    let (identity_path, _) = keypair_file(dir.path(), "server.json");
    let (_, client_key) = keypair_file(dir.path(), "client.json");
    let library_path = plugin_library();
    let ready_path = dir.path().join("ready.json");
    let config_path = dir.path().join("plugin.json");
    std::fs::write(
        &config_path,
        serde_json::to_vec_pretty(&serde_json::json!({
            "libpath": library_path,
            "bind": "127.0.0.1:0",
            "identity": identity_path,
            "allowed_replicas": [pubkey_of(&client_key).to_string()],
            "data_dir": dir.path().join("data"),
            "retention_slots": 1000,
            "metrics_bind": "127.0.0.1:0",
            "ready_file": ready_path,
            "handoff": { "max_events": 100000 },
        }))
        .unwrap(),
    )
    .unwrap();

    let (library, mut plugin) = load(&library_path);
    assert_eq!(plugin.name(), "replica-replication");
    assert!(!plugin.account_data_snapshot_notifications_enabled());
    // A bad config is an error, not a panic across the boundary.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"identity": "/nope", "data_dir": "/tmp", "bogus": 1}"#,
    )
    .unwrap();
    assert!(plugin.on_load(bad.to_str().unwrap(), false).is_err());
    plugin
        .on_load(config_path.to_str().unwrap(), false)
        .expect("on_load");
    let ready: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ready_path).expect("ready file")).unwrap();
    let addr = ready["replication"].as_str().unwrap().parse().unwrap();
    let identity: Pubkey = ready["identity"].as_str().unwrap().parse().unwrap();

    // Drive it exactly as the validator would, through the trait object.
    let mut sim = Simulator::new(SimConfig {
        seed: 3,
        ..SimConfig::default()
    });
    sim.notify_startup(plugin.as_ref()).unwrap();
    let mut rooted = Vec::new();
    for _ in 0..40 {
        rooted.extend(sim.step(plugin.as_ref()).unwrap().rooted);
    }
    let last = *rooted.last().expect("slots were rooted");
    let genesis = sim.genesis().clone();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = connect(&client_key, addr, identity).await;
        let (served, first_available) = wait_rooted(&client, genesis.slot, last.slot).await;
        assert_eq!(first_available, genesis.slot + 1);
        let mut state = state_from(&genesis.accounts);
        let mut served = served.into_iter();
        for report in &rooted {
            let info = served.next().expect("every rooted slot is served");
            assert_eq!((info.slot, info.blockhash), (report.slot, report.blockhash));
            let fetched = fetch(&client, &info).await;
            assert_eq!(fetched.trailer.accounts_lt_hash, None); // a real plugin cannot know
            apply(&mut state, &fetched.records);
            assert_eq!(
                checksum(&state),
                report.accounts_lt_hash,
                "slot {}",
                info.slot
            );
        }
        client.close();
    });

    let metrics_addr = ready["metrics"].as_str().unwrap().to_string();
    let body = runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(metrics_addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).await.unwrap();
        body
    });
    assert!(body.contains("geyser_slots_buffered"), "{body}");
    assert!(body.contains("geyser_retained_bytes"));
    assert!(body.contains(r#"geyser_records_dropped_total{stage="handoff"} 0"#));

    let started = Instant::now();
    plugin.on_unload();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "on_unload took {:?}",
        started.elapsed()
    );
    // Callbacks after unload fail cleanly.
    assert!(sim.step(plugin.as_ref()).is_err());
    drop(plugin);
    drop(library);
}
