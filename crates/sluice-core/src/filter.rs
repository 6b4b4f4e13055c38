//! Filters on event fields, as written under an aggregation's `filter:`.
//!
//! Literals for money fields are written in major units (`100.50` dollars)
//! and compared exactly in minor units; literals for enum fields are symbols.

use std::fmt;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`, `==`
    Eq,
    /// `ne`, `!=`
    Ne,
    /// `lt`, `<`
    Lt,
    /// `le`, `<=`
    Le,
    /// `gt`, `>`
    Gt,
    /// `ge`, `>=`
    Ge,
    /// `in`: value is one of a list.
    In,
    /// `not_in`: value is none of a list.
    NotIn,
}

impl CompareOp {
    /// Every operator with its accepted spellings.
    pub const ALL: &'static [(&'static [&'static str], CompareOp)] = &[
        (&["eq", "==", "="], CompareOp::Eq),
        (&["ne", "!="], CompareOp::Ne),
        (&["lt", "<"], CompareOp::Lt),
        (&["le", "<="], CompareOp::Le),
        (&["gt", ">"], CompareOp::Gt),
        (&["ge", ">="], CompareOp::Ge),
        (&["in"], CompareOp::In),
        (&["not_in"], CompareOp::NotIn),
    ];

    /// Parses any accepted spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(names, _)| names.contains(&s))
            .map(|(_, op)| *op)
    }

    /// The canonical (first) spelling.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(names, _)| names[0])
            .unwrap_or("eq")
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A literal value in a filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// Text or an enum symbol.
    Str(String),
    /// An integer.
    Int(i64),
    /// A decimal number, kept as written so money compares exactly.
    Decimal(String),
    /// true / false.
    Bool(bool),
    /// A list, for `in` and `not_in`.
    List(Vec<Literal>),
}

/// One comparison `field op value`. An aggregation's filters are ANDed.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    /// Field name.
    pub field: String,
    /// Operator.
    pub op: CompareOp,
    /// Right-hand side.
    pub value: Literal,
}

/// Converts a decimal literal in major units to exact minor units at `scale`
/// (`"100.5"` at scale 2 → 10050). `None` when it has more fractional digits
/// than `scale` or overflows.
pub fn decimal_to_minor(text: &str, scale: u32) -> Option<i64> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    if frac_part.len() > scale as usize {
        return None;
    }
    let mut digits = String::with_capacity(int_part.len() + scale as usize);
    digits.push_str(if int_part.is_empty() { "0" } else { int_part });
    digits.push_str(frac_part);
    for _ in frac_part.len()..scale as usize {
        digits.push('0');
    }
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_convert_exactly() {
        assert_eq!(decimal_to_minor("100.5", 2), Some(10050));
        assert_eq!(decimal_to_minor("-0.01", 2), Some(-1));
        assert_eq!(decimal_to_minor("7", 0), Some(7));
        assert_eq!(decimal_to_minor("1.234", 2), None);
        assert_eq!(decimal_to_minor("abc", 2), None);
    }

    #[test]
    fn ops_parse_all_spellings() {
        assert_eq!(CompareOp::parse(">="), Some(CompareOp::Ge));
        assert_eq!(CompareOp::parse("not_in"), Some(CompareOp::NotIn));
        assert_eq!(CompareOp::parse("~"), None);
    }
}
