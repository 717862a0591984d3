//! Where each key and value of a pipeline file sits, by key path.
//!
//! `serde_yaml` values carry no positions, so the file is read a second time
//! with `yaml-rust2`'s event parser, whose events come with markers. Every
//! node reachable through string keys and list indices is recorded under a
//! key path such as `stages[1].restore.model`; the root is the empty path.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::problem::Location;

/// Positions of the key and the value at one key path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The mapping key that names the node; `None` for list items and the root.
    key: Option<Location>,
    /// The first character of the node itself.
    value: Location,
}

/// A key written twice in the same mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The key as written.
    pub(crate) name: String,
    /// Where it was first written.
    pub(crate) first: Location,
    /// Where it was written again.
    pub(crate) again: Location,
}

/// Key path → position of that node in the source text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PositionIndex {
    entries: HashMap<String, Entry>,
    duplicates: Vec<Duplicate>,
}

impl PositionIndex {
    /// Indexes `text`. Best effort: when the event parser stops on an error,
    /// what was indexed before it is kept, because positions only decorate
    /// messages and must never hide the problem being reported.
    pub(crate) fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        // The YAML was already accepted by serde_yaml; a disagreement between
        // the two parsers only costs positions, so the error is dropped.
        let _ = parser.load(&mut builder, false);
        Self {
            entries: builder.entries,
            duplicates: builder.duplicates,
        }
    }

    /// Keys written more than once in one mapping, in file order. serde_yaml
    /// refuses these but names only the first, and without the key's place.
    pub(crate) fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// Where the value at `path` starts.
    pub(crate) fn value(&self, path: &str) -> Option<Location> {
        self.entries.get(path).map(|entry| entry.value)
    }

    /// Where the key naming the value at `path` starts; `None` for list
    /// items and the root, which have no key.
    pub(crate) fn key(&self, path: &str) -> Option<Location> {
        self.entries.get(path).and_then(|entry| entry.key)
    }

    /// The value at `path` or, when it is absent from the file, at its
    /// nearest written ancestor; the root as the last resort. Problems about
    /// defaulted settings then point at the section that would hold them.
    pub(crate) fn value_or_ancestor(&self, path: &str) -> Option<Location> {
        let mut current = path;
        loop {
            if let Some(found) = self.value(current) {
                return Some(found);
            }
            if current.is_empty() {
                return None;
            }
            current = parent_path(current);
        }
    }
}

/// The key path one level up: `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
pub(crate) fn parent_path(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(cut) => &path[..cut],
        None => "",
    }
}

/// The last key of a path: `stages[1].restore.model` → `model`.
fn last_segment(path: &str) -> &str {
    path.rfind('.').map_or(path, |cut| &path[cut + 1..])
}

/// `parent.key`, or just `key` at the root.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn item_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

fn location(mark: Marker) -> Location {
    // yaml-rust2 counts lines from 1 but columns from 0.
    Location::new(mark.line(), mark.col() + 1)
}

/// What an open mapping waits for next.
#[derive(Debug)]
enum Awaiting {
    Key,
    /// A value; `child` is `None` when its key was not a plain string
    /// (a list or mapping used as a key), which no key path can name.
    Value {
        child: Option<String>,
        key: Location,
    },
}

#[derive(Debug)]
enum Frame {
    Mapping {
        path: String,
        awaiting: Awaiting,
    },
    Sequence {
        path: String,
        next: usize,
    },
    /// A node that no key path reaches; only its nesting is tracked.
    Unnamed,
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    entries: HashMap<String, Entry>,
    duplicates: Vec<Duplicate>,
}

/// What kind of node an event starts, as far as placing it is concerned.
#[derive(Debug, Clone, Copy)]
enum Node<'a> {
    /// A scalar with text; as a key, that text names the child.
    Scalar(&'a str),
    /// A value left empty (`key:` with nothing after it).
    ImplicitNull,
    /// An alias, mapping or sequence: never a usable key.
    Other,
}

impl Builder {
    /// Places a new node in its parent: returns its key path (`None` when
    /// unnamed, or when the node is a key) and records its position.
    fn place(&mut self, at: Location, node: Node<'_>) -> Option<String> {
        let Self {
            stack,
            entries,
            duplicates,
        } = self;
        let (path, entry) = match stack.last_mut() {
            None => (
                String::new(),
                Entry {
                    key: None,
                    value: at,
                },
            ),
            Some(Frame::Unnamed) => return None,
            Some(Frame::Sequence { path, next }) => {
                pull_back(entries, path, at);
                let item = item_path(path, *next);
                *next += 1;
                (
                    item,
                    Entry {
                        key: None,
                        value: at,
                    },
                )
            }
            Some(Frame::Mapping { path, awaiting }) => match awaiting {
                Awaiting::Key => {
                    pull_back(entries, path, at);
                    let child = match node {
                        Node::Scalar(text) => Some(child_path(path, text)),
                        Node::ImplicitNull => Some(child_path(path, "")),
                        Node::Other => None,
                    };
                    *awaiting = Awaiting::Value { child, key: at };
                    return None;
                }
                Awaiting::Value { child, key } => {
                    let key = *key;
                    let child = child.take();
                    *awaiting = Awaiting::Key;
                    // An empty value has no text to point at; the parser
                    // marks it wherever the next token starts, often the
                    // next line, so its key stands in for it.
                    let value = match node {
                        Node::ImplicitNull => key,
                        Node::Scalar(_) | Node::Other => at,
                    };
                    (
                        child?,
                        Entry {
                            key: Some(key),
                            value,
                        },
                    )
                }
            },
        };
        match entries.entry(path.clone()) {
            MapEntry::Vacant(vacant) => {
                vacant.insert(entry);
                Some(path)
            }
            MapEntry::Occupied(first) => {
                if let (Some(first), Some(again)) = (first.get().key, entry.key) {
                    duplicates.push(Duplicate {
                        name: last_segment(&path).to_owned(),
                        first,
                        again,
                    });
                }
                // The repeat's own children would collide with the first
                // one's paths; they are left unnamed instead.
                None
            }
        }
    }

    fn open(&mut self, at: Location, mapping: bool) {
        // A container used as a mapping key gets no path (`place` returns
        // `None`), so everything inside it is tracked as unnamed.
        let frame = match (self.place(at, Node::Other), mapping) {
            (None, _) => Frame::Unnamed,
            (Some(path), true) => Frame::Mapping {
                path,
                awaiting: Awaiting::Key,
            },
            (Some(path), false) => Frame::Sequence { path, next: 0 },
        };
        self.stack.push(frame);
    }
}

/// Moves the start of the container at `path` back to `child` when the
/// child comes first: block collections are marked where the parser noticed
/// them (after the first key), not where they begin.
fn pull_back(entries: &mut HashMap<String, Entry>, path: &str, child: Location) {
    if let Some(entry) = entries.get_mut(path) {
        entry.value = entry.value.min(child);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let at = location(mark);
        match event {
            Event::Scalar(text, style, ..) => {
                // Only an absent value yields an empty plain scalar; `''`
                // and `""` are quoted.
                let node = if text.is_empty() && style == TScalarStyle::Plain {
                    Node::ImplicitNull
                } else {
                    Node::Scalar(&text)
                };
                self.place(at, node);
            }
            Event::Alias(_) => {
                self.place(at, Node::Other);
            }
            Event::MappingStart(..) => self.open(at, true),
            Event::SequenceStart(..) => self.open(at, false),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
name: demo
input:
  path: ../film
  include: [\"*.mp4\", '*.mkv']
stages:
  - filter: \"yadif\"
  - restore:
      model: m.onnx
      tile: 256
encode: {crf: 18}
";

    fn at(line: usize, column: usize) -> Option<Location> {
        Some(Location::new(line, column))
    }

    #[test]
    fn scalar_values_and_their_keys() {
        let index = PositionIndex::build(TEXT);
        assert_eq!(index.value("name"), at(1, 7));
        assert_eq!(index.key("name"), at(1, 1));
        assert_eq!(index.value("input.path"), at(3, 9));
        assert_eq!(index.key("input.path"), at(3, 3));
    }

    #[test]
    fn block_mapping_value_starts_at_its_first_key() {
        let index = PositionIndex::build(TEXT);
        assert_eq!(index.value("input"), at(3, 3));
        assert_eq!(index.key("input"), at(2, 1));
        assert_eq!(index.value(""), at(1, 1));
    }

    #[test]
    fn sequence_items_are_indexed_by_position() {
        let index = PositionIndex::build(TEXT);
        assert_eq!(index.value("stages"), at(6, 3));
        assert_eq!(index.value("stages[0]"), at(6, 5));
        assert_eq!(index.key("stages[0]"), None);
        assert_eq!(index.value("stages[0].filter"), at(6, 13));
        assert_eq!(index.value("stages[1].restore.model"), at(8, 14));
        assert_eq!(index.key("stages[1].restore.tile"), at(9, 7));
    }

    #[test]
    fn flow_collections_point_at_their_brackets_and_items() {
        let index = PositionIndex::build(TEXT);
        assert_eq!(index.value("input.include"), at(4, 12));
        assert_eq!(index.value("input.include[0]"), at(4, 13));
        assert_eq!(index.value("input.include[1]"), at(4, 22));
        assert_eq!(index.value("encode"), at(10, 9));
        assert_eq!(index.value("encode.crf"), at(10, 15));
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_ancestor() {
        let index = PositionIndex::build(TEXT);
        assert_eq!(index.value("encode.codec"), None);
        assert_eq!(index.value_or_ancestor("encode.codec"), at(10, 9));
        assert_eq!(index.value_or_ancestor("stages[1].restore.x"), at(8, 7));
        assert_eq!(index.value_or_ancestor("nothing.here"), at(1, 1));
    }

    #[test]
    fn complex_keys_do_not_shift_later_entries() {
        let text = "? [a, b]\n: {x: 1}\nafter: 2\n";
        let index = PositionIndex::build(text);
        assert_eq!(index.value("after"), at(3, 8));
        assert_eq!(index.value("x"), None);
    }

    #[test]
    fn empty_values_point_at_their_key() {
        let index = PositionIndex::build("first: 1\nempty:\nlast: ''\n");
        assert_eq!(index.value("empty"), at(2, 1));
        assert_eq!(index.value("last"), at(3, 7));
    }

    #[test]
    fn unindented_lists_start_at_their_first_item() {
        let index = PositionIndex::build("list:\n- a\n- b: 1\n  c: 2\n");
        assert_eq!(index.value("list"), at(2, 3));
        assert_eq!(index.value("list[1]"), at(3, 3));
        assert_eq!(index.value("list[1].c"), at(4, 6));
    }

    #[test]
    fn keys_written_twice_are_listed_with_both_places() {
        let text = "input:\n  path: a\n  path: b\nname: x\nname: y\ninput: {path: c}\n";
        let index = PositionIndex::build(text);
        let found: Vec<(&str, Location, Location)> = index
            .duplicates()
            .iter()
            .map(|d| (d.name.as_str(), d.first, d.again))
            .collect();
        assert_eq!(
            found,
            vec![
                ("path", Location::new(2, 3), Location::new(3, 3)),
                ("name", Location::new(4, 1), Location::new(5, 1)),
                ("input", Location::new(1, 1), Location::new(6, 1)),
            ]
        );
        assert_eq!(index.value("input.path"), at(2, 9));
    }

    #[test]
    fn broken_text_keeps_what_came_before_the_error() {
        let index = PositionIndex::build("a: 1\nb: [\n");
        assert_eq!(index.value("a"), at(1, 4));
    }

    #[test]
    fn key_paths_are_built_and_split_consistently() {
        assert_eq!(child_path("", "input"), "input");
        assert_eq!(child_path("stages[1]", "restore"), "stages[1].restore");
        assert_eq!(item_path("stages", 2), "stages[2]");
        assert_eq!(parent_path("stages[1].restore"), "stages[1]");
        assert_eq!(parent_path("stages[1]"), "stages");
        assert_eq!(parent_path("stages"), "");
    }
}
