//! Hostile input never panics: configuration text, query strings, log text.

use hookflash_bridge::api::query_pairs;
use hookflash_bridge::config::Config;
use hookflash_bridge::redact::Redactor;
use proptest::prelude::*;

const SNIPPETS: &[&str] = &[
    "[http]\n",
    "listen = \"127.0.0.1:1\"\n",
    "[[tokens]]\n",
    "name = \"n\"\n",
    "token = \"${X}\"\n",
    "scope = \"agent\"\n",
    "[[links]]\n",
    "url = \"csta-xml+tcp://h:1\"\n",
    "[[webhooks]]\n",
    "secret = \"\"\n",
    "= =\n",
    "\"\u{e9}\u{1f600}\"",
    "[storage]\nmax_events = -1\n",
    "[dial_plan]\ncountry_code = 49\n",
    "\n",
    "#\n",
    "[[customers]]\nnumber = 1\n",
];

proptest! {
    #[test]
    fn config_text_never_panics(parts in proptest::collection::vec(0..SNIPPETS.len(), 0..12), noise in ".{0,40}") {
        let mut text: String = parts.iter().map(|i| SNIPPETS[*i]).collect();
        text.push_str(&noise);
        match Config::parse("p.toml".as_ref(), &text, &|_| None) {
            Ok(_) => {}
            Err(e) => {
                let s = e.to_string();
                prop_assert!(s.starts_with("configuration error: p.toml:"), "{}", s);
            }
        }
    }

    #[test]
    fn query_strings_never_panic(q in ".{0,300}") {
        if let Ok(pairs) = query_pairs(Some(&q)) {
            prop_assert!(pairs.len() <= q.len() + 1);
        }
    }

    #[test]
    fn redaction_keeps_no_long_digit_run(s in "[a-z +0-9\u{e9}]{0,80}") {
        let out = Redactor { enabled: true }.text(&s);
        prop_assert_eq!(out.chars().count(), s.chars().count());
        // At most the last two digits of any run stay visible.
        let mut run = 0;
        for c in out.chars() {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            prop_assert!(run <= 3);
        }
    }
}

#[test]
fn an_overlong_query_is_refused() {
    let q = "a=b&".repeat(2000);
    assert!(query_pairs(Some(&q)).is_err());
}
