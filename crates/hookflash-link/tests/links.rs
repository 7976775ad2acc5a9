//! Links end to end: loopback TCP, TLS with generated certificates, a serial pseudo-terminal
//! pair, garbage between frames, reconnects, in-flight requests and the read-idle timeout.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::BytesMut;
use hookflash_csta::framing::{self, Framing};
use hookflash_link::{
    LinkError,
    backoff::{Backoff, BackoffConfig},
    codec::{FrameCodec, Item},
    requests::InFlight,
    session::{Clock, RunConfig, Session, run, supervise},
    transport::{self, TlsPem, Transport},
    url::LinkUrl,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::oneshot,
    time::Instant,
};
use tokio_util::codec::Decoder;

const PDU: &[u8] = &[0xA1, 0x03, 0x02, 0x01, 0x07];

fn framed(f: Framing, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    framing::write_frame(f, payload, None, &mut v).unwrap();
    v
}

/// Reads until `n` items were decoded (or the stream ends).
async fn read_items(t: &mut Transport, codec: &mut FrameCodec, n: usize) -> Vec<Item> {
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    while items.len() < n {
        while let Some(i) = codec.decode(&mut buf).unwrap() {
            items.push(i);
        }
        if items.len() >= n {
            break;
        }
        let mut chunk = [0u8; 64];
        let k = t.read(&mut chunk).await.unwrap();
        if k == 0 {
            while let Some(i) = codec.decode_eof(&mut buf).unwrap() {
                items.push(i);
            }
            break;
        }
        buf.extend_from_slice(&chunk[..k]);
    }
    items
}

fn frames_of(items: &[Item]) -> Vec<Vec<u8>> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Frame { payload, .. } => Some(payload.to_vec()),
            Item::Malformed { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn tcp_link_survives_garbage_between_frames() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut wire = framed(Framing::Len2, PDU);
        wire.extend_from_slice(&[0x00, 0x00, 0xFF, 0x13, 0x37]);
        wire.extend(framed(Framing::Len2, PDU));
        s.write_all(&wire).await.unwrap();
    });
    let url: LinkUrl = format!("csta-ber+tcp://127.0.0.1:{port}?framing=len2&connect_timeout=5")
        .parse()
        .unwrap();
    let mut t = transport::connect(&url).await.unwrap();
    let mut codec = FrameCodec::new(url.framing().unwrap().unwrap());
    let items = read_items(&mut t, &mut codec, 10).await;
    server.await.unwrap();
    assert_eq!(frames_of(&items), vec![PDU.to_vec(), PDU.to_vec()]);
    assert!(codec.malformed() >= 1);
}

struct Pki {
    ca_pem: String,
    server: TlsPem,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into()]);
    let (client_cert, client_key) = leaf(vec!["client.example".into()]);
    Pki {
        ca_pem: ca_cert.pem(),
        server: TlsPem {
            ca: None,
            cert: Some(server_cert.into_bytes()),
            key: Some(server_key.into_bytes()),
        },
        client_cert,
        client_key,
    }
}

async fn tls_server(
    pem: TlsPem,
) -> (
    u16,
    tokio::task::JoinHandle<Result<Vec<u8>, std::io::Error>>,
) {
    let acceptor = transport::server_acceptor(&pem).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        let (s, _) = listener.accept().await?;
        let mut tls = acceptor.accept(s).await?;
        let mut got = vec![0u8; PDU.len() + 2];
        tls.read_exact(&mut got).await?;
        tls.write_all(&got).await?;
        tls.shutdown().await?;
        Ok(got)
    });
    (port, h)
}

#[tokio::test]
async fn tls_verifies_the_server_and_client_certificates() {
    let p = pki();
    // Server-only authentication.
    let (port, server) = tls_server(p.server.clone()).await;
    let client = transport::client_config(&TlsPem {
        ca: Some(p.ca_pem.clone().into_bytes()),
        ..TlsPem::default()
    })
    .unwrap();
    let mut t = transport::connect_tls("localhost", port, client, Duration::from_secs(5))
        .await
        .unwrap();
    t.write_all(&framed(Framing::Len2, PDU)).await.unwrap();
    let mut codec = FrameCodec::new(Framing::Len2);
    let items = read_items(&mut t, &mut codec, 1).await;
    assert_eq!(frames_of(&items), vec![PDU.to_vec()]);
    assert_eq!(server.await.unwrap().unwrap(), framed(Framing::Len2, PDU));

    // The same through a link URL naming the CA file.
    let (port, server) = tls_server(p.server.clone()).await;
    let ca_path =
        std::env::temp_dir().join(format!("hookflash-link-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_path, &p.ca_pem).unwrap();
    let url: LinkUrl = format!(
        "csta-ber+tls://localhost:{port}?framing=len2&ca={}",
        ca_path.display()
    )
    .parse()
    .unwrap();
    let mut t = transport::connect(&url).await.unwrap();
    std::fs::remove_file(&ca_path).unwrap();
    t.write_all(&framed(Framing::Len2, PDU)).await.unwrap();
    assert_eq!(
        frames_of(&read_items(&mut t, &mut codec, 1).await),
        vec![PDU.to_vec()]
    );
    assert!(server.await.unwrap().is_ok());
    let missing: LinkUrl =
        format!("csta-ber+tls://localhost:{port}?framing=len2&ca=/nonexistent/ca.pem")
            .parse()
            .unwrap();
    assert!(matches!(
        transport::connect(&missing).await,
        Err(LinkError::CertFile { .. })
    ));

    // Mutual authentication: the server demands a client certificate from the same CA.
    let mut mutual = p.server.clone();
    mutual.ca = Some(p.ca_pem.clone().into_bytes());
    let (port, server) = tls_server(mutual).await;
    let client = transport::client_config(&TlsPem {
        ca: Some(p.ca_pem.clone().into_bytes()),
        cert: Some(p.client_cert.clone().into_bytes()),
        key: Some(p.client_key.clone().into_bytes()),
    })
    .unwrap();
    let mut t = transport::connect_tls("localhost", port, client, Duration::from_secs(5))
        .await
        .unwrap();
    t.write_all(&framed(Framing::Len2, PDU)).await.unwrap();
    assert_eq!(
        frames_of(&read_items(&mut t, &mut codec, 1).await),
        vec![PDU.to_vec()]
    );
    assert!(server.await.unwrap().is_ok());
}

#[tokio::test]
async fn tls_with_the_wrong_ca_fails() {
    let p = pki();
    let other = pki();
    let (port, server) = tls_server(p.server.clone()).await;
    let client = transport::client_config(&TlsPem {
        ca: Some(other.ca_pem.into_bytes()),
        ..TlsPem::default()
    })
    .unwrap();
    let Err(err) = transport::connect_tls("localhost", port, client, Duration::from_secs(5)).await
    else {
        panic!("a certificate from an unknown CA was accepted")
    };
    assert!(matches!(err, LinkError::Tls(_)), "{err:?}");
    assert!(!err.is_recoverable());
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn tls_without_a_ca_trusts_the_public_roots_only() {
    // No CA named: the public web PKI roots are trusted, never nothing-at-all, so a PBX with a
    // privately issued certificate is still refused.
    let p = pki();
    let (port, server) = tls_server(p.server.clone()).await;
    let client = transport::client_config(&TlsPem::default()).unwrap();
    let Err(err) = transport::connect_tls("localhost", port, client, Duration::from_secs(5)).await
    else {
        panic!("an unverified certificate was accepted")
    };
    assert!(matches!(err, LinkError::Tls(_)), "{err:?}");
    assert!(!err.is_recoverable());
    assert!(server.await.unwrap().is_err());
}

/// Pseudo-terminal tests run one at a time.
static PTY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn serial_pty_pair_at_19200_baud() {
    let _guard = PTY.lock().await;
    let (mut a, b) = tokio_serial::SerialStream::pair().unwrap();
    let url: LinkUrl =
        "csta-ber+serial:///dev/null?baud=19200&parity=none&data_bits=8&stop_bits=1&flow=none"
            .parse()
            .unwrap();
    let settings = url.serial_settings().unwrap();
    assert_eq!(settings.baud, 19200);
    transport::configure_serial(&mut a, &settings).unwrap();
    {
        use tokio_serial::SerialPort;
        assert_eq!(a.baud_rate().unwrap(), 19200);
    }
    let mut wire = framed(Framing::None, PDU);
    // A header announcing 2 GiB: refused, skipped up to the next element.
    wire.extend_from_slice(&[0x30, 0x84, 0x7F, 0, 0, 0]);
    wire.extend(framed(Framing::None, PDU));
    let mut b: Transport = Box::new(b);
    b.write_all(&wire).await.unwrap();
    let mut a: Transport = Box::new(a);
    let mut codec = FrameCodec::new(Framing::None);
    let items = tokio::time::timeout(Duration::from_secs(5), read_items(&mut a, &mut codec, 3))
        .await
        .unwrap();
    assert_eq!(frames_of(&items), vec![PDU.to_vec(), PDU.to_vec()]);
    assert!(codec.malformed() >= 1);
}

/// A test session: Len2 frames in, frames as events; requests carry a 1-byte id and are
/// answered by a frame starting with that id.
struct TestSession {
    epoch: Instant,
    timeouts: u32,
    buf: Vec<u8>,
    out: Vec<Vec<u8>>,
    events: Vec<Vec<u8>>,
    malformed: u64,
    in_flight: InFlight<Vec<u8>>,
    connects: u32,
    keep_alives: u32,
    disconnect: Option<LinkError>,
}

impl TestSession {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            timeouts: 0,
            buf: Vec::new(),
            out: Vec::new(),
            events: Vec::new(),
            malformed: 0,
            in_flight: InFlight::default(),
            connects: 0,
            keep_alives: 0,
            disconnect: None,
        }
    }

    fn request(
        &mut self,
        id: u8,
        timeout: Duration,
    ) -> oneshot::Receiver<Result<Vec<u8>, LinkError>> {
        self.out.push(framed(Framing::Len2, &[id]));
        self.in_flight
            .register(u32::from(id), Instant::now() + timeout)
            .unwrap()
    }
}

impl Session for TestSession {
    type Event = Vec<u8>;

    fn handle_connect(&mut self, _now: u64) {
        self.connects += 1;
    }

    fn handle_input(&mut self, _now: u64, data: &[u8]) {
        self.buf.extend_from_slice(data);
        loop {
            match framing::next_frame(Framing::Len2, &self.buf, 1024) {
                Ok(Some(fr)) => {
                    let p = self.buf[fr.payload].to_vec();
                    self.buf.drain(..fr.consumed);
                    if let Some(&id) = p.first()
                        && !self.in_flight.complete(u32::from(id), Ok(p.clone()))
                    {
                        self.events.push(p);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    self.malformed += 1;
                    let n = framing::resync(Framing::Len2, &self.buf);
                    self.buf.drain(..n);
                }
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    fn poll_timeout(&self) -> Option<u64> {
        // The in-flight table runs on tokio instants; the test clock starts with the session.
        self.in_flight
            .next_deadline()
            .map(|d| d.saturating_duration_since(self.epoch).as_millis() as u64)
    }

    fn handle_timeout(&mut self, now: u64) {
        self.timeouts += 1;
        self.in_flight
            .expire(self.epoch + Duration::from_millis(now));
    }

    fn poll_event(&mut self) -> Option<Vec<u8>> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    fn handle_keep_alive(&mut self, _now: u64) {
        self.keep_alives += 1;
        self.out.push(framed(Framing::Len2, &[0xEE]));
    }

    fn handle_disconnect(&mut self, _now: u64, error: &LinkError) {
        self.in_flight.fail_all(&LinkError::Disconnected);
        self.disconnect = Some(error.clone());
    }
}

#[tokio::test]
async fn in_flight_requests_fail_at_once_on_disconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = [0u8; 6];
        s.read_exact(&mut req).await.unwrap();
        // Answer request 1, then drop the link with request 2 in flight.
        s.write_all(&framed(Framing::Len2, &[1, 0xAA]))
            .await
            .unwrap();
        s.write_all(b"\x00\x00junk").await.unwrap();
        s.write_all(&framed(Framing::Len2, &[0xA1, 0x42]))
            .await
            .unwrap();
        req
    });
    let mut session = TestSession::new();
    let one = session.request(1, Duration::from_secs(3600));
    let two = session.request(2, Duration::from_secs(3600));
    let t: Transport = Box::new(
        transport::connect_tcp("127.0.0.1", port, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let mut events = Vec::new();
    let clock = Clock::new();
    let err = run(&mut session, &clock, t, &RunConfig::default(), &mut |e| {
        events.push(e)
    })
    .await;
    assert!(matches!(err, LinkError::Disconnected), "{err:?}");
    assert_eq!(server.await.unwrap(), [0, 1, 1, 0, 1, 2]);
    assert_eq!(one.await.unwrap().unwrap(), vec![1, 0xAA]);
    assert!(matches!(two.await.unwrap(), Err(LinkError::Disconnected)));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(events, vec![vec![0xA1, 0x42]]);
    assert!(session.malformed >= 1);
}

#[tokio::test]
async fn supervisor_reconnects_after_the_server_drops_the_link() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        for i in 0..2u8 {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(&framed(Framing::Len2, &[0x80 + i]))
                .await
                .unwrap();
        }
        // The listener is dropped here: later connects are refused.
    });
    let mut session = TestSession::new();
    let mut backoff = Backoff::with_seed(
        BackoffConfig {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(50),
        },
        1,
    );
    let mut events = Vec::new();
    let connects = Arc::new(Mutex::new(0u32));
    let c2 = connects.clone();
    let err = supervise(
        &mut session,
        &Clock::new(),
        move || {
            *c2.lock().unwrap() += 1;
            async move {
                transport::connect_tcp("127.0.0.1", port, Duration::from_secs(5))
                    .await
                    .map(|s| Box::new(s) as Transport)
            }
        },
        &mut backoff,
        &RunConfig::default(),
        Some(3),
        &mut |e| events.push(e),
    )
    .await;
    server.await.unwrap();
    assert!(err.is_recoverable(), "{err:?}");
    assert_eq!(events, vec![vec![0x80], vec![0x81]]);
    assert_eq!(session.connects, 2);
    assert_eq!(*connects.lock().unwrap(), 5);
    assert_eq!(backoff.attempts(), 3);
}

#[tokio::test(start_paused = true)]
async fn read_idle_timeout_detects_a_dead_link_and_keep_alive_fires() {
    let (client, mut server) = tokio::io::duplex(1024);
    let mut session = TestSession::new();
    let config = RunConfig {
        read_idle: Some(Duration::from_secs(60)),
        keep_alive: Some(Duration::from_secs(25)),
        write_timeout: Some(Duration::from_secs(5)),
        read_buf: 256,
    };
    let started = Instant::now();
    // A request that times out after 10 s, while the link stays up.
    let req = session.request(7, Duration::from_secs(10));
    let clock = Clock::new();
    let err = run(&mut session, &clock, Box::new(client), &config, &mut |_| {}).await;
    assert!(matches!(req.await.unwrap(), Err(LinkError::RequestTimeout)));
    assert_eq!(session.timeouts, 1);
    assert!(
        matches!(err, LinkError::IdleTimeout(d) if d == Duration::from_secs(60)),
        "{err:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(61),
        "{waited:?}"
    );
    assert_eq!(session.keep_alives, 2);
    let mut hb = vec![0u8; 9];
    server.read_exact(&mut hb).await.unwrap();
    assert_eq!(hb, [0, 1, 7, 0, 1, 0xEE, 0, 1, 0xEE]);
}
