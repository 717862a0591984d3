//! Durations written in pipelines: `2s`, `500ms`, `1.5m`, `1h`, or a bare number of
//! seconds.

/// Seconds in `text`.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let invalid = || {
        format!("invalid duration `{text}` (expected a number with ms, s, m or h, such as `2s`)")
    };
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(invalid()),
    };
    let seconds = value * scale;
    if seconds > 0.0 && seconds.is_finite() {
        Ok(seconds)
    } else {
        Err(format!("duration `{text}` must be greater than zero"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("2s"), Ok(2.0));
        assert_eq!(parse_duration("500ms"), Ok(0.5));
        assert_eq!(parse_duration("1.5m"), Ok(90.0));
        assert_eq!(parse_duration("3"), Ok(3.0));
        assert!(parse_duration("2 weeks")
            .unwrap_err()
            .contains("invalid duration `2 weeks`"));
        assert!(parse_duration("0s")
            .unwrap_err()
            .contains("greater than zero"));
    }
}
