//! Schema compatibility: can data written with one schema be read with another?
//!
//! Implements the "Schema Resolution" rules of the Avro specification over
//! [`Schema`]: matching record, enum and fixed names (or reader aliases),
//! record fields by name (or reader field aliases) with reader defaults for
//! missing fields, enum symbols with the reader's enum default, the numeric
//! promotions `int → long → float → double`, `string ↔ bytes`, and unions on
//! either side. Logical types are ignored except `decimal`, whose precision
//! and scale must match. One sluice rule goes beyond Avro: a money field's
//! `sluice.money` currency and scale must not change, since the bytes would
//! still decode but mean a different amount.
//!
//! Everything here is pure; [`diff_dirs`] is the only function that reads files.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::avro::SCHEMA_EXTENSION;
use crate::model::{short_name, Logical, Named, Node, Primitive, Schema};
use crate::SchemaError;

/// Why data of a writer schema cannot be read with a reader schema, at one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility {
    /// Where, e.g. `PageView.amount` (`[]` marks array items, `{}` map values).
    pub path: String,
    /// What is wrong.
    pub kind: IncompatibilityKind,
}

/// The kinds of incompatibility. Types are given as short labels such as
/// `int`, `union<null, string>` or a record's short name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncompatibilityKind {
    /// The writer's type (or one of its union branches) cannot be read as the reader's.
    TypeMismatch {
        /// The writer's type at this path.
        writer: String,
        /// The reader's type at this path.
        reader: String,
        /// The writer type (a union branch, or the whole type) that cannot be read.
        unreadable: String,
    },
    /// A reader field is missing from the writer and has no default.
    MissingField {
        /// The field name.
        field: String,
    },
    /// A writer enum symbol is unknown to the reader, which has no enum default.
    MissingSymbol {
        /// The symbol.
        symbol: String,
    },
    /// Record, enum or fixed names differ and no reader alias matches.
    NameMismatch {
        /// `record`, `enum` or `fixed`.
        kind: &'static str,
        /// The writer's full name.
        writer: String,
        /// The reader's full name.
        reader: String,
    },
    /// Fixed sizes differ.
    SizeMismatch {
        /// The writer's size in bytes.
        writer: u64,
        /// The reader's size in bytes.
        reader: u64,
    },
    /// Decimal precision or scale differ.
    DecimalMismatch {
        /// The writer's `(precision, scale)`.
        writer: (u64, u64),
        /// The reader's `(precision, scale)`.
        reader: (u64, u64),
    },
    /// The `sluice.money` currency or scale of a field differ.
    MoneyMismatch {
        /// The writer's attribute, as JSON.
        writer: String,
        /// The reader's attribute, as JSON.
        reader: String,
    },
}

/// Which way a reader/writer pair relates to an old/new pair of schemas; it
/// decides how reasons are worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The new schema reads data written with the old one.
    Backward,
    /// The old schema reads data written with the new one.
    Forward,
}

impl Incompatibility {
    /// The reason in words, for a reader/writer pair seen as new/old
    /// ([`Direction::Backward`]) or old/new ([`Direction::Forward`]).
    pub fn reason(&self, direction: Direction) -> String {
        use IncompatibilityKind as K;
        let backward = direction == Direction::Backward;
        // (old, new) from (writer, reader).
        let old_new = |w: &str, r: &str| -> (String, String) {
            if backward {
                (w.to_string(), r.to_string())
            } else {
                (r.to_string(), w.to_string())
            }
        };
        match &self.kind {
            K::TypeMismatch {
                writer,
                reader,
                unreadable,
            } => {
                let (old, new) = old_new(writer, reader);
                let mut s = format!("type changed from `{old}` to `{new}`");
                if unreadable != writer {
                    s.push_str(&format!(
                        "; `{unreadable}` values cannot be read as `{reader}`"
                    ));
                }
                s
            }
            K::MissingField { field } if backward => {
                format!("field `{field}` added without a default")
            }
            K::MissingField { field } => {
                format!("field `{field}` removed but the old schema has no default for it")
            }
            K::MissingSymbol { symbol } if backward => {
                format!("enum symbol `{symbol}` missing from reader without default")
            }
            K::MissingSymbol { symbol } => {
                format!("enum symbol `{symbol}` added but the old enum has no default")
            }
            K::NameMismatch {
                kind,
                writer,
                reader,
            } => {
                let (old, new) = old_new(writer, reader);
                let mut s = format!("{kind} renamed from `{old}` to `{new}`");
                if backward {
                    s.push_str(&format!(" without an alias `{writer}`"));
                }
                s
            }
            K::SizeMismatch { writer, reader } => {
                let (old, new) = old_new(&writer.to_string(), &reader.to_string());
                format!("fixed size changed from `{old}` to `{new}`")
            }
            K::DecimalMismatch { writer, reader } => {
                let (old, new) = old_new(
                    &format!("decimal({}, {})", writer.0, writer.1),
                    &format!("decimal({}, {})", reader.0, reader.1),
                );
                format!("precision or scale changed from `{old}` to `{new}`")
            }
            K::MoneyMismatch { writer, reader } => {
                let (old, new) = old_new(writer, reader);
                format!("money currency or scale changed from `{old}` to `{new}`")
            }
        }
    }
}

/// Worded as if the reader were the newer schema (see [`Direction::Backward`]).
impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason(Direction::Backward))
    }
}

/// Checks whether data written with `writer` can be read with `reader`,
/// returning every incompatibility found (not just the first).
///
/// Paths start at the reader's top-level name (or type label when unnamed).
pub fn can_read(reader: &Schema, writer: &Schema) -> Result<(), Vec<Incompatibility>> {
    can_read_at(reader, writer, &root_path(reader))
}

fn can_read_at(reader: &Schema, writer: &Schema, path: &str) -> Result<(), Vec<Incompatibility>> {
    let mut checker = Checker {
        reader,
        writer,
        seen: HashSet::new(),
        found: Vec::new(),
    };
    checker.check(reader.root(), writer.root(), path);
    if checker.found.is_empty() {
        Ok(())
    } else {
        Err(checker.found)
    }
}

fn root_path(schema: &Schema) -> String {
    match schema.full_name() {
        Some(n) => short_name(n).to_string(),
        None => schema.label(schema.root()),
    }
}

struct Checker<'a> {
    reader: &'a Schema,
    writer: &'a Schema,
    /// Named pairs already checked or being checked (recursive types).
    seen: HashSet<(String, String)>,
    found: Vec<Incompatibility>,
}

/// How well a reader type matches a writer type, before looking inside.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    No,
    Promoted,
    Exact,
}

impl Checker<'_> {
    fn push(&mut self, path: &str, kind: IncompatibilityKind) {
        self.found.push(Incompatibility {
            path: path.to_string(),
            kind,
        });
    }

    fn mismatch(&mut self, path: &str, r: &Node, w: &Node, unreadable: &Node) {
        let kind = IncompatibilityKind::TypeMismatch {
            writer: self.writer.label(w),
            reader: self.reader.label(r),
            unreadable: self.writer.label(unreadable),
        };
        self.push(path, kind);
    }

    fn check(&mut self, r: &Node, w: &Node, path: &str) {
        match (r, w) {
            (_, Node::Union(w_branches)) => {
                for wb in w_branches {
                    match self.pick(r, wb) {
                        Some(rb) => self.check_same_kind(rb, wb, path),
                        None => self.mismatch(path, r, w, wb),
                    }
                }
            }
            (Node::Union(_), _) => match self.pick(r, w) {
                Some(rb) => self.check_same_kind(rb, w, path),
                None => self.mismatch(path, r, w, w),
            },
            _ => {
                if let (Node::Named(rn), Node::Named(wn)) = (r, w) {
                    if let (Some(rd), Some(wd)) = (self.reader.named(rn), self.writer.named(wn)) {
                        if rd.kind() == wd.kind() && !names_match(rd, wd) {
                            let kind = IncompatibilityKind::NameMismatch {
                                kind: rd.kind(),
                                writer: wn.clone(),
                                reader: rn.clone(),
                            };
                            self.push(path, kind);
                            return;
                        }
                    }
                }
                if self.shallow(r, w) == Match::No {
                    self.mismatch(path, r, w, w);
                } else {
                    self.check_same_kind(r, w, path);
                }
            }
        }
    }

    /// The reader branch a non-union writer type resolves to: the first exact
    /// match, else the first promotion. A non-union reader is its own branch.
    fn pick<'r>(&self, r: &'r Node, w: &Node) -> Option<&'r Node> {
        let branches = match r {
            Node::Union(b) => b.as_slice(),
            other => std::slice::from_ref(other),
        };
        [Match::Exact, Match::Promoted]
            .into_iter()
            .find_map(|want| branches.iter().find(|b| self.shallow(b, w) == want))
    }

    fn shallow(&self, r: &Node, w: &Node) -> Match {
        use Primitive as P;
        match (r, w) {
            (Node::Primitive(rp, _), Node::Primitive(wp, _)) if rp == wp => Match::Exact,
            (Node::Primitive(rp, _), Node::Primitive(wp, _)) => {
                let promoted = matches!(
                    (wp, rp),
                    (P::Int, P::Long | P::Float | P::Double)
                        | (P::Long, P::Float | P::Double)
                        | (P::Float, P::Double)
                        | (P::String, P::Bytes)
                        | (P::Bytes, P::String)
                );
                if promoted {
                    Match::Promoted
                } else {
                    Match::No
                }
            }
            (Node::Array(_), Node::Array(_)) | (Node::Map(_), Node::Map(_)) => Match::Exact,
            (Node::Named(rn), Node::Named(wn)) => {
                match (self.reader.named(rn), self.writer.named(wn)) {
                    (Some(rd), Some(wd)) if rd.kind() == wd.kind() && names_match(rd, wd) => {
                        Match::Exact
                    }
                    _ => Match::No,
                }
            }
            _ => Match::No,
        }
    }

    /// Both sides are non-union types that match shallowly: look inside.
    fn check_same_kind(&mut self, r: &Node, w: &Node, path: &str) {
        match (r, w) {
            (Node::Primitive(_, rl), Node::Primitive(_, wl)) => {
                self.check_decimal(rl.as_ref(), wl.as_ref(), path);
            }
            (Node::Array(ri), Node::Array(wi)) => self.check(ri, wi, &format!("{path}[]")),
            (Node::Map(rv), Node::Map(wv)) => self.check(rv, wv, &format!("{path}{{}}")),
            (Node::Named(rn), Node::Named(wn)) => {
                if !self.seen.insert((rn.clone(), wn.clone())) {
                    return;
                }
                let (Some(rd), Some(wd)) = (self.reader.named(rn), self.writer.named(wn)) else {
                    return;
                };
                match (rd, wd) {
                    (Named::Record(rr), Named::Record(wr)) => {
                        for rf in &rr.fields {
                            let fpath = format!("{path}.{}", rf.name);
                            let wf = wr.fields.iter().find(|wf| wf.name == rf.name).or_else(|| {
                                wr.fields.iter().find(|wf| rf.aliases.contains(&wf.name))
                            });
                            match wf {
                                Some(wf) => {
                                    if let (Some(rm), Some(wm)) = (&rf.money, &wf.money) {
                                        if rm != wm {
                                            self.push(
                                                &fpath,
                                                IncompatibilityKind::MoneyMismatch {
                                                    writer: wm.to_string(),
                                                    reader: rm.to_string(),
                                                },
                                            );
                                        }
                                    }
                                    self.check(&rf.ty, &wf.ty, &fpath);
                                }
                                None if rf.default.is_some() => {}
                                None => self.push(
                                    &fpath,
                                    IncompatibilityKind::MissingField {
                                        field: rf.name.clone(),
                                    },
                                ),
                            }
                        }
                    }
                    // With an enum default, unknown writer symbols read as the default.
                    (Named::Enum(re), Named::Enum(we)) if re.default.is_none() => {
                        for s in &we.symbols {
                            if !re.symbols.contains(s) {
                                self.push(
                                    path,
                                    IncompatibilityKind::MissingSymbol { symbol: s.clone() },
                                );
                            }
                        }
                    }
                    (Named::Fixed(rf), Named::Fixed(wf)) => {
                        if rf.size != wf.size {
                            self.push(
                                path,
                                IncompatibilityKind::SizeMismatch {
                                    writer: wf.size,
                                    reader: rf.size,
                                },
                            );
                        }
                        self.check_decimal(rf.logical.as_ref(), wf.logical.as_ref(), path);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn check_decimal(&mut self, r: Option<&Logical>, w: Option<&Logical>, path: &str) {
        if let (
            Some(Logical::Decimal {
                precision: rp,
                scale: rs,
            }),
            Some(Logical::Decimal {
                precision: wp,
                scale: ws,
            }),
        ) = (r, w)
        {
            if (rp, rs) != (wp, ws) {
                self.push(
                    path,
                    IncompatibilityKind::DecimalMismatch {
                        writer: (*wp, *ws),
                        reader: (*rp, *rs),
                    },
                );
            }
        }
    }
}

/// The specification matches named types by unqualified name, or by one of
/// the reader's aliases.
fn names_match(reader: &Named, writer: &Named) -> bool {
    short_name(reader.full_name()) == short_name(writer.full_name())
        || reader
            .aliases()
            .iter()
            .any(|a| a == writer.full_name() || short_name(a) == short_name(writer.full_name()))
}

/// How an old and a new version of a schema relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compatibility {
    /// Each reads the other's data.
    Full,
    /// The new schema reads old data.
    Backward,
    /// The old schema reads new data.
    Forward,
    /// Neither reads the other's data.
    None,
}

impl Compatibility {
    /// From whether each direction holds.
    pub fn from_directions(backward: bool, forward: bool) -> Self {
        match (backward, forward) {
            (true, true) => Compatibility::Full,
            (true, false) => Compatibility::Backward,
            (false, true) => Compatibility::Forward,
            (false, false) => Compatibility::None,
        }
    }

    /// True when the new schema reads old data.
    pub fn is_backward(self) -> bool {
        matches!(self, Compatibility::Full | Compatibility::Backward)
    }

    /// True when the old schema reads new data.
    pub fn is_forward(self) -> bool {
        matches!(self, Compatibility::Full | Compatibility::Forward)
    }

    /// What holds for both `self` and `other`.
    pub fn meet(self, other: Self) -> Self {
        Self::from_directions(
            self.is_backward() && other.is_backward(),
            self.is_forward() && other.is_forward(),
        )
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compatibility::Full => "full",
            Compatibility::Backward => "backward",
            Compatibility::Forward => "forward",
            Compatibility::None => "none",
        })
    }
}

/// The compatibility of an old and a new schema, with the reasons for each
/// direction that fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompatReport {
    /// The overall verdict.
    pub compatibility: Compatibility,
    /// Why the new schema cannot read old data (empty when it can).
    pub backward: Vec<Incompatibility>,
    /// Why the old schema cannot read new data (empty when it can).
    pub forward: Vec<Incompatibility>,
}

/// Compares an old and a new version of a schema in both directions. Paths
/// in both directions start at the new schema's top-level name.
pub fn compare(old: &Schema, new: &Schema) -> CompatReport {
    let root = root_path(new);
    let backward = can_read_at(new, old, &root).err().unwrap_or_default();
    let forward = can_read_at(old, new, &root).err().unwrap_or_default();
    CompatReport {
        compatibility: Compatibility::from_directions(backward.is_empty(), forward.is_empty()),
        backward,
        forward,
    }
}

fn write_reasons(
    f: &mut fmt::Formatter<'_>,
    list: &[Incompatibility],
    direction: Direction,
) -> fmt::Result {
    for (i, inc) in list.iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        write!(f, "{}: {}", inc.path, inc.reason(direction))?;
    }
    Ok(())
}

/// One line: `backward compatible (not forward: PageView.coupon: field ...)`.
impl fmt::Display for CompatReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.compatibility {
            Compatibility::Full => f.write_str("fully compatible"),
            Compatibility::Backward => {
                f.write_str("backward compatible (not forward: ")?;
                write_reasons(f, &self.forward, Direction::Forward)?;
                f.write_str(")")
            }
            Compatibility::Forward => {
                f.write_str("forward compatible (not backward: ")?;
                write_reasons(f, &self.backward, Direction::Backward)?;
                f.write_str(")")
            }
            Compatibility::None => {
                f.write_str("incompatible (not backward: ")?;
                write_reasons(f, &self.backward, Direction::Backward)?;
                f.write_str("; not forward: ")?;
                write_reasons(f, &self.forward, Direction::Forward)?;
                f.write_str(")")
            }
        }
    }
}

/// A schema file found in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaFile {
    /// The path of the file.
    pub path: PathBuf,
    /// The file name without `.avsc`, e.g. `page_view`.
    pub label: String,
    /// Full name of the top-level type, or the label when it is unnamed.
    pub full_name: String,
}

/// An old and a new version of one schema and how they relate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaDiff {
    /// The old file.
    pub old: SchemaFile,
    /// The new file.
    pub new: SchemaFile,
    /// True when both files hold the same JSON document.
    pub unchanged: bool,
    /// Compatibility of old and new.
    pub report: CompatReport,
}

/// The result of comparing two directories of schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffReport {
    /// Schemas only in the new directory.
    pub added: Vec<SchemaFile>,
    /// Schemas only in the old directory.
    pub removed: Vec<SchemaFile>,
    /// Schemas in both, paired by full name, else by file name.
    pub compared: Vec<SchemaDiff>,
}

impl DiffReport {
    /// What holds for every schema present in both directories (`Full` when none are).
    pub fn compatibility(&self) -> Compatibility {
        self.compared.iter().fold(Compatibility::Full, |acc, d| {
            acc.meet(d.report.compatibility)
        })
    }
}

/// One line per schema, sorted by label; a CLI can print it as is.
impl fmt::Display for DiffReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines: Vec<(String, String)> = Vec::new();
        for a in &self.added {
            lines.push((a.label.clone(), format!("{}: added", a.label)));
        }
        for r in &self.removed {
            lines.push((r.label.clone(), format!("{}: removed", r.label)));
        }
        for d in &self.compared {
            let label = if d.old.label == d.new.label {
                d.new.label.clone()
            } else {
                format!("{} (was {})", d.new.label, d.old.label)
            };
            let text = if d.unchanged {
                format!("{label}: unchanged")
            } else {
                format!("{label}: {}", d.report)
            };
            lines.push((d.new.label.clone(), text));
        }
        lines.sort();
        for (_, line) in lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

struct Loaded {
    file: SchemaFile,
    json: serde_json::Value,
    schema: Schema,
}

fn load_dir(dir: &Path) -> Result<Vec<Loaded>, SchemaError> {
    let read_err = |source| SchemaError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == SCHEMA_EXTENSION) && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut loaded: Vec<Loaded> = Vec::with_capacity(paths.len());
    for path in paths {
        let text = fs::read_to_string(&path).map_err(|source| SchemaError::Read {
            path: path.clone(),
            source,
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| SchemaError::Json(e).in_file(&path))?;
        let schema = Schema::parse(&json).map_err(|e| e.in_file(&path))?;
        let label = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let full_name = schema
            .full_name()
            .map(str::to_string)
            .unwrap_or_else(|| label.clone());
        if let Some(first) = loaded.iter().find(|l| l.file.full_name == full_name) {
            return Err(SchemaError::DuplicateSchema {
                name: full_name,
                first: first.file.path.clone(),
                second: path,
            });
        }
        loaded.push(Loaded {
            file: SchemaFile {
                path,
                label,
                full_name,
            },
            json,
            schema,
        });
    }
    Ok(loaded)
}

/// Compares every `.avsc` file of `old_dir` with its counterpart in
/// `new_dir`. Files pair by the full name of their schema; those left over
/// pair by file name (so a renamed record shows up as incompatible rather than
/// as removed + added); the rest are reported as added or removed.
pub fn diff_dirs(old_dir: &Path, new_dir: &Path) -> Result<DiffReport, SchemaError> {
    let old = load_dir(old_dir)?;
    let new = load_dir(new_dir)?;
    let mut new_left: BTreeMap<usize, &Loaded> = new.iter().enumerate().collect();
    let mut pairs: Vec<(&Loaded, &Loaded)> = Vec::new();
    let mut old_left: Vec<&Loaded> = Vec::new();
    for o in &old {
        let found = new_left
            .iter()
            .find(|(_, n)| n.file.full_name == o.file.full_name)
            .map(|(i, _)| *i);
        match found.and_then(|i| new_left.remove(&i)) {
            Some(n) => pairs.push((o, n)),
            None => old_left.push(o),
        }
    }
    let mut removed = Vec::new();
    for o in old_left {
        let found = new_left
            .iter()
            .find(|(_, n)| n.file.label == o.file.label)
            .map(|(i, _)| *i);
        match found.and_then(|i| new_left.remove(&i)) {
            Some(n) => pairs.push((o, n)),
            None => removed.push(o.file.clone()),
        }
    }
    let added = new_left.into_values().map(|n| n.file.clone()).collect();
    let compared = pairs
        .into_iter()
        .map(|(o, n)| SchemaDiff {
            old: o.file.clone(),
            new: n.file.clone(),
            unchanged: o.json == n.json,
            report: compare(&o.schema, &n.schema),
        })
        .collect();
    Ok(DiffReport {
        added,
        removed,
        compared,
    })
}
