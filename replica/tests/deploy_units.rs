//! `deploy/` as shipped: every systemd unit passes `systemd-analyze verify`, runs as a user
//! that `deploy/sysusers.d` creates (or a dynamic one), may write what it writes under
//! `ProtectSystem=strict`, and starts. The start runs each unit's `ExecStart=` command line as
//! systemd would build it (`Environment=`, `EnvironmentFile=` with the example from `deploy/`,
//! `${VAR}` and `$VAR`, `%d` credentials), with every absolute path moved under a temporary
//! root per host, in which only what the unit declares (`StateDirectory=`,
//! `RuntimeDirectory=`, ...) and the installed example configuration exist, and every listen
//! port made 0: a sidecar serving the genuine fixture archives, a tracker with
//! `deploy/tracker.yaml` scraping it, a replica with `deploy/replica.toml` bootstrapping
//! through that tracker, and a mirror following the tracker. The Grafana dashboard's metrics
//! must exist in the code.

use {
    common::process::{ChildProcess, StopOnDrop},
    std::{
        collections::BTreeMap,
        io::{Read, Write},
        net::{IpAddr, SocketAddr, TcpListener, TcpStream},
        path::{Path, PathBuf},
        process::{Command, Stdio},
        time::{Duration, Instant},
    },
};

/// Longest wait for a service's ready file (a debug build bootstraps the fixture in seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the replica package sits in the workspace")
        .to_path_buf()
}

fn deploy(path: &str) -> PathBuf {
    repo().join("deploy").join(path)
}

fn units() -> Vec<PathBuf> {
    let mut units: Vec<PathBuf> = std::fs::read_dir(deploy("systemd"))
        .expect("deploy/systemd")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "service"))
        .collect();
    units.sort();
    assert!(units.len() >= 7, "units: {units:?}");
    units
}

/// A workspace binary, built next to this package's `replica`.
fn binary(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_replica"))
        .parent()
        .expect("binaries live in target/<profile>");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: build it first (`cargo build -p snapshot-tools -p relay --bins`, \
         in the same profile; `cargo test --workspace` builds it)",
        path.display()
    );
    path
}

/// A program on the PATH, if installed.
fn installed(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// `systemd-analyze`, or a printed reason why the systemd checks are skipped.
fn systemd_analyze() -> Option<PathBuf> {
    let found = installed("systemd-analyze");
    if found.is_none() {
        eprintln!(
            "SKIPPED: systemd-analyze not found; `apt-get install -y systemd` to check the units"
        );
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Unit files, read as systemd reads them (the parts the units in deploy/ use).

/// A unit file: `(section, key, value)` in order.
#[derive(Debug)]
struct Unit {
    name: String,
    entries: Vec<(String, String, String)>,
}

impl Unit {
    fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap();
        let mut entries = Vec::new();
        let mut section = String::new();
        let mut pending = String::new();
        for line in text.lines() {
            let line = line.trim();
            if pending.is_empty() && (line.is_empty() || line.starts_with(['#', ';'])) {
                continue;
            }
            if let Some(continued) = line.strip_suffix('\\') {
                pending.push_str(continued);
                pending.push(' ');
                continue;
            }
            let line = std::mem::take(&mut pending) + line;
            if line.starts_with('[') {
                section = line.trim_matches(['[', ']']).to_string();
            } else if let Some((key, value)) = line.split_once('=') {
                entries.push((
                    section.clone(),
                    key.trim().to_string(),
                    value.trim().to_string(),
                ));
            }
        }
        Self {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            entries,
        }
    }

    /// Every value of a `[Service]` key, in order.
    fn all(&self, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(section, name, _)| section == "Service" && name == key)
            .map(|(_, _, value)| value.as_str())
            .collect()
    }

    /// The effective value of a `[Service]` key (the last one).
    fn get(&self, key: &str) -> Option<&str> {
        self.all(key).last().copied()
    }

    fn yes(&self, key: &str) -> bool {
        matches!(self.get(key), Some("yes" | "true" | "1" | "on"))
    }

    /// Space-separated list values (`StateDirectory=a b`), over every line of the key.
    fn list(&self, key: &str) -> Vec<String> {
        self.all(key)
            .iter()
            .flat_map(|value| words(value))
            .collect()
    }

    /// The directories systemd creates for the service (owned by its user, writable), as
    /// absolute host paths.
    fn created_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for (key, base) in [
            ("StateDirectory", "/var/lib"),
            ("RuntimeDirectory", "/run"),
            ("LogsDirectory", "/var/log"),
            ("CacheDirectory", "/var/cache"),
        ] {
            dirs.extend(
                self.list(key)
                    .iter()
                    .map(|dir| Path::new(base).join(dir.trim_end_matches(':'))),
            );
        }
        dirs
    }

    /// The directories the service may write: those systemd creates, and `ReadWritePaths=`
    /// (which must exist already).
    fn writable_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.created_dirs();
        dirs.extend(
            self.list("ReadWritePaths")
                .iter()
                .map(|path| PathBuf::from(path.trim_start_matches(['-', '+']))),
        );
        dirs
    }

    /// Asserts that the service may write `path` (its parents are created as needed).
    fn assert_writable(&self, path: &Path, what: &str) {
        assert_eq!(
            self.get("ProtectSystem"),
            Some("strict"),
            "{}: expected ProtectSystem=strict",
            self.name
        );
        let dirs = self.writable_dirs();
        assert!(
            dirs.iter().any(|dir| path.starts_with(dir)),
            "{}: {what} {} is read-only under ProtectSystem=strict (writable: {dirs:?})",
            self.name,
            path.display()
        );
    }

    /// The environment systemd gives the service: `Environment=` lines, then the
    /// `EnvironmentFile=`s (which override them), read through `file` (host path → its text;
    /// `None` for a file that is not installed).
    fn environment(&self, file: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for value in self.all("Environment") {
            for assignment in words(value) {
                let (key, value) = assignment
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{}: Environment={assignment}", self.name));
                env.insert(key.to_string(), value.to_string());
            }
        }
        for path in self.all("EnvironmentFile") {
            let (optional, path) = match path.strip_prefix('-') {
                Some(path) => (true, path),
                None => (false, path),
            };
            match file(path) {
                Some(text) => env.extend(environment_file(&text)),
                None => assert!(optional, "{}: EnvironmentFile={path} is missing", self.name),
            }
        }
        env
    }

    /// A command line (`ExecStart=`, `ExecReload=`) as systemd runs it: split into words,
    /// `%d` → `credentials`, `${VAR}` → one word, a lone `$VAR` → its value's words.
    fn command(
        &self,
        key: &str,
        env: &BTreeMap<String, String>,
        credentials: &Path,
    ) -> Vec<String> {
        let line = self
            .get(key)
            .unwrap_or_else(|| panic!("{}: no {key}=", self.name));
        let line = line.trim_start_matches(['-', '@', ':', '+', '!']);
        let mut argv = Vec::new();
        for word in words(line) {
            let word = word
                .replace("%d", &credentials.display().to_string())
                .replace("%%", "%");
            if let Some(name) = word.strip_prefix('$').filter(|name| {
                !name.starts_with('{') && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            }) {
                argv.extend(words(env.get(name).map_or("", String::as_str)));
                continue;
            }
            let mut expanded = String::new();
            let mut rest = word.as_str();
            while let Some(start) = rest.find("${") {
                expanded.push_str(&rest[..start]);
                let end = rest[start..]
                    .find('}')
                    .unwrap_or_else(|| panic!("{}: unclosed ${{ in {line}", self.name));
                let name = &rest[start + 2..start + end];
                expanded.push_str(env.get(name).map_or("", String::as_str));
                rest = &rest[start + end + 1..];
            }
            expanded.push_str(rest);
            argv.push(expanded);
        }
        argv
    }
}

/// Splits on whitespace, honouring double and single quotes (systemd's rules for the values
/// the units here use).
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unclosed quote in `{text}`");
    if in_word {
        words.push(word);
    }
    words
}

/// `KEY=VALUE` lines of an environment file (`#` and `;` comments, optional quotes).
fn environment_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', ';']))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("environment file line without `=`: {line}"));
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|value| value.strip_suffix('"'))
                .unwrap_or(value);
            (key.trim().to_string(), value.to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Static checks.

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    // verify checks that each ExecStart= binary exists: point them at the ones built here.
    let dir = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for unit in units() {
        let text = std::fs::read_to_string(&unit).unwrap();
        let mut mapped = String::new();
        for line in text.lines() {
            let line = match line.split_once("/usr/local/bin/") {
                Some((before, after)) if line.starts_with("Exec") => {
                    let (name, rest) = after.split_once(' ').unwrap_or((after, ""));
                    format!("{before}{} {rest}", binary(name).display())
                }
                _ => line.to_string(),
            };
            mapped.push_str(&line);
            mapped.push('\n');
        }
        let copy = dir.path().join(unit.file_name().unwrap());
        std::fs::write(&copy, mapped).unwrap();
        copies.push(copy);
    }
    let output = Command::new(analyze)
        .arg("verify")
        .arg("--man=no")
        .args(&copies)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Warnings ("Invalid URL, ignoring", unknown keys) do not change the exit status: any line
    // about one of our units is a failure.
    let complaints: Vec<&str> = text
        .lines()
        .filter(|line| {
            line.contains(&dir.path().display().to_string())
                || copies.iter().any(|copy| {
                    line.contains(&copy.file_name().unwrap().to_string_lossy().into_owned())
                })
        })
        .collect();
    assert!(
        output.status.success() && complaints.is_empty(),
        "systemd-analyze verify ({}):\n{text}",
        output.status
    );
}

#[test]
fn every_unit_runs_as_a_user_that_exists() {
    let sysusers: Vec<PathBuf> = std::fs::read_dir(deploy("sysusers.d"))
        .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
        .unwrap_or_default();
    let declared: Vec<String> = sysusers
        .iter()
        .flat_map(|file| {
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .filter_map(|line| {
                    let fields = words(line);
                    (fields.first().map(String::as_str) == Some("u")).then(|| fields[1].clone())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for path in units() {
        let unit = Unit::read(&path);
        if unit.yes("DynamicUser") {
            continue;
        }
        let user = unit
            .get("User")
            .unwrap_or_else(|| panic!("{}: runs as root (no User=, no DynamicUser=)", unit.name));
        assert!(
            declared.iter().any(|name| name == user),
            "{}: User={user}, which no deploy/sysusers.d file creates (declared: {declared:?})",
            unit.name
        );
        if let Some(group) = unit.get("Group") {
            assert_eq!(group, user, "{}: Group= is not the user's group", unit.name);
        }
    }
    // The files are what systemd-sysusers accepts, and create the users.
    let Some(tool) = installed("systemd-sysusers") else {
        eprintln!("SKIPPED: systemd-sysusers not found; `apt-get install -y systemd`");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    let output = Command::new(tool)
        .arg("--root")
        .arg(root.path())
        .args(&sysusers)
        .output()
        .unwrap();
    // It reports what it creates; a complaint names the file (`[path:line] ...`).
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success()
            && !sysusers
                .iter()
                .any(|file| stderr.contains(&file.display().to_string())),
        "systemd-sysusers: {stderr}"
    );
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    for user in &declared {
        let entry = passwd
            .lines()
            .find(|line| line.starts_with(&format!("{user}:")))
            .unwrap_or_else(|| panic!("{user} not created: {passwd}"));
        assert!(entry.ends_with("nologin"), "{entry}");
    }
}

#[test]
fn the_dashboard_shows_metrics_that_exist() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana-dashboard.json")).unwrap())
            .unwrap();
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() > 10, "{queries:?}");
    let mut names: Vec<String> = queries
        .iter()
        .flat_map(|query| {
            query
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .filter(|token| {
                    ["replica_", "geyser_", "snapshot_", "relay_", "failover_"]
                        .iter()
                        .any(|prefix| token.starts_with(prefix))
                })
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    // Every name must be defined in the code as a string constant.
    let mut sources = String::new();
    for crate_dir in std::fs::read_dir(repo()).unwrap() {
        let src = crate_dir.unwrap().path().join("src");
        if src.is_dir() {
            read_sources(&src, &mut sources);
        }
    }
    // A histogram's series are its name with `_bucket`, `_sum` or `_count`.
    let defined = |name: &str| sources.contains(&format!("\"{name}\""));
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| {
            !defined(name)
                && !["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix).is_some_and(defined))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/grafana-dashboard.json queries metrics no code defines: {missing:?}"
    );
}

/// The PromQL of every panel target and templating query.
fn collect_queries(value: &serde_json::Value, queries: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr" | "query", serde_json::Value::String(query)) => {
                        queries.push(query.clone())
                    }
                    _ => collect_queries(value, queries),
                }
            }
        }
        serde_json::Value::Array(values) => {
            for value in values {
                collect_queries(value, queries);
            }
        }
        _ => {}
    }
}

fn read_sources(dir: &Path, text: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_sources(&path, text);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Starting the units.

/// One host: absolute paths of its units and configuration live under a temporary root.
struct Host {
    root: tempfile::TempDir,
}

impl Host {
    fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
        }
    }

    /// Where an absolute host path is in this test.
    fn path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        assert!(path.is_absolute(), "{}", path.display());
        self.root.path().join(path.strip_prefix("/").unwrap())
    }

    /// Installs a file at a host path.
    fn install(&self, path: &str, contents: impl AsRef<[u8]>) {
        let target = self.path(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, contents).unwrap();
    }

    /// What systemd does before it starts `unit`: its writable directories, and its
    /// credentials (`LoadCredential=id:path`) copied into the credentials directory, whose
    /// host path (`%d`) is returned.
    fn prepare(&self, unit: &Unit) -> PathBuf {
        for dir in unit.created_dirs() {
            std::fs::create_dir_all(self.path(dir)).unwrap();
        }
        let credentials = PathBuf::from(format!("/run/credentials/{}", unit.name));
        std::fs::create_dir_all(self.path(&credentials)).unwrap();
        for credential in unit.all("LoadCredential") {
            let (id, source) = credential.split_once(':').unwrap();
            std::fs::copy(self.path(source), self.path(credentials.join(id))).unwrap_or_else(
                |error| panic!("{}: LoadCredential={credential}: {error}", unit.name),
            );
        }
        credentials
    }
}

/// How the test's hosts differ from the examples: listen addresses become `127.0.0.1:0`, and
/// the example addresses of services this test runs become the addresses they got.
#[derive(Default)]
struct Addresses {
    /// (example text, address in this test), e.g. `http://127.0.0.1:8458` → the tracker.
    services: Vec<(String, String)>,
}

impl Addresses {
    /// A value of a command line or a configuration file, as it is on `host`.
    fn map(&self, host: &Host, value: &str) -> String {
        if let Some((_, actual)) = self.services.iter().find(|(example, _)| example == value) {
            return actual.clone();
        }
        if value.parse::<SocketAddr>().is_ok() {
            return "127.0.0.1:0".into();
        }
        if value.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified()) {
            return "127.0.0.1".into();
        }
        if value.starts_with('/') {
            return host.path(value).display().to_string();
        }
        value.to_string()
    }

    /// A command line, as it runs on `host`: the binary is the one built here, paths and
    /// listen addresses are mapped, and `--port` is 0.
    fn command(&self, host: &Host, argv: &[String]) -> Command {
        let program = argv[0]
            .strip_prefix("/usr/local/bin/")
            .unwrap_or_else(|| panic!("ExecStart= of an uninstalled binary: {argv:?}"));
        let mut command = Command::new(binary(program));
        let mut port_value = false;
        for arg in &argv[1..] {
            command.arg(if port_value {
                "0".to_string()
            } else {
                self.map(host, arg)
            });
            port_value = arg == "--port";
        }
        command
    }

    /// A TOML configuration, as it is on `host`.
    fn toml(&self, host: &Host, value: &mut toml::Value) {
        match value {
            toml::Value::String(text) => *text = self.map(host, text),
            toml::Value::Array(values) => {
                values.iter_mut().for_each(|value| self.toml(host, value))
            }
            toml::Value::Table(table) => table
                .iter_mut()
                .for_each(|(_, value)| self.toml(host, value)),
            _ => {}
        }
    }
}

/// A started unit.
struct Service {
    process: ChildProcess,
    ready: serde_json::Value,
}

/// Starts `argv` (a unit's `ExecStart=`, mapped) with the unit's environment, and waits for
/// `ready`.
fn start(
    host: &Host,
    addresses: &Addresses,
    unit: &Unit,
    argv: &[String],
    env: &BTreeMap<String, String>,
    ready: &Path,
    extra: &[&str],
) -> Service {
    let mut command = addresses.command(host, argv);
    command.args(extra);
    for (key, value) in env {
        command.env(key, addresses.map(host, value));
    }
    let log = host.path(format!("/{}.log", unit.name));
    let log_file = std::fs::File::create(&log).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file);
    let description = format!("{command:?}");
    let mut process = ChildProcess::spawn(
        &unit.name,
        command,
        &log,
        StopOnDrop::Terminate(Duration::from_secs(10)),
    )
    .unwrap();
    let ready = process
        .wait_ready(ready, READY_TIMEOUT, || false)
        .unwrap_or_else(|error| {
            panic!(
                "{}: {description}: {error}\n{}",
                unit.name,
                process.log_text()
            )
        });
    Service { process, ready }
}

/// `METHOD path` over HTTP/1.1 on `addr`: (status, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|error| panic!("{addr}: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response from {addr}: {response}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `check` until it gives a value.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A counter's value in Prometheus text.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

fn ready_addr(ready: &serde_json::Value, key: &str) -> String {
    let value = &ready[key];
    value
        .as_str()
        .or_else(|| value[0].as_str())
        .unwrap_or_else(|| panic!("ready file without {key}: {ready}"))
        .to_string()
}

#[test]
fn the_units_start_with_the_example_configuration() {
    let mut addresses = Addresses::default();

    // A sidecar, on a host whose archives are the genuine fixtures.
    let sidecar_host = Host::new();
    let unit = Unit::read(&deploy("systemd/snapshot-sidecar.service"));
    sidecar_host.install(
        "/etc/replica/sidecar.env",
        std::fs::read(deploy("sidecar.env")).unwrap(),
    );
    let credentials = sidecar_host.prepare(&unit);
    let env = unit.environment(|path| std::fs::read_to_string(sidecar_host.path(path)).ok());
    let argv = unit.command("ExecStart", &env, &credentials);
    // The archive directory: --snapshots if given, else --ledger.
    let flag = |name: &str| {
        argv.iter()
            .position(|arg| arg == name)
            .map(|at| argv[at + 1].clone())
    };
    let archives = sidecar_host.path(
        flag("--snapshots")
            .or_else(|| flag("--ledger"))
            .expect("the sidecar's --ledger"),
    );
    std::fs::create_dir_all(&archives).unwrap();
    for entry in std::fs::read_dir(repo().join("fixtures/agave-3slot")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // The chain full(1) + incremental(1→2), as a node keeps it.
        if name.starts_with("snapshot-1-") || name.starts_with("incremental-snapshot-1-2-") {
            std::fs::copy(&path, archives.join(&name)).unwrap();
        }
    }
    let ready = sidecar_host.path("/sidecar.ready");
    let ready_arg = ready.display().to_string();
    let sidecar = start(
        &sidecar_host,
        &addresses,
        &unit,
        &argv,
        &env,
        &ready,
        &["--ready-file", &ready_arg],
    );
    let sidecar_addr = ready_addr(&sidecar.ready, "listen");
    let (status, listing) = http(&sidecar_addr, "GET", "/v1/snapshots", "");
    assert_eq!(status, 200, "{listing}");
    assert!(listing.contains("incremental-snapshot-1-2-"), "{listing}");

    // A tracker with deploy/tracker.yaml, its example targets replaced by that sidecar.
    let tracker_host = Host::new();
    let unit = Unit::read(&deploy("systemd/snapshot-tracker.service"));
    let example = std::fs::read_to_string(deploy("tracker.yaml")).unwrap();
    let mut replaced = 0;
    let config: Vec<String> = example
        .lines()
        .filter_map(|line| {
            let item = line.trim();
            if item.starts_with("- ") && item.ends_with(":13080") {
                replaced += 1;
                (replaced == 1).then(|| line.replace(&item[2..], &sidecar_addr))
            } else {
                Some(line.to_string())
            }
        })
        .collect();
    assert!(
        replaced > 0,
        "deploy/tracker.yaml lists no sidecar on port 13080"
    );
    tracker_host.install("/etc/replica/tracker.yaml", config.join("\n"));
    let credentials = tracker_host.prepare(&unit);
    let env = unit.environment(|path| std::fs::read_to_string(tracker_host.path(path)).ok());
    let argv = unit.command("ExecStart", &env, &credentials);
    let ready = tracker_host.path("/tracker.ready");
    let ready_arg = ready.display().to_string();
    let mut tracker = start(
        &tracker_host,
        &addresses,
        &unit,
        &argv,
        &env,
        &ready,
        &["--ready-file", &ready_arg],
    );
    let tracker_addr = ready_addr(&tracker.ready, "listen");
    let internal_addr = ready_addr(&tracker.ready, "internal_listen");
    let best = eventually("the tracker to list the sidecar's chain", || {
        let (status, body) = http(&tracker_addr, "GET", "/v1/best_snapshots", "");
        (status == 200 && body.contains(&sidecar_addr)).then_some(body)
    });
    assert!(best.contains("incremental-snapshot-1-2-"), "{best}");
    // ExecReload= re-reads the configuration.
    let reloads = |addr: &str| {
        let (_, text) = http(addr, "GET", "/metrics", "");
        metric(&text, "snapshot_tracker_reloads_total{result=\"ok\"}").unwrap_or(0.0)
    };
    let before = reloads(&internal_addr);
    let mut env_with_pid = env.clone();
    env_with_pid.insert("MAINPID".into(), tracker.process.id().to_string());
    let reload = unit.command("ExecReload", &env_with_pid, &credentials);
    let status = Command::new(&reload[0])
        .args(&reload[1..])
        .status()
        .unwrap();
    assert!(status.success(), "{reload:?}");
    eventually("the tracker to reload on ExecReload=", || {
        (reloads(&internal_addr) > before).then_some(())
    });
    assert!(
        tracker.process.exited().is_none(),
        "{}",
        tracker.process.log_text()
    );
    addresses.services.push((
        "http://127.0.0.1:8458".into(),
        format!("http://{tracker_addr}"),
    ));

    // A replica with deploy/replica.toml, bootstrapping through the tracker.
    let replica_host = Host::new();
    let unit = Unit::read(&deploy("systemd/replica.service"));
    let mut config: toml::Value =
        toml::from_str(&std::fs::read_to_string(deploy("replica.toml")).unwrap()).unwrap();
    for key in ["ledger", "ready_file"] {
        let path = config[key].as_str().unwrap();
        let dir = if key == "ready_file" {
            Path::new(path).parent().unwrap()
        } else {
            Path::new(path)
        };
        unit.assert_writable(dir, key);
    }
    unit.assert_writable(
        Path::new(config["snapshots"]["dir"].as_str().unwrap()),
        "[snapshots] dir",
    );
    let identity = config["identity"].as_str().unwrap().to_string();
    let keygen = Command::new(env!("CARGO_BIN_EXE_replica"))
        .args(["keygen", "--outfile"])
        .arg({
            let path = replica_host.path(&identity);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            path
        })
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    addresses.toml(&replica_host, &mut config);
    replica_host.install(
        "/etc/replica/replica.toml",
        toml::to_string(&config).unwrap(),
    );
    let credentials = replica_host.prepare(&unit);
    let env = unit.environment(|path| std::fs::read_to_string(replica_host.path(path)).ok());
    let argv = unit.command("ExecStart", &env, &credentials);
    let ready = PathBuf::from(config["ready_file"].as_str().unwrap());
    let mut replica = start(&replica_host, &addresses, &unit, &argv, &env, &ready, &[]);
    assert_eq!(replica.ready["rootSlot"], 2, "{}", replica.ready);
    let rpc = ready_addr(&replica.ready, "rpc");
    let (status, body) = http(
        &rpc,
        "POST",
        "/",
        r#"{"jsonrpc":"2.0","id":1,"method":"getSlot","params":[{"commitment":"finalized"}]}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""result":2"#), "{body}");
    let metrics = ready_addr(&replica.ready, "metrics");
    let (status, text) = http(&metrics, "GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(text.contains("replica_root_slot"), "{text}");

    // A mirror following the tracker, with deploy/mirror.env (its bucket unreachable here).
    let mirror_host = Host::new();
    let unit = Unit::read(&deploy("systemd/snapshot-mirror.service"));
    mirror_host.install(
        "/etc/replica/mirror.env",
        std::fs::read(deploy("mirror.env")).unwrap(),
    );
    let credentials = mirror_host.prepare(&unit);
    let env = unit.environment(|path| std::fs::read_to_string(mirror_host.path(path)).ok());
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    addresses.services.push((
        env["MIRROR_S3_URL"].clone(),
        format!("http://{closed_port}"),
    ));
    let argv = unit.command("ExecStart", &env, &credentials);
    let ready = mirror_host.path("/mirror.ready");
    let ready_arg = ready.display().to_string();
    let mirror = start(
        &mirror_host,
        &addresses,
        &unit,
        &argv,
        &env,
        &ready,
        &["--ready-file", &ready_arg],
    );
    let (status, _) = http(
        &ready_addr(&mirror.ready, "metrics_listen"),
        "GET",
        "/metrics",
        "",
    );
    assert_eq!(status, 200);

    // KillSignal=SIGTERM stops the replica cleanly within TimeoutStopSec=.
    let unit = Unit::read(&deploy("systemd/replica.service"));
    assert_eq!(unit.get("KillSignal"), Some("SIGTERM"));
    let timeout = Duration::from_secs(unit.get("TimeoutStopSec").unwrap().parse().unwrap());
    assert!(
        replica.process.stop(timeout),
        "the replica did not stop within {timeout:?}"
    );
    let status = replica.process.exited().unwrap();
    assert!(status.success(), "{status}: {}", replica.process.log_text());
    drop(mirror);
    drop(sidecar);
}
