//! A small, bounded XML element tree for ECMA-323 messages. No DTDs, no entity but the five
//! predefined ones and character references, a depth limit; comments, processing
//! instructions and CDATA sections are understood.
//!
//! The tree borrows from the input: names, attribute values and text are slices of it unless
//! an entity had to be expanded, and children are linked through indices, so parsing a message
//! allocates little more than the node vector. The tokenizer is hand-written for that: the
//! input is checked to be UTF-8 once, and every cut falls on an ASCII delimiter.

use std::borrow::Cow;

use memchr::{memchr, memchr3};

use crate::error::{Error, XmlProblem};

/// Deepest element nesting accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// No node (end of a child list).
const NONE: u32 = u32::MAX;

/// A node's children, as a linked list through [`Node::next`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Children {
    first: u32,
    last: u32,
}

impl Default for Children {
    fn default() -> Self {
        Self {
            first: NONE,
            last: NONE,
        }
    }
}

impl Children {
    /// Whether the element has no child elements.
    pub(crate) fn is_empty(&self) -> bool {
        self.first == NONE
    }
}

/// One element.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node<'a> {
    /// Local name (prefix removed).
    pub(crate) name: &'a str,
    /// The name as written (with its prefix), to match the end tag.
    raw_name: &'a str,
    /// Attributes by local name, values unescaped.
    pub(crate) attrs: Vec<(&'a str, Cow<'a, str>)>,
    /// The text directly inside the element, unescaped. Whitespace-only pieces between child
    /// elements are not kept (every reader trims the text).
    pub(crate) text: Cow<'a, str>,
    /// Child elements.
    pub(crate) children: Children,
    /// The next sibling.
    next: u32,
    /// The element's inner XML, as a byte range of the input.
    pub(crate) inner: (usize, usize),
}

impl Node<'_> {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// A parsed document: node 0 is the root element.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree<'a> {
    pub(crate) nodes: Vec<Node<'a>>,
    /// The root element's namespace URI, when bound.
    pub(crate) ns: Option<String>,
}

fn err(offset: usize, problem: XmlProblem) -> Error {
    Error::Xml { offset, problem }
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

fn local(name: &str) -> &str {
    match name.rfind(':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_name_byte(b: u8) -> bool {
    !matches!(
        b,
        b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>' | b'<' | b'=' | b'"' | b'\'' | b'&'
    )
}

/// Expands the entity and character references in `raw` (which starts at `at` in the input);
/// with `attr`, tabs and line breaks become spaces (attribute-value normalization).
fn unescape(raw: &str, at: usize, attr: bool) -> Result<Cow<'_, str>, Error> {
    let special = |b: u8| b == b'&' || (attr && matches!(b, b'\t' | b'\r' | b'\n'));
    let plain = if attr {
        memchr3(b'&', b'\t', b'\n', raw.as_bytes()).is_none()
            && memchr(b'\r', raw.as_bytes()).is_none()
    } else {
        memchr(b'&', raw.as_bytes()).is_none()
    };
    if plain {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.bytes().position(special) {
        out.push_str(&rest[..i]);
        if rest.as_bytes()[i] != b'&' {
            out.push(' ');
            rest = &rest[i + 1..];
            continue;
        }
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .filter(|&e| e <= 10)
            .ok_or_else(|| err(at, XmlProblem::Entity))?;
        let name = &after[..end];
        let c = if let Some(num) = name.strip_prefix('#') {
            let n = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            n.filter(|&n| n != 0).and_then(char::from_u32)
        } else {
            predefined(name)
        };
        out.push(c.ok_or_else(|| err(at, XmlProblem::Entity))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// Adds a piece of text to an element's text (see [`Node::text`]).
fn add_text<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    let blank = |s: &str| s.bytes().all(is_space);
    if text.is_empty() {
        *text = piece;
    } else if blank(text) {
        if !blank(&piece) {
            *text = piece;
        }
    } else if !blank(&piece) {
        text.to_mut().push_str(&piece);
    }
}

impl<'a> Tree<'a> {
    /// Parses one XML document.
    pub(crate) fn parse(input: &'a [u8]) -> Result<Self, Error> {
        let src =
            std::str::from_utf8(input).map_err(|e| err(e.valid_up_to(), XmlProblem::NotUtf8))?;
        let b = src.as_bytes();
        let mut tree = Self::default();
        tree.nodes.reserve(64);
        let mut stack: Vec<usize> = Vec::with_capacity(16);
        let mut done = false;
        let mut pos = 0usize;
        while pos < b.len() {
            // Text up to the next markup.
            let lt = memchr(b'<', &b[pos..]).map_or(b.len(), |i| pos + i);
            if lt > pos {
                let raw = &src[pos..lt];
                match stack.last() {
                    Some(&idx) => {
                        let piece = unescape(raw, pos, false)?;
                        add_text(&mut tree.nodes[idx].text, piece);
                    }
                    None if raw.bytes().all(is_space) => {}
                    None => return Err(err(pos, XmlProblem::Syntax)),
                }
            }
            if lt >= b.len() {
                break;
            }
            let start = lt;
            let rest = &src[start..];
            match b.get(start + 1) {
                Some(b'!') if rest.starts_with("<!--") => {
                    let end = rest[4..]
                        .find("-->")
                        .ok_or_else(|| err(start, XmlProblem::Truncated))?;
                    pos = start + 4 + end + 3;
                }
                Some(b'!') if rest.starts_with("<![CDATA[") => {
                    let end = rest[9..]
                        .find("]]>")
                        .ok_or_else(|| err(start, XmlProblem::Truncated))?;
                    let Some(&idx) = stack.last() else {
                        return Err(err(start, XmlProblem::Syntax));
                    };
                    let piece = &rest[9..9 + end];
                    add_text(&mut tree.nodes[idx].text, Cow::Borrowed(piece));
                    pos = start + 9 + end + 3;
                }
                Some(b'!') => return Err(err(start, XmlProblem::Dtd)),
                Some(b'?') => {
                    let end = rest
                        .find("?>")
                        .ok_or_else(|| err(start, XmlProblem::Truncated))?;
                    pos = start + end + 2;
                }
                Some(b'/') => {
                    let gt = memchr(b'>', &b[start..])
                        .map(|i| start + i)
                        .ok_or_else(|| err(start, XmlProblem::Truncated))?;
                    let mut name_end = gt;
                    while name_end > start + 2 && is_space(b[name_end - 1]) {
                        name_end -= 1;
                    }
                    let Some(idx) = stack.pop() else {
                        return Err(err(start, XmlProblem::Syntax));
                    };
                    if src[start + 2..name_end] != *tree.nodes[idx].raw_name {
                        return Err(err(start, XmlProblem::Syntax));
                    }
                    tree.nodes[idx].inner.1 = start;
                    if stack.is_empty() {
                        done = true;
                    }
                    pos = gt + 1;
                }
                _ => {
                    if done {
                        return Err(err(start, XmlProblem::Syntax));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(err(start, XmlProblem::TooDeep));
                    }
                    pos = tree.start_tag(src, start, &mut stack, &mut done)?;
                }
            }
        }
        if !stack.is_empty() || tree.nodes.is_empty() {
            return Err(err(b.len(), XmlProblem::Truncated));
        }
        Ok(tree)
    }

    /// Reads the start tag at `start` (`<name attr="v" ...>` or `.../>`), adds its node and
    /// returns the position after it.
    fn start_tag(
        &mut self,
        src: &'a str,
        start: usize,
        stack: &mut Vec<usize>,
        done: &mut bool,
    ) -> Result<usize, Error> {
        let b = src.as_bytes();
        let mut p = start + 1;
        let mut colon = None;
        while p < b.len() && is_name_byte(b[p]) {
            if b[p] == b':' {
                colon = Some(p);
            }
            p += 1;
        }
        if p == start + 1 {
            return Err(err(start, XmlProblem::Syntax));
        }
        let raw_name = &src[start + 1..p];
        let name = colon.map_or(raw_name, |c| &src[c + 1..p]);
        let ns_key = colon.map(|c| &src[start + 1..c]);
        let mut attrs: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
        let empty;
        loop {
            let at = p;
            while p < b.len() && is_space(b[p]) {
                p += 1;
            }
            match b.get(p) {
                None => return Err(err(start, XmlProblem::Truncated)),
                Some(b'>') => {
                    empty = false;
                    p += 1;
                    break;
                }
                Some(b'/') => {
                    if b.get(p + 1) != Some(&b'>') {
                        return Err(err(p, XmlProblem::Syntax));
                    }
                    empty = true;
                    p += 2;
                    break;
                }
                Some(_) if p == at => return Err(err(p, XmlProblem::Syntax)),
                Some(_) => {}
            }
            // name = "value"
            let key_start = p;
            while p < b.len() && is_name_byte(b[p]) {
                p += 1;
            }
            let key = &src[key_start..p];
            while p < b.len() && is_space(b[p]) {
                p += 1;
            }
            if key.is_empty() || b.get(p) != Some(&b'=') {
                return Err(err(p, XmlProblem::Syntax));
            }
            p += 1;
            while p < b.len() && is_space(b[p]) {
                p += 1;
            }
            let quote = match b.get(p) {
                Some(&q @ (b'"' | b'\'')) => q,
                None => return Err(err(start, XmlProblem::Truncated)),
                Some(_) => return Err(err(p, XmlProblem::Syntax)),
            };
            let vstart = p + 1;
            let vend = memchr(quote, &b[vstart..])
                .map(|i| vstart + i)
                .ok_or_else(|| err(start, XmlProblem::Truncated))?;
            let raw = &src[vstart..vend];
            if memchr(b'<', raw.as_bytes()).is_some() {
                return Err(err(vstart, XmlProblem::Syntax));
            }
            p = vend + 1;
            if key == "xmlns" || key.starts_with("xmlns:") {
                // Only the root's namespace matters (it names the edition).
                if self.nodes.is_empty()
                    && key.strip_prefix("xmlns:") == ns_key
                    && (ns_key.is_some() || key == "xmlns")
                {
                    self.ns = Some(unescape(raw, vstart, true)?.into_owned());
                }
                continue;
            }
            let key = local(key);
            if attrs.iter().any(|(k, _)| *k == key) {
                return Err(err(key_start, XmlProblem::Syntax));
            }
            attrs.push((key, unescape(raw, vstart, true)?));
        }
        let idx = self.nodes.len();
        let idx32 = u32::try_from(idx).map_err(|_| err(start, XmlProblem::TooDeep))?;
        self.nodes.push(Node {
            name,
            raw_name,
            attrs,
            inner: (p, p),
            next: NONE,
            ..Node::default()
        });
        if let Some(&parent) = stack.last() {
            let c = &mut self.nodes[parent].children;
            let last = c.last;
            c.last = idx32;
            if last == NONE {
                c.first = idx32;
            } else {
                self.nodes[last as usize].next = idx32;
            }
        }
        if !empty {
            stack.push(idx);
        } else if stack.is_empty() {
            *done = true;
        }
        Ok(p)
    }

    pub(crate) fn root(&self) -> &Node<'a> {
        &self.nodes[0]
    }

    pub(crate) fn children<'t>(&'t self, n: &Node<'a>) -> ChildIter<'t, 'a> {
        ChildIter {
            tree: self,
            next: n.children.first,
        }
    }
}

/// The children of a node, in document order.
pub(crate) struct ChildIter<'t, 'a> {
    tree: &'t Tree<'a>,
    next: u32,
}

impl<'t, 'a> Iterator for ChildIter<'t, 'a> {
    type Item = &'t Node<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.tree.nodes.get(self.next as usize)?;
        self.next = n.next;
        Some(n)
    }
}
