//! TLS for vygoda's HTTPS servers (the schema registry, the CLIENT API): rustls from PEM
//! files, requiring a client certificate from the platform CA (mutual TLS, as on the brokers),
//! and the listener and shutdown plumbing every such server shares.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificate chain {path}: {reason}; pass a PEM file with --tls-cert")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read private key {path}: {reason}; pass a PEM key with --tls-key")]
    Key { path: PathBuf, reason: String },
    #[error("certificate {cert} and key {key} do not form a usable TLS identity: {reason}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("cannot use the client CA {path}: {reason}; pass the platform CA with --client-ca")]
    ClientCa { path: PathBuf, reason: String },
}

/// The aws-lc-rs provider, chosen explicitly: several rustls providers are compiled into the
/// workspace, and relying on a process default would make the choice depend on the dependency
/// graph.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Server TLS settings from a PEM chain (leaf first) and a PEM private key. With `client_ca`,
/// every client must present a certificate it signed and that is valid now (mutual TLS);
/// without, any client may connect. TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert {
            path: cert.to_owned(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Cert {
            path: cert.to_owned(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let config_error = |reason: String| TlsError::Config {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason,
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, private_key)
        .map_err(|e| config_error(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Accept client certificates `client_ca` signed.
fn client_verifier(
    client_ca: &Path,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let ca_error = |reason: String| TlsError::ClientCa {
        path: client_ca.to_owned(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(client_ca).map_err(|e| ca_error(e.to_string()))? {
        roots
            .add(ca.map_err(|e| ca_error(e.to_string()))?)
            .map_err(|e| ca_error(e.to_string()))?;
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| ca_error(e.to_string()))
}

/// Bind `listen` now, so a taken port fails the start and port 0 (tests) reports the real port.
pub fn bind(listen: SocketAddr) -> std::io::Result<(std::net::TcpListener, SocketAddr)> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// When `stop` is cancelled (SIGTERM/SIGINT): stop accepting and give in-flight requests
/// `grace` to finish.
pub fn shutdown_on(
    stop: CancellationToken,
    handle: axum_server::Handle<SocketAddr>,
    grace: Duration,
) {
    tokio::spawn(async move {
        stop.cancelled().await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "stopping: finishing in-flight requests"
        );
        handle.graceful_shutdown(Some(grace));
    });
}
