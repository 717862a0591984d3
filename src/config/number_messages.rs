//! Messages for numeric fields given something else (`tile: big`), worded like the
//! rules' own (`tile 16 is too small (expected 0 for whole frame, or >= 32)`) instead
//! of serde's `invalid type: string "big", expected u32`.

use super::schema::MIN_TILE;

/// serde's names of the number types the schema uses, and what each is in words.
const NUMBER_TYPES: &[(&str, &str)] = &[
    ("u8", "a whole number"),
    ("u32", "a whole number"),
    ("f32", "a number"),
];

/// What a numeric field takes, where the rules say more than its type does.
fn expected(field: &str, number_type: &str) -> String {
    match field {
        "tile" => format!("0 for whole frame, or >= {MIN_TILE}"),
        "scale" => "1 to 8".to_owned(),
        "scene_threshold" => "between 0 and 1".to_owned(),
        "jobs" | "threads" | "gpu_sessions" | "beams" | "max_tokens" | "batch" => ">= 1".to_owned(),
        _ if number_type == "u8" => "0 to 255".to_owned(),
        _ if number_type == "f32" => "a number such as 0.5".to_owned(),
        _ => ">= 0".to_owned(),
    }
}

/// `field`'s message for serde's `message` when it is a number type's refusal of a
/// scalar; `None` for any other message.
pub(crate) fn number_message(field: &str, message: &str) -> Option<String> {
    let (found, number_type) = message.rsplit_once(", expected ")?;
    let words = NUMBER_TYPES
        .iter()
        .find(|(name, _)| *name == number_type)
        .map(|(_, words)| *words)?;
    let expected = expected(field, number_type);
    if let Some(value) = found.strip_prefix("invalid value: integer ") {
        // A whole number outside the type: negative, or too large.
        return Some(format!(
            "{field} {value} is out of range (expected {expected})"
        ));
    }
    let found = found.strip_prefix("invalid type: ")?;
    let value = found
        .strip_prefix("string ")
        .and_then(|quoted| serde_json::from_str::<String>(quoted).ok())
        .map(|text| format!("`{text}`"))
        .or_else(|| {
            ["floating point ", "boolean ", "integer "]
                .iter()
                .find_map(|kind| found.strip_prefix(kind))
                .map(str::to_owned)
        })?;
    Some(format!(
        "{field} {value} is not {words} (expected {expected})"
    ))
}

#[cfg(test)]
mod tests {
    use super::number_message;

    #[test]
    fn a_word_where_a_tile_size_goes_reads_like_the_tile_rules() {
        assert_eq!(
            number_message("tile", "invalid type: string \"big\", expected u32").as_deref(),
            Some("tile `big` is not a whole number (expected 0 for whole frame, or >= 32)")
        );
    }

    #[test]
    fn other_scalars_and_out_of_range_integers() {
        assert_eq!(
            number_message("crf", "invalid type: floating point `18.5`, expected u8").as_deref(),
            Some("crf `18.5` is not a whole number (expected 0 to 255)")
        );
        assert_eq!(
            number_message("crf", "invalid value: integer `300`, expected u8").as_deref(),
            Some("crf `300` is out of range (expected 0 to 255)")
        );
        assert_eq!(
            number_message("jobs", "invalid value: integer `-2`, expected u32").as_deref(),
            Some("jobs `-2` is out of range (expected >= 1)")
        );
        assert_eq!(
            number_message(
                "scene_threshold",
                "invalid type: boolean `true`, expected f32"
            )
            .as_deref(),
            Some("scene_threshold `true` is not a number (expected between 0 and 1)")
        );
    }

    #[test]
    fn other_messages_are_left_alone() {
        assert_eq!(
            number_message("tile", "invalid type: sequence, expected u32"),
            None
        );
        assert_eq!(
            number_message("codec", "invalid type: integer `5`, expected a string"),
            None
        );
    }
}
