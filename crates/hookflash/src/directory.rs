//! Built-in customer directories: in memory, a CSV file, and an HTTP service.
//!
//! All of them look callers up by the number normalized to E.164 with a [`DialPlan`] — the
//! same dial plan the engine uses — so `030 123456`, `+49 30 123456` and `004930123456` in a
//! directory all match a caller the PBX reports as `030123456`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use hookflash_core::dialplan::DialPlan;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pop::{Customer, CustomerDirectory};
use crate::{CsvProblem, DirectoryError};

/// The largest CSV directory file read.
pub const MAX_CSV_BYTES: usize = 64 * 1024 * 1024;

/// The key a number is filed under: formatting (spaces, dashes, dots, slashes, brackets)
/// removed, then E.164 by `plan` when it can, else the remaining text.
pub fn normalize_number(plan: &DialPlan, raw: &str) -> String {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}'))
        .collect();
    plan.normalize(&compact).e164.unwrap_or(compact)
}

/// A directory held in memory: numbers to customers.
///
/// ```
/// use hookflash::directory::InMemoryDirectory;
/// use hookflash::{Customer, CustomerDirectory};
///
/// # tokio_test_block_on(async {
/// let mut dir = InMemoryDirectory::new();
/// dir.insert("030 123456", Customer::named("Ada Lovelace"));
/// let found = dir.lookup("+4930123456").await.unwrap();
/// assert_eq!(found.unwrap().name.as_deref(), Some("Ada Lovelace"));
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryDirectory {
    plan: DialPlan,
    customers: HashMap<String, Customer>,
}

impl InMemoryDirectory {
    /// An empty directory using the default dial plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty directory normalizing numbers with `plan`.
    pub fn with_dial_plan(plan: DialPlan) -> Self {
        Self {
            plan,
            customers: HashMap::new(),
        }
    }

    /// Files `customer` under `number` (replacing what was there).
    pub fn insert(&mut self, number: &str, customer: Customer) {
        let key = normalize_number(&self.plan, number);
        self.customers.insert(key, customer);
    }

    /// How many numbers are filed.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether no number is filed.
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    /// The customer filed under `number`, without waiting.
    pub fn get(&self, number: &str) -> Option<&Customer> {
        self.customers.get(&normalize_number(&self.plan, number))
    }
}

#[async_trait]
impl CustomerDirectory for InMemoryDirectory {
    async fn lookup(&self, ani: &str) -> Result<Option<Customer>, DirectoryError> {
        Ok(self.get(ani).cloned())
    }
}

/// A directory loaded from a CSV file.
///
/// The first line names the columns. The phone column is the one named `phone` (or `number`,
/// `ani`, `tel`; any case); `id` and `name` fill [`Customer::id`] and [`Customer::name`]; every
/// other column goes into [`Customer::fields`]. Fields may be quoted (`"Smith, John"`, with
/// `""` for a quote); empty lines are skipped; a number on several lines keeps the last.
///
/// ```
/// use hookflash::directory::CsvDirectory;
/// use hookflash::core::dialplan::DialPlan;
///
/// let dir = CsvDirectory::parse("phone,name,company\n030 123456,Ada Lovelace,\"Analytical, Ltd\"\n", &DialPlan::default()).unwrap();
/// let ada = dir.get("+4930123456").unwrap();
/// assert_eq!(ada.fields["company"], "Analytical, Ltd");
/// ```
#[derive(Debug, Clone, Default)]
pub struct CsvDirectory {
    inner: InMemoryDirectory,
}

impl CsvDirectory {
    /// Reads and parses the file at `path` (at most [`MAX_CSV_BYTES`]).
    pub fn load(path: impl AsRef<Path>, plan: &DialPlan) -> Result<Self, DirectoryError> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| DirectoryError::Io(e.kind()))?;
        let mut bytes = Vec::new();
        file.take(MAX_CSV_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| DirectoryError::Io(e.kind()))?;
        if bytes.len() > MAX_CSV_BYTES {
            return Err(DirectoryError::TooLarge(MAX_CSV_BYTES));
        }
        let text = String::from_utf8_lossy(&bytes);
        Self::parse(&text, plan)
    }

    /// Parses CSV text.
    pub fn parse(text: &str, plan: &DialPlan) -> Result<Self, DirectoryError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut inner = InMemoryDirectory::with_dial_plan(plan.clone());
        let mut header: Option<Vec<String>> = None;
        let mut phone = 0;
        for (i, line) in csv_records(text) {
            let line_no = i + 1;
            let fields = line.map_err(|problem| DirectoryError::Csv {
                line: line_no,
                problem,
            })?;
            if fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            let Some(cols) = &header else {
                let cols: Vec<String> = fields.iter().map(|f| f.trim().to_lowercase()).collect();
                phone = cols
                    .iter()
                    .position(|c| matches!(c.as_str(), "phone" | "number" | "ani" | "tel"))
                    .ok_or(DirectoryError::Csv {
                        line: line_no,
                        problem: CsvProblem::NoPhoneColumn,
                    })?;
                header = Some(cols);
                continue;
            };
            if fields.len() > cols.len() {
                return Err(DirectoryError::Csv {
                    line: line_no,
                    problem: CsvProblem::TooManyFields,
                });
            }
            let Some(number) = fields
                .get(phone)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let mut customer = Customer::default();
            for (col, value) in cols.iter().zip(&fields) {
                let value = value.trim();
                match col.as_str() {
                    _ if std::ptr::eq(col, &cols[phone]) => {}
                    "id" => customer.id = Some(value.to_owned()).filter(|v| !v.is_empty()),
                    "name" => customer.name = Some(value.to_owned()).filter(|v| !v.is_empty()),
                    _ => {
                        customer.fields.insert(col.clone(), value.to_owned());
                    }
                }
            }
            inner.insert(number, customer);
        }
        Ok(Self { inner })
    }

    /// How many numbers are filed.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no number is filed.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The customer filed under `number`, without waiting.
    pub fn get(&self, number: &str) -> Option<&Customer> {
        self.inner.get(number)
    }
}

#[async_trait]
impl CustomerDirectory for CsvDirectory {
    async fn lookup(&self, ani: &str) -> Result<Option<Customer>, DirectoryError> {
        self.inner.lookup(ani).await
    }
}

/// The records of CSV text with the 0-based line each starts on. Quoted fields may span lines.
fn csv_records(text: &str) -> impl Iterator<Item = (usize, Result<Vec<String>, CsvProblem>)> + '_ {
    let mut chars = text.chars().peekable();
    let mut line = 0usize;
    std::iter::from_fn(move || {
        chars.peek()?;
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut was_quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Some((start, Err(CsvProblem::UnterminatedQuote)));
                }
                fields.push(std::mem::take(&mut field));
                return Some((start, Ok(fields)));
            };
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if field.trim().is_empty() && !was_quoted => {
                    field.clear();
                    quoted = true;
                    was_quoted = true;
                }
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    return Some((start, Ok(fields)));
                }
                _ => field.push(c),
            }
        }
    })
}

/// The largest HTTP response an [`HttpDirectory`] reads by default.
pub const DEFAULT_MAX_RESPONSE: usize = 256 * 1024;
/// The largest HTTP response head (status line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// A directory behind an HTTP service answering JSON: a URL template with `{ani}` where the
/// (percent-encoded, E.164) number goes, e.g. `http://crm/api/customers?phone={ani}`.
///
/// A small HTTP/1.1 client over a plain TCP connection (`http://` only; put a TLS-terminating
/// proxy in front of an `https://` service), with a size limit and a timeout. The answer:
/// `200` with a JSON object (the customer; `id` and `name` fill those fields, other scalar
/// members go into [`Customer::fields`]), an array (its first object; empty means not found)
/// or `null`; `404` and `204` mean not found; any other status is
/// [`DirectoryError::HttpStatus`].
#[derive(Debug, Clone)]
pub struct HttpDirectory {
    host: String,
    port: u16,
    /// The request target with `{ani}`.
    target: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    max_response: usize,
}

impl HttpDirectory {
    /// A directory for `template` (`http://host[:port]/path?query` with `{ani}`).
    /// [`DirectoryError::BadUrl`] for anything else.
    pub fn new(template: &str) -> Result<Self, DirectoryError> {
        let rest = template
            .strip_prefix("http://")
            .ok_or(DirectoryError::BadUrl)?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let target = if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse().map_err(|_| DirectoryError::BadUrl)?)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let bad = |s: &str| s.bytes().any(|b| b.is_ascii_control() || b == b' ');
        if host.is_empty() || bad(host) || bad(&target) || authority.contains('@') {
            return Err(DirectoryError::BadUrl);
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            target,
            headers: Vec::new(),
            timeout: Duration::from_secs(2),
            max_response: DEFAULT_MAX_RESPONSE,
        })
    }

    /// Sends `name: value` with every request (an `Authorization` header, say).
    /// [`DirectoryError::BadUrl`] when either contains a line break or control character.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, DirectoryError> {
        let bad = |s: &str| s.bytes().any(|b| b.is_ascii_control());
        if name.is_empty() || bad(name) || bad(value) || name.contains(':') {
            return Err(DirectoryError::BadUrl);
        }
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// The time one lookup may take, connecting included (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response read (default [`DEFAULT_MAX_RESPONSE`]).
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// The request target for `ani`.
    pub fn target_for(&self, ani: &str) -> String {
        self.target.replace("{ani}", &percent_encode(ani))
    }

    async fn get(&self, ani: &str) -> Result<Option<Customer>, DirectoryError> {
        let io = |e: std::io::Error| DirectoryError::Io(e.kind());
        let mut stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(io)?;
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut req = format!(
            "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: hookflash\r\n",
            self.target_for(ani),
            self.port
        );
        for (n, v) in &self.headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.map_err(io)?;
        let mut buf = Vec::new();
        let limit = self.max_response.saturating_add(MAX_HEAD);
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > limit {
                return Err(DirectoryError::TooLarge(self.max_response));
            }
            if let Some(done) = complete_response(&buf)
                && done
            {
                break;
            }
        }
        let (status, body) = parse_response(&buf, self.max_response)?;
        match status {
            200 => customer_from_json(&body),
            204 | 404 => Ok(None),
            s => Err(DirectoryError::HttpStatus(s)),
        }
    }
}

#[async_trait]
impl CustomerDirectory for HttpDirectory {
    async fn lookup(&self, ani: &str) -> Result<Option<Customer>, DirectoryError> {
        tokio::time::timeout(self.timeout, self.get(ani))
            .await
            .unwrap_or(Err(DirectoryError::Timeout))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Head {
    status: u16,
    body_start: usize,
    content_length: Option<usize>,
    chunked: bool,
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, DirectoryError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(DirectoryError::TooLarge(MAX_HEAD));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| DirectoryError::BadResponse)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(DirectoryError::BadResponse)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(DirectoryError::BadResponse);
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or(DirectoryError::BadResponse)?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(DirectoryError::BadResponse)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse().map_err(|_| DirectoryError::BadResponse)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    Ok(Some(Head {
        status,
        body_start: end + 4,
        content_length,
        chunked,
    }))
}

/// Whether `buf` holds a whole response (`None` when that cannot be told yet).
fn complete_response(buf: &[u8]) -> Option<bool> {
    let head = parse_head(buf).ok()??;
    let body = &buf[head.body_start..];
    if head.chunked {
        return Some(matches!(dechunk(body, usize::MAX), Ok(Some(_))));
    }
    head.content_length.map(|n| body.len() >= n)
}

/// Decodes a chunked body; `None` while incomplete.
fn dechunk(mut body: &[u8], max: usize) -> Result<Option<Vec<u8>>, DirectoryError> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text =
            std::str::from_utf8(&body[..eol]).map_err(|_| DirectoryError::BadResponse)?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| DirectoryError::BadResponse)?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if out.len().saturating_add(size) > max {
            return Err(DirectoryError::TooLarge(max));
        }
        if body.len() < size.saturating_add(2) {
            return Ok(None);
        }
        out.extend_from_slice(&body[..size]);
        if &body[size..size + 2] != b"\r\n" {
            return Err(DirectoryError::BadResponse);
        }
        body = &body[size + 2..];
    }
}

/// The status and body of a whole response.
fn parse_response(buf: &[u8], max: usize) -> Result<(u16, Vec<u8>), DirectoryError> {
    let head = parse_head(buf)?.ok_or(DirectoryError::BadResponse)?;
    let body = &buf[head.body_start..];
    let body = if head.chunked {
        dechunk(body, max)?.ok_or(DirectoryError::BadResponse)?
    } else if let Some(n) = head.content_length {
        if n > max {
            return Err(DirectoryError::TooLarge(max));
        }
        body.get(..n).ok_or(DirectoryError::BadResponse)?.to_vec()
    } else {
        body.to_vec()
    };
    if body.len() > max {
        return Err(DirectoryError::TooLarge(max));
    }
    Ok((head.status, body))
}

/// A customer from a JSON document (object, array of objects, or null).
pub fn customer_from_json(body: &[u8]) -> Result<Option<Customer>, DirectoryError> {
    use serde_json::Value;
    let v: Value = serde_json::from_slice(body).map_err(|_| DirectoryError::BadResponse)?;
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => match items.into_iter().next() {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(o)) => o,
            Some(_) => return Err(DirectoryError::BadResponse),
        },
        Value::Object(o) => o,
        _ => return Err(DirectoryError::BadResponse),
    };
    let mut c = Customer::default();
    for (k, v) in obj {
        let text = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null | Value::Array(_) | Value::Object(_) => continue,
        };
        match k.as_str() {
            "id" => c.id = Some(text),
            "name" => c.name = Some(text),
            _ => {
                c.fields.insert(k, text);
            }
        }
    }
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_filed_by_e164() {
        let p = DialPlan::default();
        assert_eq!(normalize_number(&p, "030 / 12 34-56"), "+4930123456");
        assert_eq!(normalize_number(&p, "+49 (30) 123456"), "+4930123456");
        assert_eq!(normalize_number(&p, "1001"), "1001");
    }

    #[test]
    fn csv_with_quotes_blank_lines_and_crlf() {
        let text = "Name;x,Phone,ID,Note\r\n\"Smith, John\",030 1111111,7,\"said \"\"hi\"\"\nthen left\"\r\n\r\nAda,+49 30 2222222,,\n";
        let d = CsvDirectory::parse(text, &DialPlan::default());
        // The header's first column is literally `name;x`, a field.
        let d = d.unwrap();
        assert_eq!(d.len(), 2);
        let john = d.get("+49301111111").unwrap();
        assert_eq!(john.id.as_deref(), Some("7"));
        assert_eq!(john.fields["note"], "said \"hi\"\nthen left");
        assert_eq!(john.fields["name;x"], "Smith, John");
        assert_eq!(d.get("0302222222").unwrap().id, None);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let p = DialPlan::default();
        assert_eq!(
            CsvDirectory::parse("name,email\n", &p).unwrap_err(),
            DirectoryError::Csv {
                line: 1,
                problem: CsvProblem::NoPhoneColumn
            }
        );
        assert_eq!(
            CsvDirectory::parse("phone,name\n1,2,3\n", &p).unwrap_err(),
            DirectoryError::Csv {
                line: 2,
                problem: CsvProblem::TooManyFields
            }
        );
        assert_eq!(
            CsvDirectory::parse("phone,name\n\n\"123,x\n", &p).unwrap_err(),
            DirectoryError::Csv {
                line: 3,
                problem: CsvProblem::UnterminatedQuote
            }
        );
    }

    #[test]
    fn url_templates() {
        let d = HttpDirectory::new("http://crm.local:8080/api/customers?phone={ani}").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("crm.local", 8080));
        assert_eq!(d.target_for("+4930 1"), "/api/customers?phone=%2B4930%201");
        let d = HttpDirectory::new("http://crm?q={ani}").unwrap();
        assert_eq!((d.port, d.target_for("1").as_str()), (80, "/?q=1"));
        let d = HttpDirectory::new("http://[::1]:9/c/{ani}").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("::1", 9));
        for bad in [
            "https://crm/{ani}",
            "crm/{ani}",
            "http://",
            "http://a b/",
            "http://u@h/",
        ] {
            assert!(HttpDirectory::new(bad).is_err(), "{bad}");
        }
        assert!(
            HttpDirectory::new("http://h/")
                .unwrap()
                .header("X", "a\r\nEvil: 1")
                .is_err()
        );
    }

    #[test]
    fn responses_with_length_chunks_or_eof() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"name\":\"A\"}xyz";
        assert_eq!(complete_response(r), Some(true));
        assert_eq!(parse_response(r, 100).unwrap().1, b"{\"name\":\"A\"}x");
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(complete_response(r), Some(true));
        assert_eq!(parse_response(r, 100).unwrap().1, b"{\"a\":1}");
        assert_eq!(complete_response(&r[..60]), Some(false));
        let r = b"HTTP/1.0 404 Not Found\r\n\r\n";
        assert_eq!(complete_response(r), None);
        assert_eq!(parse_response(r, 100).unwrap().0, 404);
        assert!(parse_response(b"SSH-2.0\r\n\r\n", 100).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 100).is_err());
        let huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n";
        assert_eq!(
            dechunk(&huge[47..], 100),
            Err(DirectoryError::TooLarge(100))
        );
    }

    #[test]
    fn json_documents() {
        let c = customer_from_json(br#"{"id":42,"name":"Ada","vip":true,"tags":["x"]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(c.id.as_deref(), Some("42"));
        assert_eq!(c.name.as_deref(), Some("Ada"));
        assert_eq!(c.fields["vip"], "true");
        assert!(!c.fields.contains_key("tags"));
        assert_eq!(customer_from_json(b"[]").unwrap(), None);
        assert_eq!(customer_from_json(b"null").unwrap(), None);
        assert!(customer_from_json(b"[{\"name\":\"B\"}]").unwrap().is_some());
        assert!(customer_from_json(b"\"x\"").is_err());
        assert!(customer_from_json(b"{").is_err());
    }
}
