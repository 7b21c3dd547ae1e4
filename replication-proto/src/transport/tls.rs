//! TLS 1.3 identities: a node's self-signed X.509 certificate carries its Solana (Ed25519)
//! identity key, and peers are authenticated by that key instead of a chain of trust.
//!
//! Both verifiers parse the peer's certificate with webpki, require an Ed25519 key, and check
//! the TLS 1.3 `CertificateVerify` signature with rustls' webpki/ring verification: the peer
//! proves it holds the identity's private key. Only the chain of trust (and the certificate's
//! validity period and self-signature, which mean nothing without one) is skipped. The client
//! also requires the server's key to equal the expected upstream identity; the server's
//! allowlist is checked after the handshake so that a refused client learns why (see
//! [`CloseCode::NotAllowed`](super::CloseCode::NotAllowed)).

use {
    super::{ALPN, QuicConfig, error::IdentityError},
    crate::message::Pubkey,
    rustls::{
        CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme,
        client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        crypto::{CryptoProvider, WebPkiSupportedAlgorithms, verify_tls13_signature},
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime},
        server::danger::{ClientCertVerified, ClientCertVerifier},
    },
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{
        path::Path,
        sync::{Arc, Mutex},
    },
};

/// The name a client puts in its TLS ClientHello; never checked (identities are keys).
pub(crate) const SERVER_NAME: &str = "solana-replica";

/// Reads a Solana keypair file (a JSON array of 64 bytes).
pub fn load_identity(path: impl AsRef<Path>) -> Result<Keypair, IdentityError> {
    let path = path.as_ref();
    solana_keypair::read_keypair_file(path).map_err(|e| IdentityError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The identity pubkey of a keypair (as this crate's `Pubkey` type).
pub fn identity_pubkey(keypair: &Keypair) -> Pubkey {
    Pubkey::new_from_array(keypair.pubkey().to_bytes())
}

// DER building blocks for the certificate.
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const OID_COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
const SPKI_ED25519_PREFIX: &[u8] = &[
    0x30, 0x2a, // SEQUENCE (42)
    0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, // AlgorithmIdentifier { Ed25519 }
    0x03, 0x21, 0x00, // BIT STRING (33), no unused bits
];

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 4);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn ed25519_algorithm() -> Vec<u8> {
    der(0x30, OID_ED25519)
}

/// Builds a self-signed X.509 v3 certificate for `keypair` (subject and issuer
/// `CN=solana-replica`, validity 1970..9999, Ed25519 key, signed with the keypair), and the
/// PKCS#8 v1 encoding of its private key for rustls.
pub fn self_signed_certificate(
    keypair: &Keypair,
) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let pubkey = keypair.pubkey().to_bytes();

    let name = der(
        0x30,
        &der(
            0x31,
            &der(
                0x30,
                &[OID_COMMON_NAME, &der(0x0c, SERVER_NAME.as_bytes())].concat(),
            ),
        ),
    );
    // A positive serial derived from the key, so that certificates of distinct keys differ.
    let mut serial = [0u8; 8];
    serial.copy_from_slice(&pubkey[..8]);
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let validity = der(
        0x30,
        &[
            der(0x17, b"700101000000Z"),   // UTCTime
            der(0x18, b"99991231235959Z"), // GeneralizedTime
        ]
        .concat(),
    );
    let spki = [SPKI_ED25519_PREFIX, &pubkey].concat();
    let tbs = der(
        0x30,
        &[
            &der(0xa0, &der(0x02, &[2]))[..], // [0] EXPLICIT version v3
            &der(0x02, &serial),
            &ed25519_algorithm(),
            &name,
            &validity,
            &name,
            &spki,
        ]
        .concat(),
    );
    let signature: [u8; 64] = keypair.sign_message(&tbs).into();
    let mut bit_string = Vec::with_capacity(65);
    bit_string.push(0);
    bit_string.extend_from_slice(&signature);
    let cert = der(
        0x30,
        &[tbs, ed25519_algorithm(), der(0x03, &bit_string)].concat(),
    );

    // RFC 8410 §7: PKCS#8 v1 { version 0, Ed25519, OCTET STRING { OCTET STRING seed } }.
    let key = [
        &[
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ][..],
        keypair.secret_bytes(),
    ]
    .concat();
    (
        CertificateDer::from(cert),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
}

/// The Ed25519 identity carried by a certificate; `None` if it does not parse as an X.509 v3
/// certificate or its key is not Ed25519.
pub fn pubkey_from_certificate(cert: &CertificateDer<'_>) -> Option<Pubkey> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let spki = parsed.subject_public_key_info();
    let key = spki.as_ref().strip_prefix(SPKI_ED25519_PREFIX)?;
    let key: [u8; 32] = key.try_into().ok()?;
    Some(Pubkey::new_from_array(key))
}

/// The identity of the peer of an established connection.
pub fn peer_identity(connection: &quinn::Connection) -> Option<Pubkey> {
    let certs = connection
        .peer_identity()?
        .downcast::<Vec<CertificateDer<'static>>>()
        .ok()?;
    pubkey_from_certificate(certs.first()?)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad_certificate() -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
}

fn no_tls12() -> rustls::Error {
    rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered)
}

/// The handshake-signature part both verifiers share: TLS 1.3 only, Ed25519 only, checked with
/// the provider's algorithms (`self.algorithms`).
macro_rules! ed25519_tls13_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            _message: &[u8],
            _cert: &CertificateDer<'_>,
            _dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Err(no_tls12())
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            vec![SignatureScheme::ED25519]
        }
    };
}

/// Where the client's verifier records the identity the server presented.
pub(crate) type PresentedIdentity = Arc<Mutex<Option<Pubkey>>>;

/// Client side: accepts exactly the expected upstream identity.
#[derive(Debug)]
pub(crate) struct UpstreamVerifier {
    expected: Pubkey,
    algorithms: WebPkiSupportedAlgorithms,
    /// The identity the server presented, for a typed mismatch error.
    seen: PresentedIdentity,
}

impl ServerCertVerifier for UpstreamVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let key = pubkey_from_certificate(end_entity).ok_or_else(bad_certificate)?;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(key);
        }
        if key != self.expected {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    ed25519_tls13_signatures!();
}

/// Server side: requires a client certificate with an Ed25519 identity and a valid handshake
/// signature; the allowlist is applied after the handshake.
#[derive(Debug)]
pub(crate) struct ClientIdentityVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ClientIdentityVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        pubkey_from_certificate(end_entity).ok_or_else(bad_certificate)?;
        Ok(ClientCertVerified::assertion())
    }

    ed25519_tls13_signatures!();
}

/// The rustls server configuration of a replication server with this identity.
fn server_tls_config(identity: &Keypair) -> Result<rustls::ServerConfig, IdentityError> {
    let provider = provider();
    let verifier = Arc::new(ClientIdentityVerifier {
        algorithms: provider.signature_verification_algorithms,
    });
    let (cert, key) = self_signed_certificate(identity);
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(IdentityError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .map_err(IdentityError::Tls)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// The rustls client configuration for connecting to `expected` with this identity; the
/// returned cell receives the identity the server presents.
fn client_tls_config(
    identity: &Keypair,
    expected: Pubkey,
) -> Result<(rustls::ClientConfig, PresentedIdentity), IdentityError> {
    let provider = provider();
    let seen = Arc::new(Mutex::new(None));
    let verifier = Arc::new(UpstreamVerifier {
        expected,
        algorithms: provider.signature_verification_algorithms,
        seen: seen.clone(),
    });
    let (cert, key) = self_signed_certificate(identity);
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(IdentityError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![cert], key)
        .map_err(IdentityError::Tls)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok((config, seen))
}

/// The quinn configuration of a replication server with this identity: TLS as described in
/// this module, transport settings from `quic`.
pub fn quinn_server_config(
    identity: &Keypair,
    quic: &QuicConfig,
) -> Result<quinn::ServerConfig, IdentityError> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(server_tls_config(identity)?)?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(quic.transport_config(true)));
    Ok(config)
}

/// The quinn configuration of a client with this identity that accepts only a server whose
/// identity is `expected`.
pub fn quinn_client_config(
    identity: &Keypair,
    expected: Pubkey,
    quic: &QuicConfig,
) -> Result<quinn::ClientConfig, IdentityError> {
    quinn_client_config_observed(identity, expected, quic).map(|(config, _)| config)
}

/// [`quinn_client_config`], plus the cell that receives the identity the server presents.
pub(crate) fn quinn_client_config_observed(
    identity: &Keypair,
    expected: Pubkey,
    quic: &QuicConfig,
) -> Result<(quinn::ClientConfig, PresentedIdentity), IdentityError> {
    let (tls, presented) = client_tls_config(identity, expected)?;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(quic.transport_config(false)));
    Ok((config, presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_carries_identity_and_valid_self_signature() {
        let keypair = Keypair::new();
        let (cert, key) = self_signed_certificate(&keypair);
        assert_eq!(
            pubkey_from_certificate(&cert),
            Some(identity_pubkey(&keypair))
        );

        // The certificate's own signature verifies with its key (webpki parses it fully).
        let parsed = webpki::EndEntityCert::try_from(&cert).unwrap();
        // Split the DER: outer SEQUENCE { tbs SEQUENCE, algorithm, BIT STRING signature }.
        fn header_len(der: &[u8]) -> (usize, usize) {
            match der[1] {
                n if n < 0x80 => (2, n as usize),
                0x81 => (3, der[2] as usize),
                _ => (4, (der[2] as usize) << 8 | der[3] as usize),
            }
        }
        let der = cert.as_ref();
        let (outer, _) = header_len(der);
        let (tbs_head, tbs_len) = header_len(&der[outer..]);
        let tbs = &der[outer..outer + tbs_head + tbs_len];
        let signature = &der[der.len() - 64..];
        parsed
            .verify_signature(webpki::ring::ED25519, tbs, signature)
            .unwrap();

        // rustls accepts the private key.
        rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(key)
            .unwrap();
    }

    /// A certificate naming `claimed` whose handshake signatures are made with `signer`'s key.
    fn impostor_key(claimed: &Keypair, signer: &Keypair) -> Arc<rustls::sign::SingleCertAndKey> {
        let (cert, _) = self_signed_certificate(claimed);
        let (_, key) = self_signed_certificate(signer);
        let key = provider().key_provider.load_private_key(key).unwrap();
        Arc::new(rustls::sign::CertifiedKey::new(vec![cert], key).into())
    }

    #[tokio::test]
    async fn client_rejects_server_presenting_stolen_certificate() {
        let (real, thief) = (Keypair::new(), Keypair::new());
        let provider = provider();
        let mut tls = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(ClientIdentityVerifier {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_cert_resolver(impostor_key(&real, &thief));
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap();
        let server = quinn::Endpoint::server(
            quinn::ServerConfig::with_crypto(Arc::new(crypto)),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
        let addr = server.local_addr().unwrap();
        let accept = tokio::spawn(async move {
            let incoming = server.accept().await.unwrap();
            let _ = incoming.await;
        });
        let outcome = super::super::ReplicationClient::connect(
            &Keypair::new(),
            addr,
            identity_pubkey(&real),
            super::super::ReplicationClientConfig::default(),
        )
        .await;
        // The certificate names the expected key, but the handshake signature is not by it.
        assert!(
            matches!(outcome, Err(super::super::ClientError::Connection(_))),
            "{outcome:?}"
        );
        accept.await.unwrap();
    }

    #[tokio::test]
    async fn server_rejects_client_presenting_stolen_certificate() {
        use crate::{source::MemorySlotSource, transport::*};
        let (allowed, thief, server_key) = (Keypair::new(), Keypair::new(), Keypair::new());
        let server_identity = identity_pubkey(&server_key);
        let cancel = tokio_util::sync::CancellationToken::new();
        let server = ReplicationServer::spawn(
            ReplicationServerConfig::new(
                server_key,
                "127.0.0.1:0".parse().unwrap(),
                [identity_pubkey(&allowed)].into_iter().collect(),
            ),
            Arc::new(MemorySlotSource::new()),
            cancel.clone(),
        )
        .unwrap();

        let provider = provider();
        let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(UpstreamVerifier {
                expected: server_identity,
                algorithms: provider.signature_verification_algorithms,
                seen: Default::default(),
            }))
            .with_client_cert_resolver(impostor_key(&allowed, &thief));
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let attempt = async {
            let conn = endpoint
                .connect_with(
                    quinn::ClientConfig::new(Arc::new(crypto)),
                    server.local_addr(),
                    SERVER_NAME,
                )
                .unwrap()
                .await?;
            // TLS 1.3: the client may finish before the server checked its signature; the
            // server then closes the connection instead of answering.
            let (mut send, mut recv) = conn.open_bi().await?;
            send.write_all(&[0; 8]).await.map_err(|e| match e {
                quinn::WriteError::ConnectionLost(e) => e,
                other => panic!("{other:?}"),
            })?;
            let _ = send.finish();
            match recv.read_to_end(1024).await {
                Ok(bytes) => panic!("impostor got an answer: {bytes:?}"),
                Err(quinn::ReadToEndError::Read(quinn::ReadError::ConnectionLost(e))) => {
                    Err::<(), _>(e)
                }
                Err(other) => panic!("{other:?}"),
            }
        };
        let error: quinn::ConnectionError =
            tokio::time::timeout(std::time::Duration::from_secs(10), attempt)
                .await
                .unwrap()
                .unwrap_err();
        assert!(
            matches!(
                error,
                quinn::ConnectionError::TransportError(_)
                    | quinn::ConnectionError::ConnectionClosed(_)
            ),
            "{error:?}"
        );
        cancel.cancel();
        server.join().await;
    }

    #[test]
    fn garbage_certificate_has_no_identity() {
        assert_eq!(
            pubkey_from_certificate(&CertificateDer::from(vec![0x30, 0x00])),
            None
        );
        assert_eq!(pubkey_from_certificate(&CertificateDer::from(vec![])), None);
    }

    #[test]
    fn load_identity_reads_solana_keypair_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        let keypair = Keypair::new();
        solana_keypair::write_keypair_file(&keypair, &path).unwrap();
        let loaded = load_identity(&path).unwrap();
        assert_eq!(identity_pubkey(&loaded), identity_pubkey(&keypair));
        assert!(matches!(
            load_identity(dir.path().join("missing.json")),
            Err(IdentityError::Read { .. })
        ));
    }
}
