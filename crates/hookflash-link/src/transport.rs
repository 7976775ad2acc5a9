//! Transports: TCP, TLS and serial behind one boxed stream, so drivers never care which.

use std::{fs, io, path::Path, sync::Arc, time::Duration};

use rustls::{
    ClientConfig, RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_serial::SerialPortBuilderExt;

use crate::{
    CertFileError, LinkError,
    url::{FlowControl, LinkUrl, Parity, SerialSettings, TransportKind},
};

/// Any byte stream a link can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connected link: TCP, TLS or serial.
pub type Transport = Box<dyn Stream>;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(path: &Path) -> Result<Vec<u8>, LinkError> {
    fs::read(path).map_err(|_| LinkError::CertFile {
        path: path.display().to_string(),
        kind: CertFileError::Unreadable,
    })
}

fn certs_from_pem(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, LinkError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(LinkError::CertFile {
            path: what.to_owned(),
            kind: CertFileError::Empty,
        });
    }
    Ok(certs)
}

fn key_from_pem(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, LinkError> {
    PrivateKeyDer::from_pem_slice(pem)
        .ok()
        .ok_or_else(|| LinkError::CertFile {
            path: what.to_owned(),
            kind: CertFileError::Empty,
        })
}

fn roots_from_pem(pem: &[u8], what: &str) -> Result<RootCertStore, LinkError> {
    let mut roots = RootCertStore::empty();
    for c in certs_from_pem(pem, what)? {
        roots.add(c).map_err(|_| LinkError::CertFile {
            path: what.to_owned(),
            kind: CertFileError::BadCertificate,
        })?;
    }
    Ok(roots)
}

/// PEM material for TLS, in memory (files are read by [`TlsFiles::load`]).
#[derive(Debug, Clone, Default)]
pub struct TlsPem {
    /// The CA certificates that are trusted (clients: the PBX's CA; servers: the clients' CA,
    /// which makes client certificates required).
    pub ca: Option<Vec<u8>>,
    /// Our certificate chain.
    pub cert: Option<Vec<u8>>,
    /// Our private key.
    pub key: Option<Vec<u8>>,
}

/// Paths of TLS files (`ca`, `cert`, `key` link URL options).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// The CA file.
    pub ca: Option<String>,
    /// Our certificate file.
    pub cert: Option<String>,
    /// Our key file.
    pub key: Option<String>,
}

impl TlsFiles {
    /// The `ca`, `cert` and `key` options of a link URL.
    pub fn from_url(url: &LinkUrl) -> Self {
        Self {
            ca: url.option("ca").map(str::to_owned),
            cert: url.option("cert").map(str::to_owned),
            key: url.option("key").map(str::to_owned),
        }
    }

    /// Reads the files.
    pub fn load(&self) -> Result<TlsPem, LinkError> {
        let read = |p: &Option<String>| p.as_deref().map(|p| read_file(Path::new(p))).transpose();
        Ok(TlsPem {
            ca: read(&self.ca)?,
            cert: read(&self.cert)?,
            key: read(&self.key)?,
        })
    }
}

/// A client configuration that verifies the server (always) and presents `pem.cert`/`pem.key`
/// when both are given. The server is checked against `pem.ca` when given (PBX certificates
/// usually come from a private CA), otherwise against the public web PKI roots.
pub fn client_config(pem: &TlsPem) -> Result<Arc<ClientConfig>, LinkError> {
    let roots = match pem.ca.as_deref() {
        Some(ca) => roots_from_pem(ca, "ca")?,
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match (&pem.cert, &pem.key) {
        (Some(c), Some(k)) => {
            builder.with_client_auth_cert(certs_from_pem(c, "cert")?, key_from_pem(k, "key")?)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A server-side acceptor (simulator, bridge) with `pem.cert`/`pem.key`; when `pem.ca` is given,
/// clients must present a certificate signed by it.
pub fn server_acceptor(pem: &TlsPem) -> Result<TlsAcceptor, LinkError> {
    let missing = |what: &str| LinkError::CertFile {
        path: what.to_owned(),
        kind: CertFileError::Empty,
    };
    let certs = certs_from_pem(pem.cert.as_deref().ok_or_else(|| missing("cert"))?, "cert")?;
    let key = key_from_pem(pem.key.as_deref().ok_or_else(|| missing("key"))?, "key")?;
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match &pem.ca {
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots_from_pem(ca, "ca")?),
                provider(),
            )
            .build()
            .map_err(|e| LinkError::Tls(rustls::Error::General(e.to_string())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    Ok(TlsAcceptor::from(Arc::new(
        builder.with_single_cert(certs, key)?,
    )))
}

/// Connects TCP to `host:port` within `timeout`.
pub async fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, LinkError> {
    let s = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| LinkError::ConnectTimeout(timeout))??;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Connects TCP then TLS, verifying the server's certificate for `host`, all within `timeout`.
pub async fn connect_tls(
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<Transport, LinkError> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| LinkError::Tls(rustls::Error::General("invalid server name".into())))?;
    let fut = async {
        let tcp = connect_tcp(host, port, timeout).await?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(tls_io_error)?;
        Ok::<Transport, LinkError>(Box::new(tls))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| LinkError::ConnectTimeout(timeout))?
}

/// Maps a handshake error: certificate problems become [`LinkError::Tls`] (not recoverable).
fn tls_io_error(e: io::Error) -> LinkError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => LinkError::Tls(t.clone()),
        None => LinkError::from(e),
    }
}

/// Opens a serial port with the given settings.
pub fn open_serial(path: &str, s: &SerialSettings) -> Result<Transport, LinkError> {
    let port = tokio_serial::new(path, s.baud);
    let port = apply_serial(port, s);
    Ok(Box::new(port.open_native_async()?))
}

fn parity(p: Parity) -> tokio_serial::Parity {
    match p {
        Parity::None => tokio_serial::Parity::None,
        Parity::Even => tokio_serial::Parity::Even,
        Parity::Odd => tokio_serial::Parity::Odd,
    }
}

fn data_bits(n: u8) -> tokio_serial::DataBits {
    match n {
        5 => tokio_serial::DataBits::Five,
        6 => tokio_serial::DataBits::Six,
        7 => tokio_serial::DataBits::Seven,
        _ => tokio_serial::DataBits::Eight,
    }
}

fn stop_bits(n: u8) -> tokio_serial::StopBits {
    if n == 2 {
        tokio_serial::StopBits::Two
    } else {
        tokio_serial::StopBits::One
    }
}

fn flow(f: FlowControl) -> tokio_serial::FlowControl {
    match f {
        FlowControl::None => tokio_serial::FlowControl::None,
        FlowControl::Software => tokio_serial::FlowControl::Software,
        FlowControl::Hardware => tokio_serial::FlowControl::Hardware,
    }
}

/// The builder with the settings applied (baud, parity, bits, flow control).
pub fn apply_serial(
    b: tokio_serial::SerialPortBuilder,
    s: &SerialSettings,
) -> tokio_serial::SerialPortBuilder {
    b.baud_rate(s.baud)
        .parity(parity(s.parity))
        .data_bits(data_bits(s.data_bits))
        .stop_bits(stop_bits(s.stop_bits))
        .flow_control(flow(s.flow))
}

/// Applies settings to an already open port (e.g. one end of a pseudo-terminal pair).
pub fn configure_serial(
    port: &mut tokio_serial::SerialStream,
    s: &SerialSettings,
) -> Result<(), LinkError> {
    use tokio_serial::SerialPort;
    port.set_baud_rate(s.baud)?;
    port.set_parity(parity(s.parity))?;
    port.set_data_bits(data_bits(s.data_bits))?;
    port.set_stop_bits(stop_bits(s.stop_bits))?;
    port.set_flow_control(flow(s.flow))?;
    Ok(())
}

/// Connects whatever the URL says: TCP, TLS (files from the `ca`, `cert`, `key` options) or
/// serial (settings from the options), within the URL's `connect_timeout`.
pub async fn connect(url: &LinkUrl) -> Result<Transport, LinkError> {
    let timeout = url.connect_timeout()?;
    match url.transport {
        TransportKind::Tcp => Ok(Box::new(connect_tcp(&url.host, url.port, timeout).await?)),
        TransportKind::Tls => {
            let config = client_config(&TlsFiles::from_url(url).load()?)?;
            connect_tls(&url.host, url.port, config, timeout).await
        }
        TransportKind::Serial => open_serial(&url.path, &url.serial_settings()?),
    }
}
