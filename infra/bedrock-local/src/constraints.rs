//! The service model's member constraints (length, pattern, enum), checked as Bedrock's request
//! validation does and refused in its "1 validation error detected" wording, so a client sees
//! the member and the rule it broke.

use regex::Regex;

use crate::errors::BedrockError;

fn refuse(member: &str, value: &str, rule: &str) -> BedrockError {
    BedrockError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {rule}"
    ))
}

/// `min <= chars(value) <= max`.
pub fn length(member: &str, value: &str, min: usize, max: usize) -> Result<(), BedrockError> {
    let n = value.chars().count();
    if n < min {
        return Err(refuse(
            member,
            value,
            &format!("have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(refuse(
            member,
            value,
            &format!("have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// The whole value matches the service model's pattern (AWS validates the full string).
pub fn pattern(member: &str, value: &str, pattern: &str) -> Result<(), BedrockError> {
    let re = Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| BedrockError::InternalServer(format!("bad pattern for {member}: {e}")))?;
    if re.is_match(value) {
        Ok(())
    } else {
        Err(refuse(
            member,
            value,
            &format!("satisfy regular expression pattern: {pattern}"),
        ))
    }
}

/// The value is one of the enum's members.
pub fn one_of(member: &str, value: &str, allowed: &[&str]) -> Result<(), BedrockError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(refuse(
            member,
            value,
            &format!("satisfy enum value set: [{}]", allowed.join(", ")),
        ))
    }
}

/// A `maxResults` query value in `1..=max`.
pub fn max_results(value: Option<&str>, max: usize) -> Result<usize, BedrockError> {
    match value {
        None => Ok(max),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(refuse(
                "maxResults",
                s,
                &format!("have value between 1 and {max}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_length_pattern_and_enum() {
        assert!(length("n", "abc", 1, 3).is_ok());
        let e = length("n", "abcd", 1, 3).unwrap_err();
        assert!(e.message().contains("less than or equal to 3"), "{e}");
        assert!(length("n", "", 1, 3).is_err());
        assert!(pattern("n", "my-profile 1", "([0-9a-zA-Z][ _-]?)+").is_ok());
        let e = pattern("n", "bad!name", "([0-9a-zA-Z][ _-]?)+").unwrap_err();
        assert!(e.message().contains("regular expression pattern"), "{e}");
        assert!(one_of("t", "APPLICATION", &["SYSTEM_DEFINED", "APPLICATION"]).is_ok());
        assert!(one_of("t", "OTHER", &["SYSTEM_DEFINED", "APPLICATION"]).is_err());
        assert_eq!(max_results(None, 1000).unwrap(), 1000);
        assert_eq!(max_results(Some("5"), 1000).unwrap(), 5);
        assert!(max_results(Some("0"), 1000).is_err());
        assert!(max_results(Some("x"), 1000).is_err());
    }
}
