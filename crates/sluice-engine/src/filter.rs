//! Aggregation filters, compiled per (aggregation, event type) against the
//! field's declared type.
//!
//! Literals are converted once: money literals are major units (`100.50`)
//! turned into exact minor units with
//! [`sluice_core::filter::decimal_to_minor`]; enum literals
//! are symbol names turned into symbol indexes (an unknown symbol is a plan
//! error); `in`/`not_in` take a list (a single literal is a one-element
//! list). Enums and booleans support only `eq`, `ne`, `in`, `not_in`. A null
//! field value fails every predicate, `ne` and `not_in` included (SQL).

use std::cmp::Ordering;

use sluice_core::filter::decimal_to_minor;
use sluice_core::{CompareOp, FieldType, Literal};

use crate::decode::FieldVal;
use crate::value::Value;

/// Converts a filter literal into typed values for a field of type `ty`
/// (strings and enum symbols as [`Value::Str`], money in minor units).
pub fn literal_values(ty: &FieldType, op: CompareOp, lit: &Literal) -> Result<Vec<Value>, String> {
    let items: Vec<&Literal> = match (op, lit) {
        (CompareOp::In | CompareOp::NotIn, Literal::List(items)) => items.iter().collect(),
        (_, Literal::List(_)) => return Err(format!("`{op}` takes a single value, not a list")),
        (_, l) => vec![l],
    };
    if matches!(ty, FieldType::Enum { .. } | FieldType::Boolean)
        && matches!(
            op,
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge
        )
    {
        return Err(format!("`{op}` is not defined on {} fields", ty.name()));
    }
    items.into_iter().map(|l| one(ty, l)).collect()
}

fn one(ty: &FieldType, lit: &Literal) -> Result<Value, String> {
    let wrong = || format!("literal {lit:?} does not fit a `{}` field", ty.name());
    Ok(match (ty, lit) {
        (FieldType::String, Literal::Str(s)) => Value::Str(s.clone()),
        (FieldType::Enum { symbols }, Literal::Str(s)) => {
            if !symbols.contains(s) {
                return Err(format!(
                    "`{s}` is not a symbol of the enum (symbols: {})",
                    symbols.join(", ")
                ));
            }
            Value::Str(s.clone())
        }
        (FieldType::Int | FieldType::Long | FieldType::Timestamp, Literal::Int(i)) => {
            Value::Int(*i)
        }
        (FieldType::Int | FieldType::Long | FieldType::Timestamp, Literal::Decimal(d)) => {
            Value::Int(decimal_to_minor(d, 0).ok_or_else(wrong)?)
        }
        (FieldType::Money { scale, .. }, Literal::Int(i)) => {
            let f = 10i64.checked_pow(*scale).ok_or_else(wrong)?;
            Value::Int(i.checked_mul(f).ok_or_else(wrong)?)
        }
        (FieldType::Money { scale, .. }, Literal::Decimal(d)) => Value::Int(
            decimal_to_minor(d, *scale)
                .ok_or_else(|| format!("`{d}` is not an amount with at most {scale} decimals"))?,
        ),
        (FieldType::Double, Literal::Int(i)) => Value::Double(*i as f64),
        (FieldType::Double, Literal::Decimal(d)) => Value::Double(d.parse().map_err(|_| wrong())?),
        (FieldType::Boolean, Literal::Bool(b)) => Value::Bool(*b),
        _ => return Err(wrong()),
    })
}

#[derive(Clone, Debug)]
enum Lits {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
    Str(Vec<Box<[u8]>>),
    Enum(Vec<u32>),
}

/// One compiled predicate.
#[derive(Clone, Debug)]
pub(crate) struct CompiledPredicate {
    slot: u16,
    op: CompareOp,
    lits: Lits,
}

impl CompiledPredicate {
    /// Compiles `op lit` for the field in `slot` of type `ty`.
    pub(crate) fn new(
        slot: u16,
        ty: &FieldType,
        op: CompareOp,
        lit: &Literal,
    ) -> Result<Self, String> {
        let vals = literal_values(ty, op, lit)?;
        let lits = match ty {
            FieldType::Enum { symbols } => Lits::Enum(
                vals.iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => symbols.iter().position(|x| x == s).map(|i| i as u32),
                        _ => None,
                    })
                    .collect(),
            ),
            FieldType::String => Lits::Str(
                vals.iter()
                    .map(|v| match v {
                        Value::Str(s) => s.as_bytes().into(),
                        _ => Box::default(),
                    })
                    .collect(),
            ),
            FieldType::Double => Lits::Float(
                vals.iter()
                    .map(|v| {
                        if let Value::Double(d) = v {
                            *d
                        } else {
                            f64::NAN
                        }
                    })
                    .collect(),
            ),
            FieldType::Boolean => Lits::Bool(
                vals.iter()
                    .map(|v| matches!(v, Value::Bool(true)))
                    .collect(),
            ),
            _ => Lits::Int(
                vals.iter()
                    .map(|v| if let Value::Int(i) = v { *i } else { 0 })
                    .collect(),
            ),
        };
        Ok(Self { slot, op, lits })
    }

    /// Evaluates against the decoded fields of one record.
    #[inline]
    pub(crate) fn eval(&self, vals: &[FieldVal], record: &[u8]) -> bool {
        let Some(v) = vals.get(usize::from(self.slot)) else {
            return false;
        };
        let cmp_first = |o: Option<Ordering>| -> bool {
            match (self.op, o) {
                (_, None) => false,
                (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
                (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
                (CompareOp::Lt, Some(o)) => o == Ordering::Less,
                (CompareOp::Le, Some(o)) => o != Ordering::Greater,
                (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
                (CompareOp::Ge, Some(o)) => o != Ordering::Less,
                (CompareOp::In | CompareOp::NotIn, Some(_)) => false,
            }
        };
        let member = |found: bool| -> bool {
            match self.op {
                CompareOp::In => found,
                _ => !found,
            }
        };
        let is_set = matches!(self.op, CompareOp::In | CompareOp::NotIn);
        match (v, &self.lits) {
            (FieldVal::Null, _) => false,
            (FieldVal::Int(x), Lits::Int(l)) => {
                if is_set {
                    member(l.contains(x))
                } else {
                    cmp_first(l.first().map(|y| x.cmp(y)))
                }
            }
            (FieldVal::Float(x), Lits::Float(l)) => {
                if is_set {
                    member(l.contains(x))
                } else {
                    cmp_first(l.first().and_then(|y| x.partial_cmp(y)))
                }
            }
            (FieldVal::Bool(x), Lits::Bool(l)) => {
                if is_set {
                    member(l.contains(x))
                } else {
                    cmp_first(l.first().map(|y| x.cmp(y)))
                }
            }
            (FieldVal::Enum(x), Lits::Enum(l)) => {
                if is_set {
                    member(l.contains(x))
                } else {
                    cmp_first(l.first().map(|y| x.cmp(y)))
                }
            }
            (s @ FieldVal::Str { .. }, Lits::Str(l)) => {
                let x = s.str_bytes(record);
                if is_set {
                    member(l.iter().any(|y| &y[..] == x))
                } else {
                    cmp_first(l.first().map(|y| x.cmp(&y[..])))
                }
            }
            _ => false,
        }
    }
}
