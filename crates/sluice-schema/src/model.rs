//! A parsed Avro schema, just detailed enough for schema resolution.
//!
//! Parses the JSON form of any Avro schema (primitives, records, enums,
//! arrays, maps, unions, fixed, references to named types, logical types) and
//! rejects what the specification forbids: bad names, redefined names,
//! references to undefined names, nested or ambiguous unions, defaults that do
//! not match their field's type. Named types live in one table keyed by full
//! name, so recursive records need no special handling. Pure; no I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::avro::is_avro_name;
use crate::SchemaError;

/// An Avro primitive type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Primitive {
    /// `null`
    Null,
    /// `boolean`
    Boolean,
    /// `int`
    Int,
    /// `long`
    Long,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `bytes`
    Bytes,
    /// `string`
    String,
}

impl Primitive {
    const ALL: [(&'static str, Primitive); 8] = [
        ("null", Primitive::Null),
        ("boolean", Primitive::Boolean),
        ("int", Primitive::Int),
        ("long", Primitive::Long),
        ("float", Primitive::Float),
        ("double", Primitive::Double),
        ("bytes", Primitive::Bytes),
        ("string", Primitive::String),
    ];

    /// Looks a primitive up by its Avro name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// The Avro name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or("null")
    }
}

/// A logical type annotation. Only `decimal` matters for resolution; the
/// others are kept by name for display.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Logical {
    /// `decimal` with its precision and scale.
    Decimal {
        /// Total number of digits.
        precision: u64,
        /// Digits after the decimal point.
        scale: u64,
    },
    /// Any other logical type, e.g. `timestamp-millis`.
    Other(String),
}

/// A type in a schema; named types are references into [`Schema`]'s table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A primitive, possibly annotated with a logical type.
    Primitive(Primitive, Option<Logical>),
    /// `array` of items.
    Array(Box<Node>),
    /// `map` from string to values.
    Map(Box<Node>),
    /// `union` of branches, in order.
    Union(Vec<Node>),
    /// A record, enum or fixed, by full name.
    Named(String),
}

/// A named type definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Named {
    /// A `record` (or `error`).
    Record(RecordDef),
    /// An `enum`.
    Enum(EnumDef),
    /// A `fixed`.
    Fixed(FixedDef),
}

/// A record definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordDef {
    /// Full name, e.g. `sluice.ecommerce.PageView`.
    pub full_name: String,
    /// Full names of the aliases.
    pub aliases: Vec<String>,
    /// Fields, in order.
    pub fields: Vec<FieldDef>,
}

/// A field of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// Field name.
    pub name: String,
    /// Alias names the field may also be matched by.
    pub aliases: Vec<String>,
    /// The field's type.
    pub ty: Node,
    /// The default value, if any (`null` is a default).
    pub default: Option<Value>,
    /// The `sluice.money` attribute, if any.
    pub money: Option<Value>,
}

/// An enum definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDef {
    /// Full name.
    pub full_name: String,
    /// Full names of the aliases.
    pub aliases: Vec<String>,
    /// Symbols, in order.
    pub symbols: Vec<String>,
    /// Symbol used by readers for unknown writer symbols.
    pub default: Option<String>,
}

/// A fixed definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedDef {
    /// Full name.
    pub full_name: String,
    /// Full names of the aliases.
    pub aliases: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// Logical type (e.g. decimal), if any.
    pub logical: Option<Logical>,
}

impl Named {
    /// Full name of the type.
    pub fn full_name(&self) -> &str {
        match self {
            Named::Record(r) => &r.full_name,
            Named::Enum(e) => &e.full_name,
            Named::Fixed(f) => &f.full_name,
        }
    }

    /// Full names of the aliases.
    pub fn aliases(&self) -> &[String] {
        match self {
            Named::Record(r) => &r.aliases,
            Named::Enum(e) => &e.aliases,
            Named::Fixed(f) => &f.aliases,
        }
    }

    /// `record`, `enum` or `fixed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Named::Record(_) => "record",
            Named::Enum(_) => "enum",
            Named::Fixed(_) => "fixed",
        }
    }
}

/// The part of a full name after the last dot.
pub fn short_name(full_name: &str) -> &str {
    full_name.rsplit('.').next().unwrap_or(full_name)
}

/// A parsed, checked Avro schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    root: Node,
    named: BTreeMap<String, Named>,
}

impl Schema {
    /// Parses the JSON text of a schema.
    pub fn parse_str(text: &str) -> Result<Self, SchemaError> {
        let value: Value = serde_json::from_str(text).map_err(SchemaError::Json)?;
        Self::parse(&value)
    }

    /// Parses the JSON value of a schema.
    pub fn parse(value: &Value) -> Result<Self, SchemaError> {
        let mut parser = Parser {
            named: BTreeMap::new(),
            pending: Vec::new(),
        };
        let root = parser.node(value, "", "$")?;
        let schema = Schema {
            root,
            named: parser.named,
        };
        schema.check_defaults()?;
        Ok(schema)
    }

    /// The top-level type.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// A named type by full name.
    pub fn named(&self, full_name: &str) -> Option<&Named> {
        self.named.get(full_name)
    }

    /// Full name of the top-level type when it is a record, enum or fixed.
    pub fn full_name(&self) -> Option<&str> {
        match &self.root {
            Node::Named(n) => Some(n),
            _ => None,
        }
    }

    /// A short label of a type for messages: `int`, `long (timestamp-millis)`,
    /// `array<string>`, `union<null, string>`, or a named type's short name.
    pub fn label(&self, node: &Node) -> String {
        Label(node).to_string()
    }

    fn check_defaults(&self) -> Result<(), SchemaError> {
        for named in self.named.values() {
            let Named::Record(record) = named else {
                continue;
            };
            for field in &record.fields {
                if let Some(default) = &field.default {
                    if !self.default_matches(&field.ty, default) {
                        return Err(SchemaError::invalid(
                            format!("{}.{}", short_name(&record.full_name), field.name),
                            format!(
                                "default `{default}` does not match type `{}`",
                                self.label(&field.ty)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether a JSON default value is valid for a type (for unions: for the
    /// first branch, as the specification requires).
    fn default_matches(&self, node: &Node, value: &Value) -> bool {
        match node {
            Node::Primitive(p, _) => match p {
                Primitive::Null => value.is_null(),
                Primitive::Boolean => value.is_boolean(),
                Primitive::Int => value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
                Primitive::Long => value.is_i64(),
                Primitive::Float | Primitive::Double => value.is_number(),
                Primitive::Bytes | Primitive::String => value.is_string(),
            },
            Node::Array(items) => value
                .as_array()
                .is_some_and(|a| a.iter().all(|v| self.default_matches(items, v))),
            Node::Map(values) => value
                .as_object()
                .is_some_and(|m| m.values().all(|v| self.default_matches(values, v))),
            Node::Union(branches) => branches
                .first()
                .is_some_and(|b| self.default_matches(b, value)),
            Node::Named(name) => match self.named.get(name) {
                Some(Named::Enum(e)) => value
                    .as_str()
                    .is_some_and(|s| e.symbols.iter().any(|x| x == s)),
                Some(Named::Fixed(_)) => value.is_string(),
                Some(Named::Record(r)) => value.as_object().is_some_and(|m| {
                    r.fields.iter().all(|f| match m.get(&f.name) {
                        Some(v) => self.default_matches(&f.ty, v),
                        None => f.default.is_some(),
                    })
                }),
                None => false,
            },
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Label(&self.root))
    }
}

struct Label<'a>(&'a Node);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Node::Primitive(p, None) => f.write_str(p.name()),
            Node::Primitive(p, Some(Logical::Decimal { precision, scale })) => {
                write!(f, "{} (decimal({precision}, {scale}))", p.name())
            }
            Node::Primitive(p, Some(Logical::Other(l))) => write!(f, "{} ({l})", p.name()),
            Node::Array(items) => write!(f, "array<{}>", Label(items)),
            Node::Map(values) => write!(f, "map<{}>", Label(values)),
            Node::Union(branches) => {
                f.write_str("union<")?;
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Label(b))?;
                }
                f.write_str(">")
            }
            Node::Named(n) => f.write_str(short_name(n)),
        }
    }
}

struct Parser {
    named: BTreeMap<String, Named>,
    /// Records whose fields are being parsed (defined, not yet complete).
    pending: Vec<String>,
}

impl Parser {
    fn node(&mut self, value: &Value, namespace: &str, path: &str) -> Result<Node, SchemaError> {
        match value {
            Value::String(name) => self.reference(name, namespace, path),
            Value::Array(branches) => self.union(branches, namespace, path),
            Value::Object(obj) => self.object(obj, namespace, path),
            other => Err(SchemaError::invalid(
                path,
                format!("expected a type name, object or array, found `{other}`"),
            )),
        }
    }

    fn reference(&self, name: &str, namespace: &str, path: &str) -> Result<Node, SchemaError> {
        if let Some(p) = Primitive::from_name(name) {
            return Ok(Node::Primitive(p, None));
        }
        let full = full_name(name, namespace);
        if self.named.contains_key(&full) || self.pending.contains(&full) {
            return Ok(Node::Named(full));
        }
        // Lenient: a short name defined in the null namespace.
        if self.named.contains_key(name) || self.pending.iter().any(|p| p == name) {
            return Ok(Node::Named(name.to_string()));
        }
        Err(SchemaError::invalid(path, format!("unknown type `{name}`")))
    }

    fn union(
        &mut self,
        branches: &[Value],
        namespace: &str,
        path: &str,
    ) -> Result<Node, SchemaError> {
        let mut nodes: Vec<Node> = Vec::with_capacity(branches.len());
        for b in branches {
            let node = self.node(b, namespace, path)?;
            let key = union_key(&node);
            if matches!(node, Node::Union(_)) {
                return Err(SchemaError::invalid(
                    path,
                    "a union may not directly contain a union",
                ));
            }
            if nodes.iter().any(|n| union_key(n) == key) {
                return Err(SchemaError::invalid(
                    path,
                    format!("union contains `{key}` more than once"),
                ));
            }
            nodes.push(node);
        }
        Ok(Node::Union(nodes))
    }

    fn object(
        &mut self,
        obj: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<Node, SchemaError> {
        let ty = match obj.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(nested) => return self.node(nested, namespace, path),
            None => return Err(SchemaError::invalid(path, "object has no `type`")),
        };
        match ty {
            "record" | "error" => self.record(obj, namespace, path),
            "enum" => self.enumeration(obj, namespace, path),
            "fixed" => self.fixed(obj, namespace, path),
            "array" => {
                let items = obj
                    .get("items")
                    .ok_or_else(|| SchemaError::invalid(path, "array has no `items`"))?;
                Ok(Node::Array(Box::new(self.node(
                    items,
                    namespace,
                    &format!("{path}[]"),
                )?)))
            }
            "map" => {
                let values = obj
                    .get("values")
                    .ok_or_else(|| SchemaError::invalid(path, "map has no `values`"))?;
                Ok(Node::Map(Box::new(self.node(
                    values,
                    namespace,
                    &format!("{path}{{}}"),
                )?)))
            }
            other => match Primitive::from_name(other) {
                Some(p) => Ok(Node::Primitive(p, logical(obj, path)?)),
                // `{"type": "SomeRecord"}` refers to a named type.
                None => self.reference(other, namespace, path),
            },
        }
    }

    /// Registers a named type's full name, checking the name and uniqueness.
    fn define(
        &mut self,
        obj: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<(String, Vec<String>), SchemaError> {
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| SchemaError::invalid(path, "named type has no `name`"))?;
        let ns = match obj.get("namespace") {
            Some(Value::String(ns)) => ns.as_str(),
            Some(Value::Null) | None => namespace,
            Some(other) => {
                return Err(SchemaError::invalid(
                    path,
                    format!("namespace `{other}` is not a string"),
                ))
            }
        };
        let full = full_name(name, ns);
        check_full_name(&full, path)?;
        if Primitive::from_name(short_name(&full)).is_some() {
            return Err(SchemaError::invalid(
                path,
                format!("`{name}` redefines a primitive type"),
            ));
        }
        if self.named.contains_key(&full) || self.pending.contains(&full) {
            return Err(SchemaError::invalid(
                path,
                format!("type `{full}` is defined more than once"),
            ));
        }
        let own_ns = namespace_of(&full);
        let aliases = string_list(obj, "aliases", path)?
            .into_iter()
            .map(|a| full_name(&a, own_ns))
            .collect::<Vec<_>>();
        for a in &aliases {
            check_full_name(a, path)?;
        }
        Ok((full, aliases))
    }

    fn record(
        &mut self,
        obj: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<Node, SchemaError> {
        let (full, aliases) = self.define(obj, namespace, path)?;
        let own_ns = namespace_of(&full).to_string();
        let rec_path = short_name(&full).to_string();
        let fields_json = obj
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| SchemaError::invalid(&rec_path, "record has no `fields` array"))?;
        self.pending.push(full.clone());
        let mut fields: Vec<FieldDef> = Vec::with_capacity(fields_json.len());
        for f in fields_json {
            let Some(fobj) = f.as_object() else {
                return Err(SchemaError::invalid(
                    &rec_path,
                    format!("field `{f}` is not an object"),
                ));
            };
            let name = fobj
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| SchemaError::invalid(&rec_path, "field has no `name`"))?;
            let fpath = format!("{rec_path}.{name}");
            if !is_avro_name(name) {
                return Err(SchemaError::invalid(
                    &fpath,
                    format!("`{name}` is not a valid Avro name"),
                ));
            }
            if fields.iter().any(|x| x.name == name) {
                return Err(SchemaError::invalid(
                    &fpath,
                    format!("field `{name}` appears more than once"),
                ));
            }
            let ty_json = fobj
                .get("type")
                .ok_or_else(|| SchemaError::invalid(&fpath, "field has no `type`"))?;
            let ty = self.node(ty_json, &own_ns, &fpath)?;
            fields.push(FieldDef {
                name: name.to_string(),
                aliases: string_list(fobj, "aliases", &fpath)?,
                ty,
                default: fobj.get("default").cloned(),
                money: fobj.get(crate::avro::ATTR_MONEY).cloned(),
            });
        }
        self.pending.retain(|p| *p != full);
        self.named.insert(
            full.clone(),
            Named::Record(RecordDef {
                full_name: full.clone(),
                aliases,
                fields,
            }),
        );
        Ok(Node::Named(full))
    }

    fn enumeration(
        &mut self,
        obj: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<Node, SchemaError> {
        let (full, aliases) = self.define(obj, namespace, path)?;
        let symbols = string_list(obj, "symbols", path)?;
        if !obj.contains_key("symbols") {
            return Err(SchemaError::invalid(
                path,
                format!("enum `{full}` has no `symbols`"),
            ));
        }
        for (i, s) in symbols.iter().enumerate() {
            if !is_avro_name(s) {
                return Err(SchemaError::invalid(
                    path,
                    format!("enum symbol `{s}` is not a valid Avro name"),
                ));
            }
            if symbols[..i].contains(s) {
                return Err(SchemaError::invalid(
                    path,
                    format!("enum symbol `{s}` appears more than once"),
                ));
            }
        }
        let default = match obj.get("default") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) if symbols.contains(d) => Some(d.clone()),
            Some(other) => {
                return Err(SchemaError::invalid(
                    path,
                    format!("enum default `{other}` is not one of its symbols"),
                ))
            }
        };
        self.named.insert(
            full.clone(),
            Named::Enum(EnumDef {
                full_name: full.clone(),
                aliases,
                symbols,
                default,
            }),
        );
        Ok(Node::Named(full))
    }

    fn fixed(
        &mut self,
        obj: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<Node, SchemaError> {
        let (full, aliases) = self.define(obj, namespace, path)?;
        let size = obj.get("size").and_then(Value::as_u64).ok_or_else(|| {
            SchemaError::invalid(path, format!("fixed `{full}` has no valid `size`"))
        })?;
        let logical = logical(obj, path)?;
        self.named.insert(
            full.clone(),
            Named::Fixed(FixedDef {
                full_name: full.clone(),
                aliases,
                size,
                logical,
            }),
        );
        Ok(Node::Named(full))
    }
}

fn logical(obj: &Map<String, Value>, path: &str) -> Result<Option<Logical>, SchemaError> {
    match obj.get("logicalType").and_then(Value::as_str) {
        None => Ok(None),
        Some("decimal") => {
            let precision = obj.get("precision").and_then(Value::as_u64).unwrap_or(0);
            let scale = obj.get("scale").and_then(Value::as_u64).unwrap_or(0);
            if precision == 0 || scale > precision {
                return Err(SchemaError::invalid(
                    path,
                    format!("decimal precision `{precision}` and scale `{scale}` are invalid"),
                ));
            }
            Ok(Some(Logical::Decimal { precision, scale }))
        }
        Some(other) => Ok(Some(Logical::Other(other.to_string()))),
    }
}

fn string_list(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Vec<String>, SchemaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    SchemaError::invalid(path, format!("`{key}` entry `{v}` is not a string"))
                })
            })
            .collect(),
        Some(other) => Err(SchemaError::invalid(
            path,
            format!("`{key}` is `{other}`, not an array"),
        )),
    }
}

fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

fn namespace_of(full: &str) -> &str {
    full.rsplit_once('.').map(|(ns, _)| ns).unwrap_or("")
}

fn check_full_name(full: &str, path: &str) -> Result<(), SchemaError> {
    if full.split('.').all(is_avro_name) {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            path,
            format!("`{full}` is not a valid Avro name"),
        ))
    }
}

/// What makes two union branches the same: their kind, or their full name.
fn union_key(node: &Node) -> String {
    match node {
        Node::Primitive(p, _) => p.name().to_string(),
        Node::Array(_) => "array".to_string(),
        Node::Map(_) => "map".to_string(),
        Node::Union(_) => "union".to_string(),
        Node::Named(n) => n.clone(),
    }
}
