//! The configuration file's permissions: a file every user can write is refused; a file with a
//! secret written in it is refused when every user can read it, and loads when only its owner
//! (and group) can; secrets read from the environment need no protection of the file.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hookflash_bridge::BridgeError;
use hookflash_bridge::config::Config;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("hf-cfg-perm-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
    fn write(&self, text: &str, mode: u32) -> PathBuf {
        let p = self.0.join("bridge.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn refused(p: &Path) -> hookflash_bridge::ConfigError {
    match Config::load(p) {
        Err(BridgeError::Config(e)) => *e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

const INLINE_TOKEN: &str = "[http]\nlisten = \"127.0.0.1:0\"\n\n[[tokens]]\nname = \"crm\"\ntoken = \"inline-token-0123456789\"\nscope = \"admin\"\n";

#[test]
fn a_world_readable_file_with_an_inline_token_is_refused_with_its_line() {
    let d = Dir::new("token");
    let p = d.write(INLINE_TOKEN, 0o644);
    let e = refused(&p);
    assert_eq!((e.line, e.key.as_str()), (6, "tokens.token"), "{e}");
    assert!(e.message.contains("mode 644"), "{e}");
    assert!(e.message.contains("chmod"), "{e}");
    // The refusal does not repeat the secret.
    assert!(!e.to_string().contains("inline-token-0123456789"), "{e}");
    // Owner only, or owner and group (root:hookflash 0640), loads.
    for mode in [0o600, 0o640, 0o400] {
        let p = d.write(INLINE_TOKEN, mode);
        let cfg = Config::load(&p).unwrap_or_else(|e| panic!("mode {mode:o}: {e}"));
        assert_eq!(cfg.tokens.len(), 1);
    }
}

#[test]
fn inline_webhook_secrets_and_link_passwords_count_as_secrets() {
    let d = Dir::new("other");
    let hook = "[[webhooks]]\nurl = \"https://crm.example/h\"\nsecret = \"hook-secret\"\n";
    assert_eq!(refused(&d.write(hook, 0o604)).key, "webhooks.secret");
    let link = "[[links]]\nname = \"pbx\"\nurl = \"ami+tcp://admin:pa55word@pbx:5038\"\n";
    assert_eq!(refused(&d.write(link, 0o644)).key, "links.url");
    // A link without a password is no secret.
    let open = "[[links]]\nname = \"pbx\"\nurl = \"csta-xml+tcp://pbx:4721\"\n";
    Config::load(&d.write(open, 0o644)).unwrap();
}

#[test]
fn secrets_from_the_environment_need_no_protection_of_the_file() {
    let d = Dir::new("env");
    let text = "[[tokens]]\nname = \"crm\"\ntoken = \"${HF_TOKEN}\"\nscope = \"admin\"\n";
    let p = d.write(text, 0o644);
    let env = |n: &str| (n == "HF_TOKEN").then(|| "from-the-environment-0123".to_string());
    let cfg = Config::parse(&p, text, &env).unwrap();
    assert!(cfg.inline_secrets(text).is_empty());
    cfg.check_permissions(&p, text, &std::fs::metadata(&p).unwrap())
        .unwrap();
    // The same token written inline is refused by the same check.
    let inline = text.replace("${HF_TOKEN}", "from-the-environment-0123");
    let cfg = Config::parse(&p, &inline, &env).unwrap();
    assert!(
        cfg.check_permissions(&p, &inline, &std::fs::metadata(&p).unwrap())
            .is_err()
    );
}

#[test]
fn a_world_writable_file_is_refused_even_without_secrets() {
    let d = Dir::new("writable");
    let e = refused(&d.write("[http]\nlisten = \"127.0.0.1:0\"\n", 0o646));
    assert!(e.message.contains("writable by every user"), "{e}");
    Config::load(&d.write("[http]\nlisten = \"127.0.0.1:0\"\n", 0o664)).unwrap();
}

#[test]
fn a_new_journal_is_readable_by_its_owner_only() {
    let d = Dir::new("journal");
    let path = d.0.join("data").join("journal.sqlite");
    let j = hookflash_bridge::journal::Journal::open(Some(&path)).unwrap();
    j.last_seq().unwrap();
    for f in ["journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"] {
        let p = d.0.join("data").join(f);
        if let Ok(m) = std::fs::metadata(&p) {
            assert_eq!(
                m.permissions().mode() & 0o077,
                0,
                "{f}: {:o}",
                m.permissions().mode()
            );
        } else {
            assert_eq!(f, "journal.sqlite-shm", "{f} exists");
        }
    }
    // An existing journal keeps the mode its administrator gave it.
    drop(j);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    hookflash_bridge::journal::Journal::open(Some(&path)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}
