//! `replica-bench all`: every scenario at its default sizes, summed up in the README's table.

use {
    crate::{apply, data, hop, ingest, report::Report, rpc, sync},
    anyhow::Context,
    clap::Parser,
    std::path::PathBuf,
};

#[derive(Debug, clap::Args)]
pub(crate) struct SuiteArgs {
    /// README whose table between `<!-- bench:begin -->` and `<!-- bench:end -->` is replaced.
    #[arg(long, value_name = "FILE")]
    readme: Option<PathBuf>,
    #[command(flatten)]
    cache: data::Cache,
}

/// A scenario's arguments at their defaults, in the suite's cache directory.
#[derive(Debug, Parser)]
struct Defaults<T: clap::Args> {
    #[command(flatten)]
    args: T,
}

fn defaults<T: clap::Args>(cache: &data::Cache) -> T {
    Defaults::<T>::parse_from([
        "replica-bench".as_ref(),
        "--dir".as_ref(),
        cache.dir.as_os_str(),
    ])
    .args
}

pub(crate) fn run(args: &SuiteArgs) -> anyhow::Result<()> {
    let cache = &args.cache;
    let reports = [
        ingest::run(&defaults(cache))?,
        apply::run(&defaults(cache))?,
        sync::run(&defaults(cache))?,
        hop::run(&defaults(cache))?,
        rpc::run(&defaults(cache))?,
    ];
    for report in &reports {
        report.print();
    }
    let table = table(&reports);
    println!("{table}");
    if let Some(readme) = &args.readme {
        let text = std::fs::read_to_string(readme)
            .with_context(|| format!("reading {}", readme.display()))?;
        let (begin, end) = ("<!-- bench:begin -->", "<!-- bench:end -->");
        let start = text
            .find(begin)
            .context("the README has no bench:begin mark")?
            + begin.len();
        let stop = text.find(end).context("the README has no bench:end mark")?;
        anyhow::ensure!(start <= stop, "bench:end comes before bench:begin");
        let updated = format!("{}\n{table}\n{}", &text[..start], &text[stop..]);
        std::fs::write(readme, updated).with_context(|| format!("writing {}", readme.display()))?;
    }
    Ok(())
}

fn table(reports: &[Report]) -> String {
    let date = std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .unwrap_or_default();
    let mut out = format!(
        "`replica-bench all`, release build, {}, {}.\n\n| scenario | figure | ceiling (same run) | ratio | p50 / p99 |\n|---|---|---|---|---|\n",
        data::machine(),
        date.trim()
    );
    for report in reports {
        let latency = match (report.p50, report.p99) {
            (Some(p50), Some(p99)) => format!(
                "{}{p50:.1} / {p99:.1} ms",
                report
                    .extra
                    .get("latency_of")
                    .and_then(|v| v.as_str())
                    .map_or(String::new(), |what| format!("{what}: "))
            ),
            _ => "—".to_string(),
        };
        let rooted = match (
            report.extra.get("p50_rooted").and_then(|v| v.as_f64()),
            report.extra.get("p99_rooted").and_then(|v| v.as_f64()),
        ) {
            (Some(p50), Some(p99)) => format!("; rooted → finalized: {p50:.1} / {p99:.1} ms"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {:.0} {} | {:.0} | {:.1} % | {latency}{rooted} |\n",
            report.scenario,
            report.figure,
            report.unit,
            report.ceiling,
            report.ratio * 100.0,
        ));
    }
    out
}
