//! Mutual TLS northbound: with `[http.tls] client_ca`, a client with a certificate from that CA
//! is served; a client without a certificate, or with one from another CA, is not.

mod common;

use common::*;
use hookflash_bridge::Bridge;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A leaf certificate and key (PEM) issued by `ca`.
fn leaf(ca: &Ca, name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, &ca.issuer)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_configured() {
    let server_ca = ca();
    let client_ca = ca();
    let other_ca = ca();
    let (server_cert, server_key) = leaf(&server_ca, "localhost");
    let dir = std::env::temp_dir().join(format!("hf-bridge-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let extra = format!(
        "[http.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
        file("cert.pem", &server_cert),
        file("key.pem", &server_key),
        file("clients.pem", &client_ca.pem)
    );
    let b = Bridge::start(&config(&extra), Fake::new()).await.unwrap();
    let port = b.local_addr().port();

    let client = |identity: Option<(String, String)>| {
        let mut c = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(server_ca.pem.as_bytes()).unwrap())
            .resolve("localhost", ([127, 0, 0, 1], port).into())
            .timeout(std::time::Duration::from_secs(5));
        if let Some((cert, key)) = identity {
            c = c.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
        }
        c.build().unwrap()
    };
    let me = |c: reqwest::Client| async move {
        c.get(format!("https://localhost:{port}/v1/me"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    assert_eq!(
        me(client(Some(leaf(&client_ca, "crm.example"))))
            .await
            .unwrap(),
        200
    );
    assert!(me(client(None)).await.is_err(), "no client certificate");
    assert!(
        me(client(Some(leaf(&other_ca, "crm.example"))))
            .await
            .is_err(),
        "a certificate from another CA"
    );
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_ca_file_without_certificates_is_an_error_before_start() {
    let dir = std::env::temp_dir().join(format!("hf-bridge-mtls-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key, empty) = (dir.join("c.pem"), dir.join("k.pem"), dir.join("e.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    std::fs::write(&empty, "").unwrap();
    let r = hookflash_bridge::tls::server_config_with_clients(&cert, &key, Some(&empty));
    assert!(
        matches!(r, Err(hookflash_bridge::BridgeError::NoCertificate(_))),
        "{r:?}"
    );
    hookflash_bridge::tls::server_config_with_clients(&cert, &key, None).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
