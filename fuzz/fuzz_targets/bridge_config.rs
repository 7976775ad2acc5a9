//! Any text as the bridge's TOML configuration (with some environment variables set): no
//! panic; a configuration that loads keeps the rules it is validated against, and an error names
//! a line inside the text.
#![no_main]

use hookflash_bridge::BridgeError;
use hookflash_bridge::config::{Config, Scope};
use libfuzzer_sys::fuzz_target;

fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some("0123456789abcdef-token".into()),
        "SECRET" => Some("webhook-secret".into()),
        "EMPTY" => Some(String::new()),
        "URL" => Some("csta-xml+tcp://pbx:4721".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse("fuzz.toml".as_ref(), text, &env) {
        Ok(cfg) => {
            for t in &cfg.tokens {
                assert!(t.token.len() >= 16);
                assert!(t.scope != Scope::Agent || t.agent.is_some());
            }
            for (i, t) in cfg.tokens.iter().enumerate() {
                assert!(cfg.tokens[..i].iter().all(|u| u.token != t.token));
            }
            for l in &cfg.links {
                assert!(!l.name.is_empty() && l.name.len() <= 64);
                assert!(l.url.parse::<hookflash_link::url::LinkUrl>().is_ok());
            }
            for w in &cfg.webhooks {
                assert!(!w.secret.is_empty());
                assert!(w.url.starts_with("http://") || w.url.starts_with("https://"));
                assert!((1..=1000).contains(&w.max_attempts));
            }
            assert!(cfg.http.max_body_bytes >= 1024 && cfg.http.max_body_bytes <= 16 << 20);
            assert!(cfg.http.max_message_bytes >= 1024 && cfg.http.max_message_bytes <= 16 << 20);
        }
        Err(BridgeError::Config(e)) => {
            assert!(
                e.line >= 1 && e.line <= text.matches('\n').count() + 1,
                "{e}"
            );
            let _ = e.to_string();
        }
        Err(other) => panic!("parse gives only configuration errors: {other}"),
    }
});
