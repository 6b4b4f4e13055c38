//! Safe identifiers: names that become Kafka topics, table and column names
//! must not be able to inject anything.

/// Why a name is not a safe identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    /// Empty name.
    #[error("name is empty")]
    Empty,
    /// Longer than 64 characters.
    #[error("name `{0}` is longer than 64 characters")]
    TooLong(String),
    /// Does not start with a lowercase letter or underscore.
    #[error("name `{0}` must start with a lowercase letter or `_`")]
    BadStart(String),
    /// Contains a character outside `[a-z0-9_]`.
    #[error("name `{name}` contains `{ch}`; only lowercase letters, digits and `_` are allowed")]
    BadChar {
        /// The name.
        name: String,
        /// The first offending character.
        ch: char,
    },
}

/// Checks that `name` is `[a-z_][a-z0-9_]{0,63}`: valid, unquoted, in Kafka
/// topics, ClickHouse and DuckDB tables and columns, and Avro names.
pub fn check_identifier(name: &str) -> Result<(), IdentError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(IdentError::Empty);
    };
    if name.len() > 64 {
        return Err(IdentError::TooLong(name.to_string()));
    }
    if !(first.is_ascii_lowercase() || first == '_') {
        return Err(IdentError::BadStart(name.to_string()));
    }
    if let Some(ch) = chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(IdentError::BadChar {
            name: name.to_string(),
            ch,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        assert!(check_identifier("page_view").is_ok());
        assert!(check_identifier("_x9").is_ok());
        assert!(check_identifier("Drop Table").is_err());
        assert!(check_identifier("a;drop").is_err());
        assert!(check_identifier("9lives").is_err());
        assert!(check_identifier("").is_err());
        assert!(check_identifier(&"a".repeat(65)).is_err());
    }
}
