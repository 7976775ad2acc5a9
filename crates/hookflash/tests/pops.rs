//! Screen pops end to end: a fake link, the pop stream, and each built-in directory (the HTTP
//! one against a local test server).

mod common;

use std::time::Duration;

use async_trait::async_trait;
use common::{all_caps, fake};
use hookflash::core::dialplan::DialPlan;
use hookflash::core::driver::CallEventKind;
use hookflash::directory::{CsvDirectory, HttpDirectory, InMemoryDirectory};
use hookflash::{
    Cti, Customer, CustomerDirectory, DirectoryError, Filter, Lookup, ScreenPop, ScreenPops,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn pop(pops: &mut ScreenPops) -> ScreenPop {
    tokio::time::timeout(Duration::from_secs(5), pops.recv())
        .await
        .expect("a pop within 5 s")
        .expect("a pop")
}

fn directory() -> InMemoryDirectory {
    let mut d = InMemoryDirectory::new();
    d.insert(
        "030 1234567",
        Customer::named("Ada Lovelace").with("account", "A-1"),
    );
    d
}

#[tokio::test]
async fn a_ringing_call_pops_with_the_customer() {
    let (drv, h) = fake("pbx", all_caps());
    let cti = Cti::builder()
        .driver(drv)
        .directory(directory())
        .build()
        .unwrap();
    let mut pops = cti.screen_pops();
    h.up();
    h.monitored("1001");
    h.call(
        "c1",
        CallEventKind::CallData {
            correlator: Some("UCID-9".into()),
            uui: None,
            attached: vec![("order".into(), "77".into())],
        },
    );
    h.ring("c1", "1001", "0301234567");
    let p = pop(&mut pops).await;
    assert_eq!(p.device.as_str(), "1001");
    assert_eq!(p.ani.as_ref().unwrap().raw, "0301234567");
    assert_eq!(
        p.ani.as_ref().unwrap().e164.as_deref(),
        Some("+49301234567")
    );
    assert_eq!(p.dnis.as_ref().unwrap().raw, "1001");
    assert_eq!(p.data.attached.get("order").map(String::as_str), Some("77"));
    assert_eq!(p.link.as_deref(), Some("pbx"));
    let c = p.lookup.customer().unwrap();
    assert_eq!(c.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(c.fields["account"], "A-1");
    assert_eq!(cti.call(p.call).unwrap().id, p.call);

    h.ring("c2", "1001", "0309999999");
    assert_eq!(pop(&mut pops).await.lookup, Lookup::NotFound);
    h.call(
        "c3",
        CallEventKind::Delivered {
            alerting: "1001".into(),
            calling: None,
            called: Some("1001".into()),
            last_redirection: None,
        },
    );
    assert_eq!(pop(&mut pops).await.lookup, Lookup::NoNumber);
}

#[tokio::test]
async fn pops_for_one_agent_only_and_without_a_directory() {
    let (drv, h) = fake("pbx", all_caps());
    let cti = Cti::builder().driver(drv).build().unwrap();
    let mut mine = ScreenPops::with_filter(&cti, Filter::all().device("1002"));
    h.up();
    h.monitored("1001");
    h.monitored("1002");
    h.ring("c1", "1001", "0301234567");
    h.ring("c2", "1002", "0301234567");
    let p = pop(&mut mine).await;
    assert_eq!(p.device.as_str(), "1002");
    assert_eq!(p.lookup, Lookup::NoDirectory);
}

struct Slow;

#[async_trait]
impl CustomerDirectory for Slow {
    async fn lookup(&self, _ani: &str) -> Result<Option<Customer>, DirectoryError> {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Some(Customer::named("too late")))
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_directory_times_out_and_the_pop_still_comes() {
    let (drv, h) = fake("pbx", all_caps());
    let cti = Cti::builder()
        .driver(drv)
        .directory(Slow)
        .lookup_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut pops = cti.screen_pops();
    h.up();
    h.monitored("1001");
    h.ring("c1", "1001", "0301234567");
    let p = pop(&mut pops).await;
    assert_eq!(p.lookup, Lookup::Failed(DirectoryError::Timeout));
}

#[tokio::test]
async fn a_csv_file_directory() {
    let path = std::env::temp_dir().join(format!("hookflash-pops-{}.csv", std::process::id()));
    std::fs::write(
        &path,
        "id,name,phone,company\n17,Grace Hopper,+1 555 0100 200,\"Navy, US\"\n",
    )
    .unwrap();
    let dir = CsvDirectory::load(&path, &DialPlan::default()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let c = dir.lookup("+15550100200").await.unwrap().unwrap();
    assert_eq!(c.id.as_deref(), Some("17"));
    assert_eq!(c.fields["company"], "Navy, US");
    assert!(matches!(
        CsvDirectory::load(
            std::env::temp_dir().join("hookflash-no-such.csv"),
            &DialPlan::default()
        ),
        Err(DirectoryError::Io(std::io::ErrorKind::NotFound))
    ));
}

/// Serves one connection: reads the request head, answers `response`, returns the request.
async fn serve_once(response: Vec<u8>) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
        }
        s.write_all(&response).await.unwrap();
        s.shutdown().await.ok();
        String::from_utf8(req).unwrap()
    });
    (port, task)
}

#[tokio::test]
async fn an_http_directory_asks_the_templated_url() {
    let body = r#"{"id":"c-9","name":"Ada Lovelace","tier":"gold"}"#;
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (port, server) = serve_once(resp.into_bytes()).await;
    let dir = HttpDirectory::new(&format!(
        "http://127.0.0.1:{port}/api/customers?phone={{ani}}"
    ))
    .unwrap()
    .header("Authorization", "Bearer t0ken")
    .unwrap();
    let c = dir.lookup("+49301234567").await.unwrap().unwrap();
    assert_eq!(c.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(c.id.as_deref(), Some("c-9"));
    assert_eq!(c.fields["tier"], "gold");
    let req = server.await.unwrap();
    assert!(
        req.starts_with("GET /api/customers?phone=%2B49301234567 HTTP/1.1\r\n"),
        "{req}"
    );
    assert!(req.contains("\r\nAuthorization: Bearer t0ken\r\n"));
    assert!(req.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")));
}

#[tokio::test]
async fn http_not_found_errors_and_limits() {
    let (port, _s) =
        serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
    let dir = HttpDirectory::new(&format!("http://127.0.0.1:{port}/c/{{ani}}")).unwrap();
    assert_eq!(dir.lookup("+1").await, Ok(None));

    let (port, _s) = serve_once(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
    let dir = HttpDirectory::new(&format!("http://127.0.0.1:{port}/c/{{ani}}")).unwrap();
    assert_eq!(dir.lookup("+1").await, Err(DirectoryError::HttpStatus(500)));

    let mut big = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b' ', 10_000));
    let (port, _s) = serve_once(big).await;
    let dir = HttpDirectory::new(&format!("http://127.0.0.1:{port}/c/{{ani}}"))
        .unwrap()
        .max_response(1000);
    assert_eq!(dir.lookup("+1").await, Err(DirectoryError::TooLarge(1000)));

    let (port, _s) = serve_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n[null]\r\n0\r\n\r\n".to_vec(),
    )
    .await;
    let dir = HttpDirectory::new(&format!("http://127.0.0.1:{port}/c/{{ani}}")).unwrap();
    assert_eq!(dir.lookup("+1").await, Ok(None));
}

#[tokio::test]
async fn an_http_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _hold = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    });
    let dir = HttpDirectory::new(&format!("http://127.0.0.1:{port}/c/{{ani}}"))
        .unwrap()
        .timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    assert_eq!(dir.lookup("+1").await, Err(DirectoryError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A directory that answers after a delay that depends on the number.
struct Staggered;

#[async_trait]
impl CustomerDirectory for Staggered {
    async fn lookup(&self, ani: &str) -> Result<Option<Customer>, DirectoryError> {
        let last = ani.bytes().last().map_or(0, |b| u64::from(b - b'0'));
        tokio::time::sleep(Duration::from_millis(1000 - last * 100)).await;
        Ok(Some(Customer::named(ani)))
    }
}

#[tokio::test(start_paused = true)]
async fn lookups_run_side_by_side_and_pops_keep_their_order() {
    let (drv, h) = fake("pbx", all_caps());
    let cti = Cti::builder()
        .driver(drv)
        .directory(Staggered)
        .lookup_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut pops = cti.screen_pops();
    let mut all = cti.subscribe(Filter::all());
    h.up();
    h.monitored("1001");
    for i in 1..=5 {
        h.ring(&format!("c{i}"), "1001", &format!("030123456{i}"));
    }
    // Wait until all five pops are in the engine's stream.
    let mut n = 0;
    while n < 5 {
        let e = all.recv().await.unwrap();
        if matches!(e.kind, hookflash::core::event::EventKind::ScreenPop { .. }) {
            n += 1;
        }
    }
    let started = tokio::time::Instant::now();
    let mut names = Vec::new();
    for _ in 0..5 {
        let p = pop(&mut pops).await;
        names.push(p.lookup.customer().unwrap().name.clone().unwrap());
    }
    assert_eq!(
        names,
        (1..=5)
            .map(|i| format!("+4930123456{i}"))
            .collect::<Vec<_>>()
    );
    // Side by side: about one lookup's time (0.9 s), not the sum (4 s).
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn missed_pops_are_reported_in_their_place() {
    let (drv, h) = fake("pbx", all_caps());
    let cti = Cti::builder()
        .driver(drv)
        .directory(directory())
        .subscriber_capacity(2)
        .build()
        .unwrap();
    let mut pops = cti.screen_pops();
    let mut all = cti.subscribe_with_capacity(Filter::all(), 1000);
    h.up();
    h.monitored("1001");
    for i in 1..=5 {
        h.ring(&format!("c{i}"), "1001", "0301234567");
    }
    let mut n = 0;
    while n < 5 {
        if matches!(
            all.recv().await.unwrap().kind,
            hookflash::core::event::EventKind::ScreenPop { .. }
        ) {
            n += 1;
        }
    }
    let first = pop(&mut pops).await;
    let second = pop(&mut pops).await;
    assert!(first.seq < second.seq);
    assert_eq!(
        pops.recv().await,
        Err(hookflash::RecvError::Lagged { missed: 3 })
    );
    h.ring("c6", "1001", "0301234567");
    let p = pop(&mut pops).await;
    assert_eq!(cti.call(p.call).unwrap().aliases[0].as_str(), "c6");
}
