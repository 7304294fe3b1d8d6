//! The registry's TLS acceptor: hands the verified client certificate's identity to the API.
//! The server settings themselves are shared ([`vygoda_common::tls`]).

use axum::middleware::AddExtension;
use axum::Extension;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tower_layer::Layer;

pub use vygoda_common::tls::{server_config, TlsError};

use crate::auth::{caller_of, Caller};

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
