//! HTML bodies to scannable text plus the links they carry.
//!
//! Invite bodies are untrusted and often broken HTML. The `tl` parser is lenient, never
//! recurses (it keeps an explicit stack) and is fast enough for the detector's budget; the walk
//! below is iterative too, so deeply nested tags cost linear time and no stack. Text keeps
//! inline elements glued together (Outlook splits long URLs across `<span>`s and `<wbr>`s) and
//! separates block elements with new lines, so a label and the address on the next line stay
//! apart.

use std::borrow::Cow;

/// Bodies larger than this are cut before parsing: Graph caps event bodies well below it, so
/// only hostile input is affected, and the detector's time stays bounded.
pub const MAX_HTML_BYTES: usize = 4 * 1024 * 1024;

/// Links kept per body; invites carry a few dozen, so more is hostile input.
pub const MAX_LINKS: usize = 4096;

/// A link of an HTML body: where it points and the text shown for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The `href` (entities decoded), or Outlook's `originalsrc` when present.
    pub href: String,
    /// Byte offset of the link's text in [`HtmlText::text`].
    pub at: usize,
    /// Byte offset where the link's text ends in [`HtmlText::text`].
    pub end: usize,
}

impl Link {
    /// The text shown for the link (which may differ from where it points).
    pub fn text<'t>(&self, page: &'t HtmlText) -> &'t str {
        page.text.get(self.at..self.end).unwrap_or_default().trim()
    }
}

/// Text and links of an HTML body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    /// Visible text: entities decoded, invisible characters dropped, blocks on their own lines.
    pub text: String,
    /// Links in document order.
    pub links: Vec<Link>,
    /// Whether the body was cut at [`MAX_HTML_BYTES`].
    pub truncated: bool,
}

enum Step {
    Enter(tl::NodeHandle),
    LeaveLink { href: String, start: usize },
    LeaveBlock,
}

/// What an element means for the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Content never shown (`style`, `script`, `head`, ...).
    Hidden,
    /// Starts a new line and has content (`p`, `div`, `td`, ...).
    Block,
    /// A line break without content (`br`, `hr`).
    Break,
    /// A link.
    Anchor,
    /// Anything else: its text joins the surrounding text.
    Inline,
}

/// Classifies a tag name (any case) with one lower-casing copy and one `match`.
fn class(name: &[u8]) -> Class {
    let mut buf = [0u8; 10];
    let Some(lower) = buf.get_mut(..name.len()) else { return Class::Inline };
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    match &*lower {
        b"style" | b"script" | b"head" | b"title" | b"xml" | b"template" | b"noscript" | b"object" => Class::Hidden,
        b"br" | b"hr" => Class::Break,
        b"a" => Class::Anchor,
        b"p" | b"div" | b"tr" | b"td" | b"th" | b"li" | b"ul" | b"ol" | b"table" | b"tbody" | b"h1" | b"h2" | b"h3"
        | b"h4" | b"h5" | b"h6" | b"blockquote" | b"pre" | b"section" | b"article" | b"header" | b"footer" => {
            Class::Block
        }
        _ => Class::Inline,
    }
}

/// Ends the current line, once: empty lines carry nothing and would push a label and its
/// address apart. Looks back a bounded distance, so runs of spaces cost nothing extra.
fn newline(text: &mut String) {
    match text.bytes().rev().take(16).find(|b| *b != b' ' && *b != b'\t') {
        Some(b'\n') => {}
        None if text.len() < 16 => {}
        _ => text.push('\n'),
    }
}

/// Separates a link from what surrounds it, once.
fn space(text: &mut String) {
    if text.bytes().next_back().is_some_and(|b| !b.is_ascii_whitespace()) {
        text.push(' ');
    }
}

/// The largest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The document after its `<head>`, which shows nothing (Outlook puts kilobytes of styles
/// there): cutting it before parsing saves a third of the work on a typical invite.
fn skip_head(html: &str) -> &str {
    const PROBE: usize = 64 * 1024;
    let window = clip(html, PROBE).as_bytes();
    for (i, _) in clip(html, PROBE).match_indices('<') {
        let at = |tag: &[u8]| window.get(i..i + tag.len()).is_some_and(|w| w.eq_ignore_ascii_case(tag));
        if at(b"</head>") {
            return &html[i + "</head>".len()..];
        }
        if at(b"<body") {
            // The body started without a head ending first: nothing to skip.
            return html;
        }
    }
    html
}

/// The `&str` of `html` that `part` (a slice the parser took from it) covers, found by
/// position, so text nodes need no second UTF-8 validation.
fn slice_of<'h>(html: &'h str, part: &[u8]) -> Option<&'h str> {
    let start = (part.as_ptr() as usize).checked_sub(html.as_ptr() as usize)?;
    html.get(start..start.checked_add(part.len())?)
}

/// Extracts visible text and links from an HTML body.
pub fn extract(html: &str) -> HtmlText {
    let truncated = html.len() > MAX_HTML_BYTES;
    let html = skip_head(clip(html, MAX_HTML_BYTES));
    let mut out = HtmlText { text: String::with_capacity(html.len() / 2), links: Vec::new(), truncated };
    let Ok(dom) = tl::parse(html, tl::ParserOptions::default()) else {
        // Only inputs over 4 GiB fail to parse, and those were cut above; keep the raw text.
        decode_into(html, &mut out.text);
        return out;
    };
    let parser = dom.parser();
    let mut stack: Vec<Step> = dom.children().iter().rev().map(|h| Step::Enter(*h)).collect();
    while let Some(step) = stack.pop() {
        match step {
            Step::LeaveLink { href, start } => {
                let end = out.text.len();
                space(&mut out.text);
                if out.links.len() < MAX_LINKS {
                    out.links.push(Link { href, at: start, end });
                }
            }
            Step::LeaveBlock => newline(&mut out.text),
            Step::Enter(handle) => match handle.get(parser) {
                Some(tl::Node::Raw(bytes)) => match slice_of(html, bytes.as_bytes()) {
                    Some(raw) => decode_into(raw, &mut out.text),
                    None => decode_into(&bytes.as_utf8_str(), &mut out.text),
                },
                Some(tl::Node::Tag(tag)) => {
                    match class(tag.name().as_bytes()) {
                        Class::Hidden => continue,
                        Class::Break => newline(&mut out.text),
                        Class::Block => {
                            newline(&mut out.text);
                            stack.push(Step::LeaveBlock);
                        }
                        Class::Anchor => {
                            let attrs = tag.attributes();
                            let href =
                                attrs.get("originalsrc").flatten().or_else(|| attrs.get("href").flatten()).map(|v| {
                                    match slice_of(html, v.as_bytes()) {
                                        Some(raw) => decode(raw).trim().to_owned(),
                                        None => decode(&v.as_utf8_str()).trim().to_owned(),
                                    }
                                });
                            if let Some(href) = href.filter(|h| !h.is_empty() && out.links.len() < MAX_LINKS) {
                                space(&mut out.text);
                                stack.push(Step::LeaveLink { href, start: out.text.len() });
                            }
                        }
                        Class::Inline => {}
                    }
                    let from = stack.len();
                    stack.extend(tag.children().top().iter().map(|h| Step::Enter(*h)));
                    stack[from..].reverse();
                }
                Some(tl::Node::Comment(_)) | None => {}
            },
        }
    }
    out
}

/// Decodes character references and drops characters that are invisible but split words
/// (soft hyphen, zero-width spaces and joiners, byte-order marks); no-break spaces become spaces.
pub fn decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'&' || b >= 0x80) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    decode_into(s, &mut out);
    Cow::Owned(out)
}

fn push_visible(c: char, out: &mut String) {
    match c {
        '\u{a0}' | '\u{2007}' | '\u{202f}' => out.push(' '),
        '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' => {}
        c => out.push(c),
    }
}

/// Appends `s` to `out`, decoded as in [`decode`].
pub fn decode_into(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        push_plain(&rest[..amp], out);
        rest = &rest[amp..];
        match reference(rest) {
            Some((c, used)) => {
                if let Some(c) = c {
                    push_visible(c, out);
                }
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    push_plain(rest, out);
}

fn push_plain(s: &str, out: &mut String) {
    if s.is_ascii() {
        out.push_str(s);
    } else {
        s.chars().for_each(|c| push_visible(c, out));
    }
}

/// Parses one character reference at the start of `s` (which starts with `&`): the character
/// (`None` for one that decodes to nothing) and the bytes used.
fn reference(s: &str) -> Option<(Option<char>, usize)> {
    let body = s.get(1..)?;
    let end = body.bytes().take(32).position(|b| b == b';')?;
    let name = &body[..end];
    let used = end + 2;
    if let Some(num) = name.strip_prefix('#') {
        let value = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        return Some((Some(char::from_u32(value).unwrap_or('\u{fffd}')), used));
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "shy" | "zwsp" | "zwnj" | "zwj" | "ZeroWidthSpace" => return Some((None, used)),
        "colon" => ':',
        "sol" => '/',
        "commat" => '@',
        "period" => '.',
        "quest" => '?',
        "equals" => '=',
        "num" => '#',
        "percnt" => '%',
        "lowbar" => '_',
        "hyphen" | "dash" => '-',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "hellip" => '…',
        "middot" => '·',
        "bull" => '•',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "iexcl" => '¡',
        "iquest" => '¿',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "auml" => 'ä',
        "atilde" => 'ã',
        "aring" => 'å',
        "ccedil" => 'ç',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "euml" => 'ë',
        "iacute" => 'í',
        "igrave" => 'ì',
        "icirc" => 'î',
        "iuml" => 'ï',
        "ntilde" => 'ñ',
        "oacute" => 'ó',
        "ograve" => 'ò',
        "ocirc" => 'ô',
        "ouml" => 'ö',
        "otilde" => 'õ',
        "oslash" => 'ø',
        "uacute" => 'ú',
        "ugrave" => 'ù',
        "ucirc" => 'û',
        "uuml" => 'ü',
        "szlig" => 'ß',
        "Aacute" => 'Á',
        "Agrave" => 'À',
        "Auml" => 'Ä',
        "Ccedil" => 'Ç',
        "Eacute" => 'É',
        "Egrave" => 'È',
        "Ntilde" => 'Ñ',
        "Oacute" => 'Ó',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        _ => return None,
    };
    Some((Some(c), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_links_entities_and_wbr() {
        let html = "<html><head><style>p{color:red} a@b.cd</style></head><body><p>Join&nbsp;here:</p>\
            <div><a href=\"https://zoom.us/j/1?a=1&amp;b=2\">https://zoom.us/<wbr>j/1?a=1&amp;b=2</a>Passcode</div>\
            <p>caf&eacute; &#64; &#x3A; &bogus; & done</p></body></html>";
        let out = extract(html);
        assert!(out.text.contains("Join here:"), "{:?}", out.text);
        assert!(!out.text.contains("color"), "{:?}", out.text);
        assert!(out.text.contains("\nhttps://zoom.us/j/1?a=1&b=2 Passcode"), "{:?}", out.text);
        assert!(out.text.contains("café @ : &bogus; & done"), "{:?}", out.text);
        assert_eq!(out.links.len(), 1);
        assert_eq!(out.links[0].href, "https://zoom.us/j/1?a=1&b=2");
        assert_eq!(out.links[0].text(&out), "https://zoom.us/j/1?a=1&b=2");
        assert_eq!(&out.text[out.links[0].at..out.links[0].at + 8], "https://");
    }

    #[test]
    fn outlook_original_source_wins_over_the_wrapped_href() {
        let html = r#"<a href="https://eur01.safelinks.protection.outlook.com/?url=x" originalsrc="https://meet.google.com/abc-defg-hij">Join</a>"#;
        assert_eq!(extract(html).links[0].href, "https://meet.google.com/abc-defg-hij");
    }

    #[test]
    fn broken_and_deep_html_is_fine() {
        for html in ["<a href=", "<p ", "<", "<<<>>>", "&#xFFFFFFFF;", "&#;", "<a href='x'><a href='y'>t", "</a></a>"] {
            let _ = extract(html);
        }
        let deep = "<div><a href=\"https://x.example\">".repeat(50_000);
        let out = extract(&deep);
        assert_eq!(out.links.len(), MAX_LINKS);
    }

    #[test]
    fn the_head_is_skipped_only_when_it_is_one() {
        assert_eq!(skip_head("<html><HEAD><style>x</style></Head><body>hi</body>"), "<body>hi</body>");
        assert_eq!(skip_head("<body>a</head>b</body>"), "<body>a</head>b</body>");
        assert_eq!(skip_head("no head"), "no head");
        assert_eq!(extract("<head><title>t</title></head><p>é&amp;</p>").text, "é&\n");
    }

    #[test]
    fn clip_respects_character_boundaries() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
    }
}
