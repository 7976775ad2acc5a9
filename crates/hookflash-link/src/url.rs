//! Link URLs: `<protocol>+<transport>://[user[:password]@]host[:port][/path][?k=v&...]`.
//!
//! Protocols: `csta-ber`, `csta-xml`, `ami`, `smdr`; transports: `tcp`, `tls`, `serial`.
//! Serial links name the device as the path: `csta-ber+serial:///dev/ttyS0?baud=19200`.
//! User, password and option values are percent-decoded. `Display` never shows the password.

use std::{fmt, str::FromStr, time::Duration};

use hookflash_csta::framing::Framing;

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 4096;
/// The most query options accepted.
pub const MAX_OPTIONS: usize = 32;

/// A link URL that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Longer than [`MAX_URL_LEN`] or with more than [`MAX_OPTIONS`] options.
    #[error("URL too long or too many options")]
    TooLong,
    /// No `scheme://`.
    #[error("missing `<protocol>+<transport>://`")]
    MissingScheme,
    /// A protocol other than csta-ber, csta-xml, ami, smdr.
    #[error("unknown protocol (csta-ber, csta-xml, ami, smdr)")]
    UnknownProtocol,
    /// A transport other than tcp, tls, serial.
    #[error("unknown transport (tcp, tls, serial)")]
    UnknownTransport,
    /// A network URL without host.
    #[error("missing host")]
    MissingHost,
    /// A host with characters a host name cannot have.
    #[error("invalid host")]
    BadHost,
    /// A port that is not 1–65535, or missing where the protocol has no default.
    #[error("missing or invalid port")]
    BadPort,
    /// A serial URL without device path.
    #[error("missing serial device path")]
    MissingDevice,
    /// A `%` not followed by two hex digits, or decoding to invalid UTF-8 or a control character.
    #[error("bad percent-encoding")]
    BadPercentEncoding,
    /// A query option with a value that does not parse.
    #[error("bad value for option `{0}`")]
    BadOption(String),
    /// A fragment (`#`), which links do not have.
    #[error("fragments are not allowed")]
    Fragment,
}

/// What is spoken on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// CSTA in ASN.1 BER (ECMA-285).
    CstaBer,
    /// CSTA in XML (ECMA-323).
    CstaXml,
    /// Asterisk Manager Interface.
    Ami,
    /// Call records (SMDR/CDR).
    Smdr,
}

/// What carries the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// Plain TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// A serial port.
    Serial,
}

impl Protocol {
    /// The name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Self::CstaBer => "csta-ber",
            Self::CstaXml => "csta-xml",
            Self::Ami => "ami",
            Self::Smdr => "smdr",
        }
    }
}

impl TransportKind {
    /// The name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Serial => "serial",
        }
    }
}

/// A parsed link URL.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkUrl {
    /// The protocol.
    pub protocol: Protocol,
    /// The transport.
    pub transport: TransportKind,
    /// The user name (decoded).
    pub user: Option<String>,
    /// The password (decoded; never displayed).
    pub password: Option<String>,
    /// The host (without brackets for IPv6); empty for serial links.
    pub host: String,
    /// The port (the protocol's default when the URL has none); 0 for serial links.
    pub port: u16,
    /// The serial device path (or the path of a network URL, usually empty).
    pub path: String,
    /// Query options in order (decoded).
    pub options: Vec<(String, String)>,
}

impl fmt::Debug for LinkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkUrl({self})")
    }
}

/// The default port of a protocol over a transport, where there is a well-known one.
pub fn default_port(protocol: Protocol, transport: TransportKind) -> Option<u16> {
    match (protocol, transport) {
        (Protocol::CstaXml, TransportKind::Tcp) => Some(4721),
        (Protocol::CstaXml, TransportKind::Tls) => Some(4722),
        (Protocol::Ami, TransportKind::Tcp) => Some(5038),
        (Protocol::Ami, TransportKind::Tls) => Some(5039),
        _ => None,
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes; rejects bad escapes, invalid UTF-8 and control characters.
pub fn percent_decode(s: &str) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|x| hex(*x)),
                b.get(i + 2).and_then(|x| hex(*x)),
            ) else {
                return Err(UrlError::BadPercentEncoding);
            };
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    let s = String::from_utf8(out).map_err(|_| UrlError::BadPercentEncoding)?;
    if s.chars().any(char::is_control) {
        return Err(UrlError::BadPercentEncoding);
    }
    Ok(s)
}

fn percent_encode(s: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            write!(f, "{}", b as char)?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

impl FromStr for LinkUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        if s.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let s = s.trim();
        if s.contains('#') {
            return Err(UrlError::Fragment);
        }
        let (scheme, rest) = s.split_once("://").ok_or(UrlError::MissingScheme)?;
        let scheme = scheme.to_ascii_lowercase();
        let (proto, trans) = scheme.split_once('+').ok_or(UrlError::MissingScheme)?;
        let protocol = match proto {
            "csta-ber" => Protocol::CstaBer,
            "csta-xml" => Protocol::CstaXml,
            "ami" => Protocol::Ami,
            "smdr" => Protocol::Smdr,
            _ => return Err(UrlError::UnknownProtocol),
        };
        let transport = match trans {
            "tcp" => TransportKind::Tcp,
            "tls" => TransportKind::Tls,
            "serial" => TransportKind::Serial,
            _ => return Err(UrlError::UnknownTransport),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let mut options = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            if options.len() >= MAX_OPTIONS {
                return Err(UrlError::TooLong);
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            options.push((percent_decode(k)?.to_ascii_lowercase(), percent_decode(v)?));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let path = percent_decode(path)?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)?), Some(percent_decode(p)?)),
                None => (Some(percent_decode(u)?), None),
            },
        };
        let mut url = Self {
            protocol,
            transport,
            user,
            password,
            host: String::new(),
            port: 0,
            path,
            options,
        };
        if transport == TransportKind::Serial {
            if !hostport.is_empty() {
                return Err(UrlError::BadHost);
            }
            if url.path.len() < 2 {
                return Err(UrlError::MissingDevice);
            }
            // Check the serial options now, so that a bad value is found at startup.
            url.serial_settings()?;
        } else {
            let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
                let (h, p) = r.split_once(']').ok_or(UrlError::BadHost)?;
                if h.parse::<std::net::Ipv6Addr>().is_err() {
                    return Err(UrlError::BadHost);
                }
                let port = match p {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or(UrlError::BadPort)?),
                };
                (h, port)
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (hostport, None),
                }
            };
            if host.is_empty() {
                return Err(UrlError::MissingHost);
            }
            if !hostport.starts_with('[') && !valid_host(host) {
                return Err(UrlError::BadHost);
            }
            url.host = host.to_ascii_lowercase();
            url.port = match port {
                Some(p) => match p.parse::<u16>() {
                    Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                    _ => return Err(UrlError::BadPort),
                },
                None => default_port(protocol, transport).ok_or(UrlError::BadPort)?,
            };
            url.framing()?;
            url.connect_timeout()?;
        }
        Ok(url)
    }
}

impl fmt::Display for LinkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}://", self.protocol.name(), self.transport.name())?;
        if let Some(u) = &self.user {
            percent_encode(u, f)?;
            if self.password.is_some() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        }
        if self.transport != TransportKind::Serial {
            if self.host.contains(':') {
                write!(f, "[{}]:{}", self.host, self.port)?;
            } else {
                write!(f, "{}:{}", self.host, self.port)?;
            }
        }
        for (i, seg) in self.path.split('/').enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            percent_encode(seg, f)?;
        }
        for (i, (k, v)) in self.options.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            percent_encode(k, f)?;
            f.write_str("=")?;
            percent_encode(v, f)?;
        }
        Ok(())
    }
}

/// Parity of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parity {
    /// No parity bit.
    None,
    /// Even parity.
    Even,
    /// Odd parity.
    Odd,
}

/// Flow control of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowControl {
    /// None.
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// The settings of a serial line (`baud`, `parity`, `data_bits`, `stop_bits`, `flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialSettings {
    /// Bits per second (default 9600).
    pub baud: u32,
    /// Parity (default none).
    pub parity: Parity,
    /// Data bits, 5–8 (default 8).
    pub data_bits: u8,
    /// Stop bits, 1 or 2 (default 1).
    pub stop_bits: u8,
    /// Flow control (default none).
    pub flow: FlowControl,
}

impl Default for SerialSettings {
    fn default() -> Self {
        Self {
            baud: 9600,
            parity: Parity::None,
            data_bits: 8,
            stop_bits: 1,
            flow: FlowControl::None,
        }
    }
}

impl LinkUrl {
    /// The last value of a query option.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn bad(name: &str) -> UrlError {
        UrlError::BadOption(name.to_owned())
    }

    /// The `framing` option; by default `xml-header` for CSTA XML, `none` for CSTA BER over
    /// serial and `len2` for CSTA BER over TCP/TLS. `None` for AMI and SMDR.
    pub fn framing(&self) -> Result<Option<Framing>, UrlError> {
        if let Some(v) = self.option("framing") {
            return v.parse().map(Some).map_err(|_| Self::bad("framing"));
        }
        Ok(match (self.protocol, self.transport) {
            (Protocol::CstaXml, _) => Some(Framing::XmlHeader),
            (Protocol::CstaBer, TransportKind::Serial) => Some(Framing::None),
            (Protocol::CstaBer, _) => Some(Framing::Len2),
            _ => None,
        })
    }

    /// The `connect_timeout` option in seconds (fractions allowed; default 10 s, at most 1 h).
    pub fn connect_timeout(&self) -> Result<Duration, UrlError> {
        self.duration_option("connect_timeout", Duration::from_secs(10))
    }

    /// A duration option in seconds, with a default.
    pub fn duration_option(&self, name: &str, default: Duration) -> Result<Duration, UrlError> {
        match self.option(name) {
            None => Ok(default),
            Some(v) => match v.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
                _ => Err(Self::bad(name)),
            },
        }
    }

    /// The serial settings from the options.
    pub fn serial_settings(&self) -> Result<SerialSettings, UrlError> {
        let mut s = SerialSettings::default();
        if let Some(v) = self.option("baud") {
            s.baud = v
                .parse()
                .ok()
                .filter(|b| (50..=4_000_000).contains(b))
                .ok_or_else(|| Self::bad("baud"))?;
        }
        if let Some(v) = self.option("parity") {
            s.parity = match v {
                "none" | "n" => Parity::None,
                "even" | "e" => Parity::Even,
                "odd" | "o" => Parity::Odd,
                _ => return Err(Self::bad("parity")),
            };
        }
        if let Some(v) = self.option("data_bits") {
            s.data_bits = v
                .parse()
                .ok()
                .filter(|b| (5..=8).contains(b))
                .ok_or_else(|| Self::bad("data_bits"))?;
        }
        if let Some(v) = self.option("stop_bits") {
            s.stop_bits = v
                .parse()
                .ok()
                .filter(|b| (1..=2).contains(b))
                .ok_or_else(|| Self::bad("stop_bits"))?;
        }
        if let Some(v) = self.option("flow") {
            s.flow = match v {
                "none" => FlowControl::None,
                "software" | "xonxoff" => FlowControl::Software,
                "hardware" | "rtscts" => FlowControl::Hardware,
                _ => return Err(Self::bad("flow")),
            };
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(s: &str) -> Result<LinkUrl, UrlError> {
        s.parse()
    }

    #[test]
    fn the_design_examples_parse() {
        let u = p("csta-ber+tcp://pbx.example:7001?framing=len2").unwrap();
        assert_eq!(
            (u.protocol, u.transport),
            (Protocol::CstaBer, TransportKind::Tcp)
        );
        assert_eq!((u.host.as_str(), u.port), ("pbx.example", 7001));
        assert_eq!(u.framing(), Ok(Some(Framing::Len2)));

        let u = p("csta-xml+tls://host:4722").unwrap();
        assert_eq!(u.transport, TransportKind::Tls);
        assert_eq!(u.framing(), Ok(Some(Framing::XmlHeader)));

        let u = p("csta-ber+serial:///dev/ttyS0?baud=19200&parity=even&data_bits=7&stop_bits=2&flow=hardware").unwrap();
        assert_eq!(u.path, "/dev/ttyS0");
        assert_eq!(
            u.serial_settings().unwrap(),
            SerialSettings {
                baud: 19200,
                parity: Parity::Even,
                data_bits: 7,
                stop_bits: 2,
                flow: FlowControl::Hardware
            }
        );
        assert_eq!(u.framing(), Ok(Some(Framing::None)));

        let u = p("ami+tcp://user:s%40cr%3At@pbx:5038").unwrap();
        assert_eq!(u.user.as_deref(), Some("user"));
        assert_eq!(u.password.as_deref(), Some("s@cr:t"));
        assert_eq!(u.to_string(), "ami+tcp://user:***@pbx:5038");
        assert!(!format!("{u:?}").contains("s@cr"));

        let u = p("smdr+serial:///dev/ttyUSB0?format=nec").unwrap();
        assert_eq!(u.option("format"), Some("nec"));
        assert_eq!(u.serial_settings().unwrap().baud, 9600);
    }

    #[test]
    fn defaults_ipv6_and_timeouts() {
        assert_eq!(p("ami+tcp://pbx").unwrap().port, 5038);
        assert_eq!(p("ami+tls://pbx").unwrap().port, 5039);
        assert_eq!(p("csta-xml+tcp://pbx").unwrap().port, 4721);
        assert_eq!(p("csta-ber+tcp://pbx"), Err(UrlError::BadPort));
        let u = p("csta-ber+tcp://[::1]:7001?connect_timeout=2.5").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.connect_timeout(), Ok(Duration::from_millis(2500)));
        assert_eq!(
            u.to_string(),
            "csta-ber+tcp://[::1]:7001?connect_timeout=2.5"
        );
    }

    #[test]
    fn hostile_input_gives_typed_errors() {
        for (s, e) in [
            ("", UrlError::MissingScheme),
            ("pbx:7001", UrlError::MissingScheme),
            ("http://pbx", UrlError::MissingScheme),
            ("sip+tcp://pbx:1", UrlError::UnknownProtocol),
            ("ami+udp://pbx:1", UrlError::UnknownTransport),
            ("ami+tcp://:5038", UrlError::MissingHost),
            ("ami+tcp://pbx:0", UrlError::BadPort),
            ("ami+tcp://pbx:65536", UrlError::BadPort),
            ("ami+tcp://pbx:+80", UrlError::BadPort),
            ("ami+tcp://pbx:80x", UrlError::BadPort),
            ("ami+tcp://p b x:80", UrlError::BadHost),
            ("ami+tcp://[zz]:80", UrlError::BadHost),
            ("ami+tcp://[::1:80", UrlError::BadHost),
            ("ami+tcp://u%zz:p@pbx", UrlError::BadPercentEncoding),
            ("ami+tcp://u:p%0a@pbx", UrlError::BadPercentEncoding),
            ("ami+tcp://u:p%ff@pbx", UrlError::BadPercentEncoding),
            ("ami+tcp://u:p%@pbx", UrlError::BadPercentEncoding),
            ("ami+tcp://pbx#frag", UrlError::Fragment),
            ("smdr+serial://", UrlError::MissingDevice),
            ("smdr+serial://host/dev/x", UrlError::BadHost),
            (
                "smdr+serial:///dev/x?baud=0",
                UrlError::BadOption("baud".into()),
            ),
            (
                "smdr+serial:///dev/x?parity=mark",
                UrlError::BadOption("parity".into()),
            ),
            (
                "smdr+serial:///dev/x?data_bits=9",
                UrlError::BadOption("data_bits".into()),
            ),
            (
                "csta-ber+tcp://pbx:1?framing=xyz",
                UrlError::BadOption("framing".into()),
            ),
            (
                "csta-ber+tcp://pbx:1?connect_timeout=NaN",
                UrlError::BadOption("connect_timeout".into()),
            ),
            (
                "csta-ber+tcp://pbx:1?connect_timeout=-1",
                UrlError::BadOption("connect_timeout".into()),
            ),
        ] {
            assert_eq!(p(s), Err(e), "{s:?}");
        }
        assert_eq!(p(&"a".repeat(MAX_URL_LEN + 1)), Err(UrlError::TooLong));
        let many = format!("ami+tcp://pbx?{}", "a=1&".repeat(MAX_OPTIONS + 1));
        assert_eq!(p(&many), Err(UrlError::TooLong));
    }

    #[test]
    fn password_with_at_sign_uses_last_at() {
        let u = p("ami+tcp://admin:p@ss@pbx:5038").unwrap();
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.host, "pbx");
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,80}") {
            let _ = p(&s);
            let _ = p(&format!("ami+tcp://{s}"));
            let _ = p(&format!("csta-ber+serial://{s}"));
        }

        #[test]
        fn display_reparses_to_the_same_url_without_password(
            user in "[a-zA-Z0-9 @:%/?&=]{1,12}",
            host in "[a-z][a-z0-9.-]{0,20}",
            port in 1u16..,
            val in "[ -~]{0,12}",
        ) {
            let mut u = LinkUrl {
                protocol: Protocol::Ami,
                transport: TransportKind::Tcp,
                user: Some(user),
                password: None,
                host,
                port,
                path: String::new(),
                options: vec![("format".into(), val)],
            };
            let back: LinkUrl = u.to_string().parse().unwrap();
            prop_assert_eq!(&back, &u);
            u.password = Some("hunter2".into());
            prop_assert!(!u.to_string().contains("hunter2"));
        }
    }
}
