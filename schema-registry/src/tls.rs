//! TLS for the server: rustls from PEM files, requiring a client certificate from the platform
//! CA (mutual TLS, as on the brokers), and an acceptor that hands the verified certificate's
//! identity to the API.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::middleware::AddExtension;
use axum::Extension;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use futures::future::BoxFuture;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tower_layer::Layer;

use crate::auth::{caller_of, Caller};

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

/// Server TLS settings from a PEM chain (leaf first) and a PEM private key; every client must
/// present a certificate `client_ca` signed and that is valid now. TLS 1.2 and 1.3, HTTP/2 and
/// HTTP/1.1 by ALPN.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> Result<rustls::ServerConfig, TlsError> {
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
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| ca_error(e.to_string()))?;
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
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, private_key)
        .map_err(|e| config_error(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts TLS connections like axum-server's rustls acceptor, then puts the caller named by
/// the verified client certificate into every request of the connection.
#[derive(Debug, Clone)]
pub struct IdentifyingAcceptor {
    inner: RustlsAcceptor,
}

impl IdentifyingAcceptor {
    pub fn new(config: RustlsConfig) -> Self {
        IdentifyingAcceptor {
            inner: RustlsAcceptor::new(config),
        }
    }
}

impl<I, S> Accept<I, S> for IdentifyingAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Send + 'static,
{
    type Stream = TlsStream<I>;
    type Service = AddExtension<S, Caller>;
    type Future = BoxFuture<'static, std::io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let (stream, service) = inner.accept(stream, service).await?;
            let caller = caller_of(stream.get_ref().1.peer_certificates());
            Ok((stream, Extension(caller).layer(service)))
        })
    }
}
