//! Each scenario at a small size ends with its one-line JSON result, whose figures are
//! consistent: a positive figure and ceiling, `ratio` = figure / ceiling, latencies where the
//! scenario has them (`null` elsewhere). Needs the `replica` binary built beside this one
//! (`cargo build`).

use {serde_json::Value, std::process::Command};

fn run(dir: &std::path::Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_replica-bench"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("replica-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{args:?}: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().expect("some output");
    let report: Value = serde_json::from_str(last)
        .unwrap_or_else(|error| panic!("{args:?}: the last line is not JSON ({error}): {last}"));
    assert_eq!(report["scenario"], args[0], "{report}");
    let (figure, ceiling, ratio) = (
        report["figure"].as_f64().expect("figure"),
        report["ceiling"].as_f64().expect("ceiling"),
        report["ratio"].as_f64().expect("ratio"),
    );
    assert!(figure > 0.0 && ceiling > 0.0, "{report}");
    assert!((ratio - figure / ceiling).abs() < 1e-3, "{report}");
    assert!(report["unit"].as_str().is_some_and(|unit| !unit.is_empty()));
    // Every key of the result, the latencies `null` where a scenario has none.
    for key in ["p50", "p99"] {
        assert!(report.get(key).is_some(), "{key}: {report}");
    }
    report
}

#[test]
fn every_scenario_ends_with_its_json_result() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let accounts = ["--accounts", "20000"];
    let ingest = run(dir, &[&["ingest"][..], &accounts].concat());
    assert_eq!(ingest["accounts"], 20000);
    run(
        dir,
        &[
            &["apply"][..],
            &accounts,
            &["--slots", "3", "--updates", "200"],
        ]
        .concat(),
    );
    run(
        dir,
        &[
            &["sync"][..],
            &accounts,
            &["--slots", "5", "--updates", "200"],
        ]
        .concat(),
    );
    let hop = run(
        dir,
        &[
            &["hop"][..],
            &accounts,
            &["--slots", "3", "--updates", "200"],
        ]
        .concat(),
    );
    for key in ["p50", "p99", "p50_rooted", "p99_rooted"] {
        assert!(hop[key].as_f64().is_some_and(|ms| ms > 0.0), "{key}: {hop}");
    }
    assert!(hop["p50"].as_f64() <= hop["p99"].as_f64());
    let rpc = run(
        dir,
        &[
            &["rpc"][..],
            &accounts,
            &["--seconds", "1", "--scans", "5", "--connections", "4"],
        ]
        .concat(),
    );
    assert!(
        rpc["p50"].as_f64().is_some() && rpc["p99"].as_f64().is_some(),
        "{rpc}"
    );
}
