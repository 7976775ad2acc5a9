//! A small, bounded element tree over quick-xml's namespace-aware reader. No DTDs, no entity
//! but the five predefined ones and character references, a depth and a node limit.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::error::{Error, XmlProblem};

/// Deepest element nesting accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// One element.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Local name (prefix removed).
    pub(crate) name: String,
    /// The namespace URI, when bound.
    pub(crate) ns: Option<String>,
    /// Attributes by local name, values unescaped.
    pub(crate) attrs: Vec<(String, String)>,
    /// The text directly inside the element, unescaped.
    pub(crate) text: String,
    /// Child elements, indices into the tree.
    pub(crate) children: Vec<usize>,
    /// The element's inner XML, as a byte range of the input.
    pub(crate) inner: (usize, usize),
}

impl Node {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed document: node 0 is the root element.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

fn err(offset: u64, problem: XmlProblem) -> Error {
    Error::Xml {
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        problem,
    }
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

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or(name).to_owned()
}

impl Tree {
    /// Parses one XML document.
    pub(crate) fn parse(input: &[u8]) -> Result<Self, Error> {
        let text = std::str::from_utf8(input)
            .map_err(|e| err(e.valid_up_to() as u64, XmlProblem::NotUtf8))?;
        let mut r = NsReader::from_str(text);
        r.config_mut().check_end_names = true;
        let mut tree = Self::default();
        let mut stack: Vec<usize> = Vec::new();
        let mut done = false;
        loop {
            let before = r.buffer_position();
            let (ns, ev) = match r.read_resolved_event() {
                Ok((ResolveResult::Bound(n), ev)) => (Some(n.0.to_owned()), ev),
                Ok((_, ev)) => (None, ev),
                Err(_) => return Err(err(before, XmlProblem::Syntax)),
            };
            match ev {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    if done {
                        return Err(err(before, XmlProblem::Syntax));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(err(before, XmlProblem::TooDeep));
                    }
                    let mut attrs = Vec::new();
                    for a in e.attributes() {
                        let a = a.map_err(|_| err(before, XmlProblem::Syntax))?;
                        let key = a.key.as_ref();
                        if key == "xmlns" || key.starts_with("xmlns:") {
                            continue;
                        }
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|_| err(before, XmlProblem::Entity))?;
                        attrs.push((local(key), v.into_owned()));
                    }
                    let idx = tree.nodes.len();
                    let pos = usize::try_from(r.buffer_position()).unwrap_or(usize::MAX);
                    tree.nodes.push(Node {
                        name: local(e.name().as_ref()),
                        ns,
                        attrs,
                        inner: (pos, pos),
                        ..Node::default()
                    });
                    if let Some(&parent) = stack.last() {
                        tree.nodes[parent].children.push(idx);
                    }
                    if matches!(ev, Event::Start(_)) {
                        stack.push(idx);
                    } else if stack.is_empty() {
                        done = true;
                    }
                }
                Event::End(_) => {
                    let Some(idx) = stack.pop() else {
                        return Err(err(before, XmlProblem::Syntax));
                    };
                    tree.nodes[idx].inner.1 = usize::try_from(before).unwrap_or(usize::MAX);
                    if stack.is_empty() {
                        done = true;
                    }
                }
                Event::Text(t) => {
                    if let Some(&idx) = stack.last() {
                        tree.nodes[idx].text.push_str(&t);
                    } else if !t.trim().is_empty() {
                        return Err(err(before, XmlProblem::Syntax));
                    }
                }
                Event::CData(c) => {
                    if let Some(&idx) = stack.last() {
                        tree.nodes[idx].text.push_str(&c);
                    }
                }
                Event::GeneralRef(g) => {
                    let c = if g.is_char_ref() {
                        g.resolve_char_ref().ok().flatten()
                    } else {
                        predefined(&g)
                    };
                    let c = c.ok_or_else(|| err(before, XmlProblem::Entity))?;
                    if let Some(&idx) = stack.last() {
                        tree.nodes[idx].text.push(c);
                    }
                }
                Event::DocType(_) => return Err(err(before, XmlProblem::Dtd)),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !stack.is_empty() || tree.nodes.is_empty() {
            return Err(err(r.buffer_position(), XmlProblem::Truncated));
        }
        Ok(tree)
    }

    pub(crate) fn root(&self) -> &Node {
        &self.nodes[0]
    }

    pub(crate) fn children<'a>(&'a self, n: &'a Node) -> impl Iterator<Item = &'a Node> + 'a {
        n.children.iter().filter_map(|&i| self.nodes.get(i))
    }
}
