//! Just enough XML reading for ECMA-354 session messages: the root element's local name and
//! the text of elements by local name (any namespace prefix). CSTA messages themselves are read
//! by `hookflash_csta::xml`.

/// The local name of the root element.
pub(crate) fn root_name(xml: &str) -> Option<&str> {
    let mut rest = xml;
    loop {
        let i = rest.find('<')?;
        rest = &rest[i + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..end];
        return Some(name.rsplit(':').next().unwrap_or(name));
    }
}

/// The texts of every element whose local name is `local` (unescaped, trimmed), at most 64.
pub(crate) fn texts(xml: &str, local: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..end];
        if name.rsplit(':').next() != Some(local) {
            continue;
        }
        let Some(gt) = rest.find('>') else {
            break;
        };
        if rest[..gt].ends_with('/') {
            out.push(String::new());
            continue;
        }
        let body = &rest[gt + 1..];
        let stop = body.find('<').unwrap_or(body.len());
        out.push(unescape(body[..stop].trim()));
        if out.len() >= 64 {
            break;
        }
    }
    out
}

/// The text of the first element whose local name is `local`.
pub(crate) fn text(xml: &str, local: &str) -> Option<String> {
    texts(xml, local).into_iter().next()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Appends `s` escaped for element text.
pub(crate) fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_texts_with_prefixes() {
        let x = r#"<?xml version="1.0"?><StartApplicationSession xmlns="x"><applicationInfo><acx:SessionLoginInfo><acx:userName>a&amp;b</acx:userName><acx:password>p</acx:password></acx:SessionLoginInfo></applicationInfo><requestedProtocolVersions><protocolVersion>v1</protocolVersion><protocolVersion>v2</protocolVersion></requestedProtocolVersions><empty/></StartApplicationSession>"#;
        assert_eq!(root_name(x), Some("StartApplicationSession"));
        assert_eq!(text(x, "userName").as_deref(), Some("a&b"));
        assert_eq!(text(x, "password").as_deref(), Some("p"));
        assert_eq!(texts(x, "protocolVersion"), ["v1", "v2"]);
        assert_eq!(text(x, "empty").as_deref(), Some(""));
        assert_eq!(text(x, "missing"), None);
        assert_eq!(root_name("garbage"), None);
    }
}
