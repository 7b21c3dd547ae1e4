//! A real etcd server for the failover tests (Debian's `/usr/bin/etcd`, or `$ETCD_BIN`): one
//! member on 127.0.0.1 with free ports and a temporary data directory, plain or with the
//! failover write-up's mTLS flags (`--client-cert-auth --trusted-ca-file --cert-file
//! --key-file`) and certificates made here with rcgen. Readiness is `etcdctl endpoint health`
//! answering; the server is killed and its directory removed on drop. It can be stopped and
//! started again on the same ports and data.

use {
    anyhow::{Context, bail},
    common::process::{ChildProcess, StopOnDrop},
    rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SanType,
    },
    std::{
        net::{IpAddr, Ipv4Addr, TcpListener},
        path::{Path, PathBuf},
        process::{Command, Stdio},
        time::{Duration, Instant},
    },
    tempfile::TempDir,
};

/// How long etcd gets to answer its first health check.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The etcd server binary.
pub fn etcd_bin() -> PathBuf {
    std::env::var_os("ETCD_BIN").map_or_else(|| PathBuf::from("/usr/bin/etcd"), PathBuf::from)
}

/// The etcdctl binary.
pub fn etcdctl_bin() -> PathBuf {
    std::env::var_os("ETCDCTL_BIN").map_or_else(|| PathBuf::from("/usr/bin/etcdctl"), PathBuf::from)
}

/// PEM files of a CA, etcd's server certificate, and client certificates it signed.
#[derive(Debug, Clone)]
pub struct Certs {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    issuer: std::sync::Arc<Issuer<'static, KeyPair>>,
}

/// A client certificate and key.
#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    /// A CA `etcd-ca` and a server certificate for 127.0.0.1 / localhost, in `dir` (the
    /// write-up's cfssl layout: `etcd-ca.pem`, `server.pem`, `server-key.pem`).
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (ca_params, ca_key) = ca("etcd-ca")?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        std::fs::write(dir.join("etcd-ca.pem"), ca_cert.pem())?;
        std::fs::write(dir.join("etcd-ca-key.pem"), ca_key.serialize_pem())?;
        let certs = Self {
            dir: dir.to_path_buf(),
            ca: dir.join("etcd-ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            issuer: std::sync::Arc::new(Issuer::new(ca_params, ca_key)),
        };
        leaf(
            &certs.issuer,
            "etcd",
            &certs.server_cert,
            &certs.server_key,
            true,
        )?;
        Ok(certs)
    }

    /// A client certificate `<name>.pem` / `<name>-key.pem` signed by this CA.
    pub fn client(&self, name: &str) -> anyhow::Result<ClientCert> {
        let cert = self.dir.join(format!("{name}.pem"));
        let key = self.dir.join(format!("{name}-key.pem"));
        leaf(&self.issuer, name, &cert, &key, false)?;
        Ok(ClientCert { cert, key })
    }

    /// A client certificate signed by another CA (etcd must refuse it).
    pub fn foreign_client(&self, name: &str) -> anyhow::Result<ClientCert> {
        let (params, key) = ca("rogue-ca")?;
        let issuer = Issuer::new(params, key);
        let cert = self.dir.join(format!("{name}.pem"));
        let key = self.dir.join(format!("{name}-key.pem"));
        leaf(&issuer, name, &cert, &key, false)?;
        Ok(ClientCert { cert, key })
    }
}

fn ca(name: &str) -> anyhow::Result<(CertificateParams, KeyPair)> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    Ok((params, KeyPair::generate()?))
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    name: &str,
    cert: &Path,
    key: &Path,
    server: bool,
) -> anyhow::Result<()> {
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = if server {
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ]
    } else {
        vec![ExtendedKeyUsagePurpose::ClientAuth]
    };
    let key_pair = KeyPair::generate()?;
    let certificate = params.signed_by(&key_pair, issuer)?;
    std::fs::write(cert, certificate.pem())?;
    std::fs::write(key, key_pair.serialize_pem())?;
    Ok(())
}

/// A running (or stopped) one-member etcd.
#[derive(Debug)]
pub struct Etcd {
    process: Option<ChildProcess>,
    client_port: u16,
    peer_port: u16,
    tls: Option<(Certs, ClientCert)>,
    // Dropped last: the process dies before its directory goes.
    dir: TempDir,
    starts: u32,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Etcd {
    /// Plain http on 127.0.0.1.
    pub fn start() -> anyhow::Result<Self> {
        Self::launch(false)
    }

    /// https with client-certificate auth; [`Etcd::certs`] has the CA and a client
    /// certificate `client`.
    pub fn start_tls() -> anyhow::Result<Self> {
        Self::launch(true)
    }

    fn launch(tls: bool) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("etcd-").tempdir()?;
        let tls = if tls {
            let certs = Certs::new(&dir.path().join("certs"))?;
            let client = certs.client("client")?;
            Some((certs, client))
        } else {
            None
        };
        let mut etcd = Self {
            process: None,
            client_port: free_port()?,
            peer_port: free_port()?,
            tls,
            dir,
            starts: 0,
        };
        etcd.resume()?;
        Ok(etcd)
    }

    fn scheme(&self) -> &str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The client URL.
    pub fn endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.client_port)
    }

    /// The CA and client certificate of a TLS etcd.
    pub fn certs(&self) -> Option<&(Certs, ClientCert)> {
        self.tls.as_ref()
    }

    /// Starts the server again (same ports, same data) and waits until it answers.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        if self.process.is_some() {
            bail!("etcd is running");
        }
        self.starts += 1;
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let client = self.endpoint();
        let log = self.dir.path().join(format!("etcd-{}.log", self.starts));
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(etcd_bin());
        command
            .arg("--name")
            .arg("failover-test")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--listen-client-urls")
            .arg(&client)
            .arg("--advertise-client-urls")
            .arg(&client)
            .arg("--listen-peer-urls")
            .arg(&peer)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer)
            .arg("--initial-cluster")
            .arg(format!("failover-test={peer}"))
            .args(["--initial-cluster-state", "new"])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            // Small WAL segments and backend: tests need kilobytes.
            .args(["--quota-backend-bytes", "67108864"])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        if let Some((certs, _)) = &self.tls {
            command
                .arg("--client-cert-auth")
                .arg("--trusted-ca-file")
                .arg(&certs.ca)
                .arg("--cert-file")
                .arg(&certs.server_cert)
                .arg("--key-file")
                .arg(&certs.server_key);
        }
        let mut process = ChildProcess::spawn("etcd", command, &log, StopOnDrop::Kill)
            .with_context(|| format!("starting {}", etcd_bin().display()))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = process.exited() {
                bail!("etcd exited ({status}):\n{}", process.log_text());
            }
            if self.healthy() {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "etcd not healthy within {READY_TIMEOUT:?}:\n{}",
                    process.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.process = Some(process);
        Ok(())
    }

    /// Stops the server (SIGKILL), keeping its data for [`Etcd::resume`].
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// `etcdctl` with this server's endpoint and (for TLS) the client certificate.
    pub fn etcdctl(&self) -> Command {
        let mut command = Command::new(etcdctl_bin());
        command
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(self.endpoint())
            .args(["--dial-timeout", "2s", "--command-timeout", "3s"]);
        if let Some((certs, client)) = &self.tls {
            command
                .arg("--cacert")
                .arg(&certs.ca)
                .arg("--cert")
                .arg(&client.cert)
                .arg("--key")
                .arg(&client.key);
        }
        command
    }

    fn healthy(&self) -> bool {
        self.etcdctl()
            .args(["endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let output = self
            .etcdctl()
            .args(["get", "--print-value-only", key])
            .output()?;
        if !output.status.success() {
            bail!(
                "etcdctl get {key}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text = String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string();
        Ok((!text.is_empty()).then_some(text))
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &str, value: &str) -> anyhow::Result<()> {
        let output = self.etcdctl().args(["put", key, value]).output()?;
        if !output.status.success() {
            bail!(
                "etcdctl put {key}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// The server's log so far (of the current start).
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map(ChildProcess::log_text)
            .unwrap_or_default()
    }
}
