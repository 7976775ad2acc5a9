//! HTTPS: a listener that completes TLS handshakes off the accept loop.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::BridgeError;

/// How long a client may take for its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, BridgeError> {
    server_config_with_clients(cert, key, None)
}

/// The server configuration from PEM files; with `client_ca`, every client must present a
/// certificate issued by one of its CAs (mutual TLS).
pub fn server_config_with_clients(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, BridgeError> {
    let certs = certs_from_file(cert)?;
    if certs.is_empty() {
        return Err(BridgeError::NoCertificate(cert.to_path_buf()));
    }
    let key = match PrivateKeyDer::from_pem_slice(&std::fs::read(key)?) {
        Ok(k) => k,
        Err(pem::Error::NoItemsFound) => return Err(BridgeError::NoPrivateKey(key.to_path_buf())),
        Err(e) => return Err(pem_error(e).into()),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs_from_file(ca)? {
                roots.add(c)?;
            }
            if roots.is_empty() {
                return Err(BridgeError::NoCertificate(ca.to_path_buf()));
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let cfg = builder.with_single_cert(certs, key)?;
    Ok(Arc::new(cfg))
}

/// Every certificate in a PEM file (none when it holds none).
fn certs_from_file(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(&std::fs::read(path)?)
        .collect::<Result<_, _>>()
        .map_err(pem_error)
}

/// A malformed PEM file, as the I/O error (invalid data) the configuration reports.
fn pem_error(e: pem::Error) -> io::Error {
    match e {
        pem::Error::Io(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

/// A listener that yields TLS streams; handshakes run concurrently, each with a timeout.
#[derive(Debug)]
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsListener {
    /// Wraps `tcp` with `cfg`.
    pub fn new(tcp: TcpListener, cfg: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(cfg);
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, addr)) = tcp.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Events are small WebSocket frames written as they happen: without TCP_NODELAY,
                // Nagle holds a frame back until the client's delayed ACK (40 ms on Linux).
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        let _ = tx.send((tls, addr)).await;
                    }
                });
            }
        });
        Ok(Self { rx, local, task })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task never ends on its own; if it did, wait for ever (no busy loop).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
