//! HTTPS: the bridge serves the API over TLS with a configured certificate and key.

mod common;

use common::*;
use hookflash_bridge::Bridge;

#[tokio::test]
async fn the_api_is_served_over_tls() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("hf-bridge-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let extra = format!(
        "[http.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    // `[http.tls]` after the other tables of the test configuration.
    let cfg = config(&extra);
    assert!(cfg.http.tls.is_some());
    let fake = Fake::new();
    let b = Bridge::start(&cfg, fake).await.unwrap();
    let port = b.local_addr().port();

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{port}/v1/me"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["scope"], "admin");
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_certificate_is_an_error_before_start() {
    let cfg =
        config("[http.tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(Bridge::start(&cfg, Fake::new()));
    assert!(r.is_err());
}

#[test]
fn pem_files_without_a_key_or_a_certificate_or_with_bad_base64_are_typed_errors() {
    use hookflash_bridge::BridgeError;
    use hookflash_bridge::tls::server_config;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("hf-bridge-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let empty = dir.join("empty.pem");
    let bad = dir.join("bad.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    std::fs::write(&empty, "no PEM sections here\n").unwrap();
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();

    assert!(server_config(&cert, &key).is_ok());
    // The certificate given where the key belongs: no key in the file.
    assert!(matches!(
        server_config(&cert, &cert),
        Err(BridgeError::NoPrivateKey(p)) if p == cert
    ));
    assert!(matches!(
        server_config(&empty, &key),
        Err(BridgeError::NoCertificate(p)) if p == empty
    ));
    assert!(server_config(&bad, &key).is_err());
    assert!(server_config(&cert, &bad).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
