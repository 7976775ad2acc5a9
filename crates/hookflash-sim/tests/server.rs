//! End to end: the project's CSTA client session (`hookflash_csta::client::Client`) against a
//! running `SimServer` over real loopback TCP, TLS and a pseudo-terminal serial line, for both
//! protocols; faults (dropped links, restarts) and the truth stream.

use std::time::Duration;

use hookflash_core::driver::{CallEventKind, DriverEvent};
use hookflash_core::model::DeviceId;
use hookflash_csta::client::{Client, ClientEvent, Config, Credentials, Wire};
use hookflash_csta::framing::Framing;
use hookflash_csta::xml::session::{Config as XmlConfig, Login};
use hookflash_sim::face::{self, FaceProtocol};
use hookflash_sim::net::{SimServer, SimServerConfig, TlsSetup};
use hookflash_sim::{Command, SimConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

fn sim(rate: f64) -> SimConfig {
    SimConfig {
        calls_per_minute: rate,
        agents: 4,
        queues: 1,
        extensions: 4,
        ring_ms: 1_000,
        talk_ms: 5_000,
        acw_ms: 1_000,
        truth: true,
        ..SimConfig::default()
    }
}

fn server_cfg(protocol: FaceProtocol, s: SimConfig) -> SimServerConfig {
    let mut c = SimServerConfig::new(protocol, s);
    c.face.credentials = Some(face::Credentials {
        user: "cti".into(),
        password: "secret".into(),
    });
    c
}

fn ber_client(framing: Framing, password: &str) -> Client {
    Client::new(Config::new(
        "sim",
        Wire::Ber {
            framing,
            associate: true,
            credentials: Some(Credentials {
                user: "cti".into(),
                password: password.into(),
            }),
        },
    ))
}

fn xml_client(password: &str) -> Client {
    Client::new(Config::new(
        "sim",
        Wire::Xml(XmlConfig {
            login: Login::Avaya {
                user: "cti".into(),
                password: password.into(),
                cleanup_delay: 60,
            },
            ..XmlConfig::default()
        }),
    ))
}

/// Drives `client` over `stream` until `done` says so, the peer closes, or `limit` passes.
/// Returns every client event, and whether the peer closed the link.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    client: &mut Client,
    t0: Instant,
    limit: Duration,
    mut done: impl FnMut(&[ClientEvent]) -> bool,
) -> (Vec<ClientEvent>, bool) {
    let ms = |t0: Instant| t0.elapsed().as_millis() as u64;
    let end = Instant::now() + limit;
    let mut events = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(f) = client.poll_transmit() {
            stream.write_all(&f).await.unwrap();
        }
        while let Some(e) = client.poll_event() {
            events.push(e);
        }
        if done(&events) {
            return (events, false);
        }
        if Instant::now() >= end {
            return (events, false);
        }
        let wake = client
            .poll_timeout()
            .map(|d| t0 + Duration::from_millis(d))
            .unwrap_or(end)
            .min(end);
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => {
                    client.handle_disconnect(ms(t0));
                    while let Some(e) = client.poll_event() {
                        events.push(e);
                    }
                    return (events, true);
                }
                Ok(n) => client.handle_input(ms(t0), &buf[..n]),
            },
            () = tokio::time::sleep_until(wake) => client.handle_timeout(ms(t0)),
        }
    }
}

fn monitored(events: &[ClientEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Monitored { result: Ok(()), .. }))
        .count()
}

fn delivered_to(events: &[ClientEvent], dev: &str) -> bool {
    events.iter().any(|e| {
        matches!(e, ClientEvent::Driver(DriverEvent::Call { event: CallEventKind::Delivered { alerting, .. }, .. }) if alerting.as_str() == dev)
    })
}

/// Monitors two extensions, makes a call between them through the control handle, and waits
/// for the client to see it ring.
async fn call_scenario<S: AsyncRead + AsyncWrite + Unpin>(
    server: &SimServer,
    stream: &mut S,
    client: Client,
) -> Client {
    call_between(server, stream, client, "200000", "200001").await
}

async fn call_between<S: AsyncRead + AsyncWrite + Unpin>(
    server: &SimServer,
    stream: &mut S,
    mut client: Client,
    a: &str,
    b: &str,
) -> Client {
    let t0 = Instant::now();
    client.handle_connect(0);
    for d in [a, b] {
        client.monitor(0, DeviceId::from(d));
    }
    let (ev, closed) = drive(stream, &mut client, t0, Duration::from_secs(10), |e| {
        monitored(e) == 2
    })
    .await;
    assert!(!closed, "{ev:?}");
    assert_eq!(monitored(&ev), 2, "{ev:?}");
    server
        .control()
        .command(Command::MakeCall {
            calling: a.into(),
            called: b.into(),
        })
        .await
        .unwrap();
    let (ev, _) = drive(stream, &mut client, t0, Duration::from_secs(10), |e| {
        delivered_to(e, b)
    })
    .await;
    assert!(delivered_to(&ev, b), "{ev:?}");
    client
}

#[tokio::test]
async fn csta_ber_over_tcp() {
    for framing in [Framing::Len2, Framing::HiPath] {
        let server = SimServer::start(server_cfg(FaceProtocol::CstaBer(framing), sim(0.0)))
            .await
            .unwrap();
        let mut tcp = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        call_scenario(&server, &mut tcp, ber_client(framing, "secret")).await;
        let stats = server.control().stats().await;
        assert_eq!(stats.monitors, 2);
        assert_eq!(stats.connections_open, 1);
        server.shutdown().await;
    }
}

#[tokio::test]
async fn csta_xml_over_tcp() {
    let server = SimServer::start(server_cfg(FaceProtocol::CstaXml, sim(0.0)))
        .await
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr().unwrap())
        .await
        .unwrap();
    call_scenario(&server, &mut tcp, xml_client("secret")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    for (protocol, client) in [
        (
            FaceProtocol::CstaBer(Framing::Len2),
            ber_client(Framing::Len2, "nope"),
        ),
        (FaceProtocol::CstaXml, xml_client("nope")),
    ] {
        let mut client = client;
        let server = SimServer::start(server_cfg(protocol, sim(0.0)))
            .await
            .unwrap();
        let mut tcp = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        client.handle_connect(0);
        let (ev, _) = drive(
            &mut tcp,
            &mut client,
            Instant::now(),
            Duration::from_secs(5),
            |e| e.iter().any(|x| matches!(x, ClientEvent::Refused { .. })),
        )
        .await;
        assert!(
            ev.iter().any(|x| matches!(x, ClientEvent::Refused { .. })),
            "{protocol:?}: {ev:?}"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn csta_ber_over_tls_with_the_generated_certificate() {
    let mut cfg = server_cfg(FaceProtocol::CstaBer(Framing::HiPath), sim(0.0));
    cfg.tls = Some(TlsSetup::SelfSigned);
    let server = SimServer::start(cfg).await.unwrap();
    let pem = hookflash_link::transport::TlsPem {
        ca: Some(server.certificate_pem().unwrap().as_bytes().to_vec()),
        cert: None,
        key: None,
    };
    let tls_cfg = hookflash_link::transport::client_config(&pem).unwrap();
    let port = server.local_addr().unwrap().port();
    let mut stream =
        hookflash_link::transport::connect_tls("localhost", port, tls_cfg, Duration::from_secs(5))
            .await
            .unwrap();
    call_scenario(&server, &mut stream, ber_client(Framing::HiPath, "secret")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn csta_xml_over_a_pseudo_terminal() {
    let mut cfg = server_cfg(FaceProtocol::CstaXml, sim(0.0));
    cfg.listen = None;
    cfg.serial = true;
    let server = SimServer::start(cfg).await.unwrap();
    let path = server.serial_path().unwrap().to_string_lossy().into_owned();
    let mut port = hookflash_link::transport::open_serial(
        &path,
        &hookflash_link::url::SerialSettings::default(),
    )
    .unwrap();
    call_scenario(&server, &mut port, xml_client("secret")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn dropped_links_and_restarts_reach_the_client() {
    let server = SimServer::start(server_cfg(FaceProtocol::CstaBer(Framing::Len2), sim(0.0)))
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut client = call_scenario(&server, &mut tcp, ber_client(Framing::Len2, "secret")).await;
    // A restart: the PBX forgets the monitors and polls with SystemStatus initializing; the
    // link stays up.
    server.control().restart().await;
    assert_eq!(server.control().stats().await.monitors, 0);
    let t0 = Instant::now();
    let (_, closed) = drive(&mut tcp, &mut client, t0, Duration::from_secs(5), |_| false).await;
    assert!(!closed);
    // The link drops: the client sees the connection close.
    server.control().drop_links().await;
    let (_, closed) = drive(&mut tcp, &mut client, t0, Duration::from_secs(5), |_| false).await;
    assert!(closed, "the link was dropped");
    let st = server.control().stats().await;
    assert_eq!(st.monitors, 0);
    // The server says why the connection ended: the PBX dropped it.
    assert_eq!(st.face_closes, vec![face::CloseReason::LinkDropped]);
    assert_eq!((st.slow_consumer_drops, st.peer_closes), (0, 0));
    // And a new connection is served again.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let c = ber_client(Framing::Len2, "secret");
    call_between(&server, &mut tcp, c, "200002", "200003").await;
    // The client hangs up: counted as the client's close, not the face's.
    drop(tcp);
    let t = Instant::now();
    while server.control().stats().await.peer_closes == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the close was not seen"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let st = server.control().stats().await;
    assert_eq!(st.peer_closes, 1);
    assert_eq!(st.face_closes, vec![face::CloseReason::LinkDropped]);
    server.shutdown().await;
}

#[tokio::test]
async fn generated_traffic_and_truth_lines_flow() {
    let mut cfg = server_cfg(FaceProtocol::CstaXml, sim(600.0));
    cfg.time_scale = 20.0;
    let dir = std::env::temp_dir().join(format!("hookflash-sim-truth-{}", std::process::id()));
    cfg.truth_file = Some(dir.clone());
    let server = SimServer::start(cfg).await.unwrap();
    let mut truth = server.truth();
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr().unwrap())
        .await
        .unwrap();
    let mut client = xml_client("secret");
    client.handle_connect(0);
    for d in ["300000", "300001", "300002", "300003", "6000"] {
        client.monitor(0, DeviceId::from(d));
    }
    let (ev, closed) = drive(
        &mut tcp,
        &mut client,
        Instant::now(),
        Duration::from_secs(8),
        |e| {
            e.iter()
                .filter(|x| {
                    matches!(
                        x,
                        ClientEvent::Driver(DriverEvent::Call {
                            event: CallEventKind::CallCleared,
                            ..
                        })
                    )
                })
                .count()
                >= 3
        },
    )
    .await;
    assert!(!closed);
    let cleared = ev
        .iter()
        .filter(|x| {
            matches!(
                x,
                ClientEvent::Driver(DriverEvent::Call {
                    event: CallEventKind::CallCleared,
                    ..
                })
            )
        })
        .count();
    assert!(cleared >= 3, "{ev:?}");
    let mut calls = 0;
    while let Ok(line) = truth.try_recv() {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "call" {
            calls += 1;
        }
    }
    assert!(calls >= 1);
    server.shutdown().await;
    let file = std::fs::read_to_string(&dir).unwrap();
    let _ = std::fs::remove_file(&dir);
    assert!(file.lines().any(|l| l.contains("\"kind\":\"call\"")));
}

#[tokio::test]
async fn ten_thousand_monitors_on_one_link() {
    let s = SimConfig {
        extensions: 10_000,
        monitor_limit: 20_000,
        ..sim(0.0)
    };
    let server = SimServer::start(server_cfg(FaceProtocol::CstaBer(Framing::Len2), s))
        .await
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr().unwrap())
        .await
        .unwrap();
    let mut client = ber_client(Framing::Len2, "secret");
    client.handle_connect(0);
    for i in 0..10_000 {
        client.monitor(0, DeviceId::from(format!("{}", 200_000 + i).as_str()));
    }
    let (ev, closed) = drive(
        &mut tcp,
        &mut client,
        Instant::now(),
        Duration::from_secs(60),
        |e| monitored(e) == 10_000,
    )
    .await;
    assert!(!closed);
    assert_eq!(monitored(&ev), 10_000);
    assert_eq!(server.control().stats().await.monitors, 10_000);
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn paused_time_runs_the_engine_without_spinning() {
    // An hour of traffic in virtual time: the engine task sleeps until each deadline.
    let server = SimServer::start(server_cfg(FaceProtocol::CstaXml, sim(30.0)))
        .await
        .unwrap();
    let mut truth = server.truth();
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    let stats = server.control().stats().await;
    assert!(stats.engine.calls_offered > 1_000, "{stats:?}");
    assert_eq!(
        stats.groups.iter().map(|g| g.answered).sum::<u64>(),
        stats.engine.acd_answered
    );
    let mut calls = 0;
    while let Ok(l) = truth.try_recv() {
        calls += usize::from(l.contains("\"kind\":\"call\""));
    }
    assert!(calls > 1_000, "{calls}");
    server.shutdown().await;
}

fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

#[tokio::test]
async fn stamped_events_carry_the_time_they_were_sent() {
    for protocol in [FaceProtocol::CstaBer(Framing::Len2), FaceProtocol::CstaXml] {
        let mut cfg = server_cfg(protocol, sim(0.0));
        cfg.stamp_events = true;
        let server = SimServer::start(cfg).await.unwrap();
        let mut tcp = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let mut client = match protocol {
            FaceProtocol::CstaXml => xml_client("secret"),
            _ => ber_client(Framing::Len2, "secret"),
        };
        let t0 = Instant::now();
        client.handle_connect(0);
        for d in ["200000", "200001"] {
            client.monitor(0, DeviceId::from(d));
        }
        let (ev, _) = drive(&mut tcp, &mut client, t0, Duration::from_secs(10), |e| {
            monitored(e) == 2
        })
        .await;
        assert_eq!(monitored(&ev), 2, "{ev:?}");
        let before = wall_us();
        server
            .control()
            .command(Command::MakeCall {
                calling: "200000".into(),
                called: "200001".into(),
            })
            .await
            .unwrap();
        let rang = |e: &ClientEvent| {
            matches!(e, ClientEvent::StampedDriver { event: DriverEvent::Call {
                event: CallEventKind::Delivered { alerting, .. }, .. }, .. }
                if alerting.as_str() == "200001")
        };
        let (ev, _) = drive(&mut tcp, &mut client, t0, Duration::from_secs(10), |e| {
            e.iter().any(rang)
        })
        .await;
        let after = wall_us();
        assert!(ev.iter().any(rang), "{protocol:?}: {ev:?}");
        // Every call event is stamped, with a time between the command and its receipt.
        for e in &ev {
            match e {
                ClientEvent::StampedDriver { pbx_time_us, .. } => assert!(
                    (before..=after).contains(pbx_time_us),
                    "{protocol:?}: {before} <= {pbx_time_us} <= {after}"
                ),
                ClientEvent::Driver(d @ DriverEvent::Call { .. }) => {
                    panic!("{protocol:?}: unstamped {d:?}")
                }
                _ => {}
            }
        }
        server.shutdown().await;
    }
}
