//! A small XML tree for AWS Query answers, read with `quick-xml`.

use quick_xml::events::Event;
use quick_xml::Reader;

/// An element: its local name, its child elements and its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (without a namespace prefix).
    pub name: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The text directly inside, unescaped.
    pub text: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the child at `path` (`["Error", "Code"]`).
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        let mut e = self;
        for name in path {
            e = e.child(name)?;
        }
        Some(e.text.as_str())
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct XmlError(String);

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    name.rsplit(':').next().unwrap_or_default().to_owned()
}

/// Reads a document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        match reader.read_event().map_err(|e| XmlError(e.to_string()))? {
            Event::Start(start) => {
                stack.push(Element { name: local(start.name().as_ref()), ..Element::default() });
            }
            Event::Empty(start) => {
                let e = Element { name: local(start.name().as_ref()), ..Element::default() };
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(e);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| XmlError("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Err(XmlError("unbalanced end tag".into())),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| XmlError(e.to_string()))?;
                let s = quick_xml::escape::unescape(&s).map_err(|e| XmlError(e.to_string()))?;
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| XmlError(e.to_string()))?;
                let raw = format!("&{name};");
                let s = quick_xml::escape::unescape(&raw).map_err(|e| XmlError(e.to_string()))?;
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack.pop().ok_or_else(|| XmlError("empty document".into()))?;
    if !stack.is_empty() {
        return Err(XmlError("unclosed element".into()));
    }
    root.children.pop().ok_or_else(|| XmlError("no root element".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_text_and_entities() {
        let doc = parse(r#"<?xml version="1.0"?><A xmlns="x"><B>1 &amp; 2</B><C/><B>3</B></A>"#).unwrap();
        assert_eq!(doc.name, "A");
        assert_eq!(doc.children.len(), 3);
        assert_eq!(doc.text_at(&["B"]), Some("1 & 2"));
        assert!(parse("<A><B></A>").is_err());
        assert!(parse("").is_err());
    }
}
