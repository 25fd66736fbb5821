//! A small element tree over `quick-xml`, enough for the documents room devices take: elements,
//! attributes and text, with the five predefined entities and character references resolved.
//! Devices answer a document that is not well-formed with an error, so the reader insists on
//! matching end tags, one root element and nothing but whitespace outside it.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

/// One element: its name, attributes, child elements and the text directly inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Element name, prefix included (devices use no namespaces).
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The element's own text (the text of its children is theirs), unescaped.
    pub text: String,
}

impl Element {
    /// Parses a whole document into its root element; `Err` says why it is not well-formed.
    pub fn parse(doc: &str) -> Result<Self, String> {
        let mut reader = Reader::from_str(doc);
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        loop {
            let event = reader.read_event().map_err(|e| format!("not well-formed XML: {e}"))?;
            match event {
                Event::Start(start) => {
                    if root.is_some() {
                        return Err("content after the root element".to_owned());
                    }
                    stack.push(open(&start)?);
                }
                Event::Empty(start) => {
                    let element = open(&start)?;
                    attach(&mut stack, &mut root, element)?;
                }
                Event::End(_) => {
                    let element = stack.pop().ok_or("unexpected end tag")?;
                    attach(&mut stack, &mut root, element)?;
                }
                Event::Text(text) => {
                    let text = text.xml_content().map_err(|e| format!("bad text: {e}"))?;
                    append_text(&mut stack, &text)?;
                }
                Event::CData(data) => {
                    let text = data.decode().map_err(|e| format!("bad CDATA: {e}"))?;
                    append_text(&mut stack, &text)?;
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref().map_err(|e| format!("bad reference: {e}"))? {
                        Some(c) => c.to_string(),
                        None => {
                            let name = reference.decode().map_err(|e| format!("bad reference: {e}"))?;
                            resolve_predefined_entity(&name)
                                .ok_or_else(|| format!("unknown entity &{name};"))?
                                .to_owned()
                        }
                    };
                    append_text(&mut stack, &resolved)?;
                }
                Event::Eof => break,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        if !stack.is_empty() {
            return Err("unclosed element at the end of the document".to_owned());
        }
        root.ok_or_else(|| "no root element".to_owned())
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The descendant reached by following `path` through first children of those names.
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The trimmed text of the descendant at `path`; `None` when it is absent.
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path).map(|e| e.text.trim())
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn open(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("bad attribute: {e}"))?;
        let value = attr.unescape_value().map_err(|e| format!("bad attribute value: {e}"))?;
        attrs.push((String::from_utf8_lossy(attr.key.as_ref()).into_owned(), value.into_owned()));
    }
    Ok(Element { name, attrs, ..Element::default() })
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("more than one root element".to_owned()),
    }
    Ok(())
}

fn append_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(open) => open.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err("text outside the root element".to_owned()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_and_character_references_are_resolved() {
        let root = Element::parse(r#"<?xml version="1.0"?><a k="x&amp;y"><b>1 &lt; 2 &#38; &#x41;</b><c/></a>"#)
            .unwrap_or_default();
        assert_eq!(root.attr("k"), Some("x&y"));
        assert_eq!(root.text_at(&["b"]), Some("1 < 2 & A"));
        assert!(root.child("c").is_some());
    }

    #[test]
    fn documents_that_are_not_well_formed_are_refused() {
        for doc in ["", "<a>", "<a></b>", "<a/><b/>", "text<a/>", "<a>&bogus;</a>", "<a x='1' x='2'/>"] {
            assert!(Element::parse(doc).is_err(), "{doc}");
        }
    }
}
