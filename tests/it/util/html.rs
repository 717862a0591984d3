//! Reading `report.html` back: a small start-tag scanner (enough for the page this crate
//! writes: quoted attribute values, no `>` inside them), the item rows with their
//! inlined pictures, and the page's links resolved to files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use image::RgbImage;

/// One start tag: its name and attributes.
#[derive(Debug)]
pub struct Tag {
    pub name: String,
    pub attributes: HashMap<String, String>,
    /// Byte offset in the page.
    pub at: usize,
}

/// Every start tag of `html`, in order.
pub fn start_tags(html: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    let mut rest = html;
    let mut offset = 0;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("an unclosed tag") + open;
        let inside = &rest[open + 1..close];
        if !inside.starts_with(['/', '!']) {
            let name: String = inside
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let mut attributes = HashMap::new();
            let mut text = &inside[name.len()..];
            while let Some(eq) = text.find("=\"") {
                let key = text[..eq].trim().to_string();
                let end = text[eq + 2..].find('"').expect("a closing quote") + eq + 2;
                attributes.insert(key, text[eq + 2..end].to_string());
                text = &text[end + 1..];
            }
            tags.push(Tag {
                name: name.to_ascii_lowercase(),
                attributes,
                at: offset + open,
            });
        }
        offset += close + 1;
        rest = &rest[close + 1..];
    }
    tags
}

/// A picture inlined in the page, decoded, with the size the page shows it at.
#[derive(Debug, Clone)]
pub struct Picture {
    pub alt: String,
    pub image: RgbImage,
    /// The `width` and `height` attributes (the on-screen size), when the page says.
    pub shown: Option<(u32, u32)>,
}

/// One row of the items table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The row's class: its status.
    pub class: String,
    /// The row's markup.
    pub html: String,
    pub pictures: Vec<Picture>,
}

impl Row {
    /// The text of the row's first `<code>` (its input).
    pub fn input(&self) -> &str {
        between(&self.html, "<code>", "</code>")
    }

    /// The run the row's entry was made by.
    pub fn run(&self) -> &str {
        between(&self.html, "<span class=\"run\">", "</span>")
    }

    /// The picture with `alt`.
    pub fn picture(&self, alt: &str) -> &Picture {
        self.pictures
            .iter()
            .find(|p| p.alt == alt)
            .unwrap_or_else(|| panic!("no {alt} picture in {}", self.html))
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in {text}"))
        + open.len();
    let end = text[start..].find(close).expect("a closing tag") + start;
    &text[start..end]
}

/// The rows of the items table, in order, with their pictures decoded.
pub fn item_rows(html: &str) -> Vec<Row> {
    let tags = start_tags(html);
    let body = tags
        .iter()
        .find(|t| t.name == "tbody")
        .expect("an items table")
        .at;
    let rows: Vec<&Tag> = tags
        .iter()
        .filter(|t| t.name == "tr" && t.at > body)
        .collect();
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let end = rows.get(i + 1).map_or(html.len(), |next| next.at);
            let pictures = tags
                .iter()
                .filter(|t| t.name == "img" && t.at > row.at && t.at < end)
                .map(picture)
                .collect();
            Row {
                class: row.attributes.get("class").cloned().unwrap_or_default(),
                html: html[row.at..end].to_string(),
                pictures,
            }
        })
        .collect()
}

fn picture(tag: &Tag) -> Picture {
    let data = tag.attributes["src"]
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URI");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    let number = |key: &str| tag.attributes.get(key).map(|v| v.parse::<u32>().unwrap());
    Picture {
        alt: tag.attributes["alt"].clone(),
        image: image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .unwrap()
            .to_rgb8(),
        shown: number("width").zip(number("height")),
    }
}

/// The file a relative `href` of a page in `page_dir` leads to (percent-decoded).
pub fn link_target(page_dir: &Path, href: &str) -> PathBuf {
    assert!(
        !href.contains(':') && !href.starts_with('/'),
        "`{href}` is not a relative link"
    );
    let mut bytes = Vec::new();
    let mut rest = href.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    page_dir.join(String::from_utf8(bytes).unwrap())
}
