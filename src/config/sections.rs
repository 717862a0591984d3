//! Turning the parsed YAML tree into schema types, one piece at a time.
//!
//! Each top-level section and each stage item is deserialized on its own,
//! so a typo in `input`, a wrong type in `stages[2]` and a bad value in
//! `encode` are all reported together instead of serde stopping at the
//! first. Errors come with a key path from `serde_path_to_error`, which the
//! position index turns into `line:col`.

use std::path::Path;

use serde::de::{DeserializeOwned, Unexpected};
use serde_path_to_error::Segment;
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

use super::device::Device;
use super::number_messages::number_message;
use super::positions::{child_path, item_path, PositionIndex};
use super::precision::Precision;
use super::problem::{Location, Problem, Problems};
use super::schema::{
    EncodeSpec, InputSpec, OutputSpec, RunSpec, StageSpec, STAGE_NAMES, TOP_LEVEL_FIELDS,
};

/// The sections of a pipeline file as far as they could be read.
///
/// `None` means the section is absent or could not be read; either way a
/// problem was recorded when the section is required.
#[derive(Debug, Default)]
pub(crate) struct Sections {
    pub(crate) name: Option<String>,
    pub(crate) input: Option<InputSpec>,
    pub(crate) output: Option<OutputSpec>,
    pub(crate) device: Option<Device>,
    pub(crate) precision: Option<Precision>,
    /// Outer `None`: no usable list. Inner `None`: that item had a problem.
    pub(crate) stages: Option<Vec<Option<StageSpec>>>,
    pub(crate) encode: Option<EncodeSpec>,
    pub(crate) run: Option<RunSpec>,
}

/// Reads the sections of `root`, adding every problem found to `problems`.
pub(crate) fn read_sections(
    root: &Value,
    file: &Path,
    index: &PositionIndex,
    problems: &mut Problems,
) -> Sections {
    let mut reader = Reader {
        file,
        index,
        problems,
    };
    reader.root(root)
}

/// "one of `a`, `b`" for a list of names, as serde words it.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    format!("one of {}", quoted.join(", "))
}

struct Reader<'a> {
    file: &'a Path,
    index: &'a PositionIndex,
    problems: &'a mut Problems,
}

impl Reader<'_> {
    fn report(&mut self, location: Option<Location>, message: impl Into<String>) {
        self.problems
            .push(Problem::new(self.file, location, message.into()));
    }

    fn at_value(&self, path: &str) -> Option<Location> {
        self.index.value_or_ancestor(path)
    }

    fn at_key(&self, path: &str) -> Option<Location> {
        self.index.key(path).or_else(|| self.at_value(path))
    }

    fn root(&mut self, root: &Value) -> Sections {
        let mut sections = Sections::default();
        let mapping = match root {
            Value::Mapping(mapping) => mapping,
            Value::Null => {
                // One clear problem beats three "missing field" ones.
                self.report(
                    None,
                    "pipeline file is empty (expected a mapping with `input`, `output` and `stages`)",
                );
                return sections;
            }
            other => {
                let message = invalid_type(other, "a mapping with `input`, `output` and `stages`");
                self.report(self.at_value(""), message);
                return sections;
            }
        };
        for (key, value) in mapping {
            let name = key_text(key);
            let path = child_path("", &name);
            match name.as_str() {
                // An optional section left empty takes its defaults.
                "encode" if value.is_null() => sections.encode = Some(EncodeSpec::default()),
                "name" | "device" | "precision" | "run" if value.is_null() => {}
                "name" => sections.name = self.section(value, &path),
                "input" => sections.input = self.section(value, &path),
                "output" => sections.output = self.section(value, &path),
                "device" => sections.device = self.section(value, &path),
                "precision" => sections.precision = self.section(value, &path),
                "encode" => sections.encode = self.section(value, &path),
                "run" => sections.run = self.section(value, &path),
                "stages" => sections.stages = self.stages(value),
                _ => {
                    let message = format!(
                        "unknown field `{name}`, expected {}",
                        one_of(TOP_LEVEL_FIELDS)
                    );
                    self.report(self.at_key(&path), message);
                }
            }
        }
        for required in ["input", "output", "stages"] {
            if !contains_key(mapping, required) {
                self.report(self.at_value(""), format!("missing field `{required}`"));
            }
        }
        sections
    }

    fn stages(&mut self, value: &Value) -> Option<Vec<Option<StageSpec>>> {
        let items = match value {
            Value::Sequence(items) => items.as_slice(),
            // `stages:` with nothing under it reads as an empty list, which
            // the checks then report with a message about emptiness.
            Value::Null => &[],
            other => {
                let message = invalid_type(other, "a list of stages");
                self.report(self.at_value("stages"), message);
                return None;
            }
        };
        let stages = items
            .iter()
            .enumerate()
            .map(|(position, item)| self.stage(&item_path("stages", position), item))
            .collect();
        Some(stages)
    }

    fn stage(&mut self, path: &str, item: &Value) -> Option<StageSpec> {
        let expected = format!("a mapping with one stage name ({})", one_of(STAGE_NAMES));
        let Value::Mapping(mapping) = item else {
            let message = invalid_type(item, &expected);
            self.report(self.at_value(path), message);
            return None;
        };
        let mut entries = mapping.iter();
        let (key, body) = match (entries.next(), entries.next()) {
            (Some(entry), None) => entry,
            (None, _) => {
                self.report(
                    self.at_value(path),
                    format!("stage is empty, expected {expected}"),
                );
                return None;
            }
            (Some(_), Some(_)) => {
                let message = too_many_stage_keys(mapping, &expected);
                self.report(self.at_value(path), message);
                return None;
            }
        };
        let name = key_text(key);
        if !STAGE_NAMES.contains(&name.as_str()) {
            let message = format!("unknown stage `{name}`, expected {}", one_of(STAGE_NAMES));
            self.report(self.at_key(&child_path(path, &name)), message);
            return None;
        }
        // serde_yaml's value deserializer reads enums only from tagged
        // values (`!restore {...}`), so the one-key mapping is turned into
        // that form; the variant then shows up as an `Enum` path segment.
        let tagged = Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(name),
            value: body.clone(),
        }));
        self.section(&tagged, path)
    }

    /// Deserializes `value` (found at key path `path`) as `T`, recording a
    /// positioned problem for every field that fails.
    ///
    /// serde stops at the first bad field, so after each failure that field
    /// is taken out and the rest is read again. The result is `Some` only
    /// when what was read is what the file says: dropping an unknown field
    /// changes nothing else, but dropping a bad value would let its default
    /// stand in and mislead later rules (a `crf` judged against a defaulted
    /// codec), so such a section is returned as `None`.
    fn section<T: DeserializeOwned>(&mut self, value: &Value, path: &str) -> Option<T> {
        let mut value = value.clone();
        let mut faithful = true;
        loop {
            let error = match serde_path_to_error::deserialize::<_, T>(&value) {
                Ok(parsed) => return faithful.then_some(parsed),
                Err(error) => error,
            };
            let full_path = extend_path(path, error.path());
            let message = clean_message(&full_path, &error.inner().to_string());
            let unknown_field = message.starts_with("unknown field `");
            // Unknown fields are the key's fault; everything else (wrong
            // type, bad value, missing field) is about the value, or for a
            // missing field the mapping that lacks it.
            let location = if unknown_field {
                self.at_key(&full_path)
            } else {
                self.at_value(&full_path)
            };
            self.report(location, message);
            let (field, whole_field) = failing_field(error.path())?;
            if !remove_field(&mut value, &field) {
                return None;
            }
            faithful &= unknown_field && whole_field;
        }
    }
}

/// The field of a section that an error path runs through, and whether the
/// error is about that field as a whole (not something inside it). A stage's
/// leading variant segment is skipped: the field is in the stage's body.
fn failing_field(path: &serde_path_to_error::Path) -> Option<(String, bool)> {
    let mut segments = path.iter().peekable();
    if let Some(Segment::Enum { .. }) = segments.peek() {
        segments.next();
    }
    match segments.next() {
        Some(Segment::Map { key }) => Some((key.clone(), segments.next().is_none())),
        _ => None,
    }
}

/// Takes `field` out of a section's mapping (or a stage body's); `false`
/// when there was nothing to take, so retrying would fail the same way.
fn remove_field(section: &mut Value, field: &str) -> bool {
    let mapping = match section {
        Value::Mapping(mapping) => mapping,
        Value::Tagged(tagged) => match &mut tagged.value {
            Value::Mapping(mapping) => mapping,
            _ => return false,
        },
        _ => return false,
    };
    mapping.remove(field).is_some()
}

fn extend_path(base: &str, path: &serde_path_to_error::Path) -> String {
    let mut full = base.to_owned();
    for segment in path {
        full = match segment {
            Segment::Seq { index } => item_path(&full, *index),
            Segment::Map { key } => child_path(&full, key),
            Segment::Enum { variant } => child_path(&full, variant),
            // Nothing deeper can be named; the closest known node will do.
            Segment::Unknown => break,
        };
    }
    full
}

/// serde's `message` about the value at `path`, in the words of the rules' messages
/// where serde's are its own.
fn clean_message(path: &str, message: &str) -> String {
    let field = path.rsplit('.').next().unwrap_or(path);
    if let Some(message) = number_message(field, message) {
        return message;
    }
    // serde_yaml's value deserializer names its own type when a unit-variant
    // enum (`existing`, `container`, ...) gets a number or a list; users
    // wrote a scalar, so say what they should have written.
    message.replace("expected a Value::Tagged enum", "expected a string")
}

fn too_many_stage_keys(mapping: &Mapping, expected: &str) -> String {
    let keys: Vec<String> = mapping
        .keys()
        .map(|key| format!("`{}`", key_text(key)))
        .collect();
    let stage = mapping
        .keys()
        .map(key_text)
        .find(|key| STAGE_NAMES.contains(&key.as_str()));
    let hint = match stage {
        Some(stage) => format!(" (should the other keys be indented under `{stage}:`?)"),
        None => String::new(),
    };
    format!(
        "stage has {} keys ({}), expected {expected}{hint}",
        keys.len(),
        keys.join(", ")
    )
}

fn contains_key(mapping: &Mapping, wanted: &str) -> bool {
    mapping.keys().any(|key| key_text(key) == wanted)
}

/// A mapping key as text; scalar keys read as they were written, so they
/// also match the position index.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => "~".to_owned(),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => "<complex key>".to_owned(),
    }
}

/// serde's "invalid type" wording for a value found where `expected` was
/// wanted, so hand-made messages read like the derived ones.
fn invalid_type(found: &Value, expected: &str) -> String {
    let unexpected = match found {
        Value::Null => Unexpected::Unit,
        Value::Bool(flag) => Unexpected::Bool(*flag),
        Value::Number(number) => match (number.as_u64(), number.as_i64(), number.as_f64()) {
            (Some(unsigned), _, _) => Unexpected::Unsigned(unsigned),
            (None, Some(signed), _) => Unexpected::Signed(signed),
            (None, None, Some(float)) => Unexpected::Float(float),
            (None, None, None) => Unexpected::Other("number"),
        },
        Value::String(text) => Unexpected::Str(text),
        Value::Sequence(_) => Unexpected::Seq,
        Value::Mapping(_) => Unexpected::Map,
        Value::Tagged(_) => Unexpected::Other("tagged value"),
    };
    format!("invalid type: {unexpected}, expected {expected}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_quotes_every_name() {
        assert_eq!(one_of(&["filter", "restore"]), "one of `filter`, `restore`");
    }

    #[test]
    fn hand_made_type_errors_read_like_serde_ones() {
        let found = Value::String("film".to_owned());
        assert_eq!(
            invalid_type(&found, "a mapping"),
            "invalid type: string \"film\", expected a mapping"
        );
        assert_eq!(
            invalid_type(&Value::from(-3), "a list"),
            "invalid type: integer `-3`, expected a list"
        );
        assert_eq!(
            invalid_type(&Value::Null, "a list"),
            "invalid type: unit value, expected a list"
        );
    }

    #[test]
    fn value_deserializer_wording_is_replaced() {
        assert_eq!(
            clean_message(
                "output.existing",
                "invalid type: integer `5`, expected a Value::Tagged enum"
            ),
            "invalid type: integer `5`, expected a string"
        );
    }

    #[test]
    fn failing_field_skips_the_stage_variant() {
        let mut track = serde_path_to_error::Track::new();
        let value: Value =
            serde_yaml::from_str("!restore {model: m, tilee: 1}").unwrap_or_default();
        let deserializer = serde_path_to_error::Deserializer::new(&value, &mut track);
        let result: Result<StageSpec, _> = serde::Deserialize::deserialize(deserializer);
        assert!(result.is_err());
        let path = track.path();
        assert_eq!(extend_path("stages[0]", &path), "stages[0].restore.tilee");
        assert_eq!(failing_field(&path), Some(("tilee".to_owned(), true)));
    }

    #[test]
    fn remove_field_reaches_into_stage_bodies() {
        let mut value: Value =
            serde_yaml::from_str("!restore {model: m, tilee: 1}").unwrap_or_default();
        assert!(remove_field(&mut value, "tilee"));
        assert!(!remove_field(&mut value, "tilee"));
        assert!(!remove_field(&mut Value::from(1), "tilee"));
    }
}
