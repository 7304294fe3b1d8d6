//! HTTPS clients with a platform identity: trust the platform CA (only it, when given) and
//! present the principal's certificate, which is how the schema registry knows who calls.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error(
        "cannot read {what} {path}: {source}; `make up` issues it, or pass the flag naming it"
    )]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path} is not usable PEM: {reason}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("cannot build the HTTPS client: {0}")]
    Build(String),
}

/// A client certificate and its private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, HttpsError> {
    std::fs::read(path).map_err(|source| HttpsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// A rustls client trusting `ca` (instead of the system roots) and presenting `identity`.
pub fn client(
    ca: Option<&Path>,
    identity: Option<&Identity>,
    timeout: Duration,
) -> Result<reqwest::Client, HttpsError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(ca) = ca {
        let pem = read("CA certificate", ca)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| HttpsError::Pem {
            what: "CA certificate",
            path: ca.to_owned(),
            reason: e.to_string(),
        })?;
        builder = builder.tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(id) = identity {
        // reqwest wants the key and the chain in one PEM buffer.
        let mut pem = read("private key", &id.key)?;
        pem.push(b'\n');
        pem.extend(read("client certificate", &id.cert)?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| HttpsError::Pem {
            what: "client certificate and key",
            path: id.cert.clone(),
            reason: e.to_string(),
        })?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| HttpsError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let id = Identity {
            cert: "/no/such/cert.pem".into(),
            key: "/no/such/key.pem".into(),
        };
        let err = client(None, Some(&id), Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("/no/such/key.pem"), "{err}");
        let err = client(Some(Path::new("/no/ca.pem")), None, Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("/no/ca.pem"), "{err}");
    }
}
