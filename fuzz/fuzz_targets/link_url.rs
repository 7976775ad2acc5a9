//! Any text as a link URL: no panic; a URL that parses prints (without its password) as a URL
//! that parses to the same link, and its options are read without panicking.
#![no_main]

use hookflash_link::url::LinkUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = text.parse::<LinkUrl>() else {
        return;
    };
    let _ = url.framing();
    let _ = url.connect_timeout();
    let _ = url.serial_settings();
    let _ = url.option("framing");
    let shown = url.to_string();
    if let Some(pw) = &url.password
        && pw != "***"
    {
        assert!(
            !shown.contains(&format!(":{pw}@")),
            "the password is never shown"
        );
    }
    let again: LinkUrl = shown
        .parse()
        .unwrap_or_else(|e| panic!("{shown:?} (from {text:?}) does not parse: {e}"));
    assert_eq!(again.protocol, url.protocol);
    assert_eq!(again.transport, url.transport);
    assert_eq!(again.host, url.host);
    assert_eq!(again.port, url.port);
    assert_eq!(again.path, url.path);
    assert_eq!(again.options, url.options);
    assert_eq!(again.user, url.user);
});
