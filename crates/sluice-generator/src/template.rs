//! String templates such as `/product/{int:1..5000}` or `ord_{hex:12}`,
//! parsed once into parts and rendered into a reused byte buffer (no
//! allocation per event).
//!
//! Placeholders:
//!
//! | placeholder | renders |
//! |---|---|
//! | `{int:A..B}` | an integer uniform in `A..=B` |
//! | `{zipf:N}` / `{zipf:N:S}` | a popularity rank in `1..=N`, exponent `S` (default 1.1) |
//! | `{seq}` / `{seq:W}` | the number of the scope (event, session or entity), zero-padded to `W` digits |
//! | `{entity}` | the entity number (0-based) |
//! | `{session}` | the session number (0-based) |
//! | `{hex:N}` | `N` random lowercase hex digits |
//! | `{alnum:N}` | `N` random letters and digits |
//! | `{choice:a\|b\|c}` | one of the alternatives, uniformly |
//! | `{uuid}` | a random version-4 UUID |
//! | `{{` / `}}` | a literal brace |

use crate::dist::Zipf;
use crate::rng::Rand;

/// Numbers a template can refer to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx {
    /// Number of the scope the value belongs to.
    pub seq: u64,
    /// Entity number.
    pub entity: u64,
    /// Session number.
    pub session: u64,
}

#[derive(Clone, Debug)]
enum Part {
    Lit(Vec<u8>),
    Int { min: i64, span: u64 },
    Zipf(Box<Zipf>),
    Seq { width: usize },
    Entity,
    Session,
    Hex(usize),
    Alnum(usize),
    Choice(Vec<Vec<u8>>),
    Uuid,
}

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    parts: Vec<Part>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Zero bytes stored after short texts so they can be copied 16 at a time.
pub const PAD: usize = 16;

/// `b` followed by [`PAD`] zero bytes.
pub fn padded(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len() + PAD);
    v.extend_from_slice(b);
    v.extend_from_slice(&[0u8; PAD]);
    v
}
const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Every placeholder name, for suggestions.
pub const PLACEHOLDERS: &[&str] = &[
    "int", "zipf", "seq", "entity", "session", "hex", "alnum", "choice", "uuid",
];

impl Template {
    /// Parses a template; the error says what is wrong with which placeholder.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    lit.push(b'{');
                    i += 2;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    lit.push(b'}');
                    i += 2;
                }
                b'}' => {
                    return Err(format!(
                        "unmatched `}}` at offset {i}; write `}}}}` for a literal brace"
                    ))
                }
                b'{' => {
                    let Some(len) = text[i + 1..].find('}') else {
                        return Err(format!(
                            "unterminated `{{` at offset {i}; write `{{{{` for a literal brace"
                        ));
                    };
                    let inner = &text[i + 1..i + 1 + len];
                    if !lit.is_empty() {
                        parts.push(Part::Lit(padded(&std::mem::take(&mut lit))));
                    }
                    parts.push(placeholder(inner)?);
                    i += len + 2;
                }
                b => {
                    lit.push(b);
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(padded(&lit)));
        }
        Ok(Self { parts })
    }

    /// A template that always renders `text`.
    pub fn literal(text: &str) -> Self {
        Self {
            parts: vec![Part::Lit(padded(text.as_bytes()))],
        }
    }

    /// Appends a rendering to `out`.
    #[inline]
    pub fn render<R: Rand>(&self, rng: &mut R, ctx: &Ctx, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Lit(b) => crate::encode::copy_small(out, b, 0, b.len().saturating_sub(PAD)),
                Part::Int { min, span } => {
                    let v = min.wrapping_add(rng.below(*span) as i64);
                    write_i64(out, v);
                }
                Part::Zipf(z) => write_u64(out, z.sample(rng), 0),
                Part::Seq { width } => write_u64(out, ctx.seq, *width),
                Part::Entity => write_u64(out, ctx.entity, 0),
                Part::Session => write_u64(out, ctx.session, 0),
                Part::Hex(n) => {
                    let mut left = *n;
                    while left > 0 {
                        let mut x = rng.next_u64();
                        for _ in 0..left.min(16) {
                            out.push(HEX[(x & 15) as usize]);
                            x >>= 4;
                        }
                        left = left.saturating_sub(16);
                    }
                }
                Part::Alnum(n) => {
                    for _ in 0..*n {
                        out.push(ALNUM[rng.below(62) as usize]);
                    }
                }
                Part::Choice(alts) => {
                    let k = rng.below(alts.len() as u64) as usize;
                    let b = &alts[k];
                    crate::encode::copy_small(out, b, 0, b.len().saturating_sub(PAD));
                }
                Part::Uuid => {
                    let a = rng.next_u64();
                    let b = rng.next_u64();
                    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
                    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
                    let mut buf = [0u8; 32];
                    for (k, slot) in buf.iter_mut().enumerate() {
                        let word = if k < 16 { a } else { b };
                        let shift = 60 - 4 * (k % 16);
                        *slot = HEX[((word >> shift) & 15) as usize];
                    }
                    out.extend_from_slice(&buf[0..8]);
                    out.push(b'-');
                    out.extend_from_slice(&buf[8..12]);
                    out.push(b'-');
                    out.extend_from_slice(&buf[12..16]);
                    out.push(b'-');
                    out.extend_from_slice(&buf[16..20]);
                    out.push(b'-');
                    out.extend_from_slice(&buf[20..32]);
                }
            }
        }
    }

    /// True when rendering needs no randomness and no numbers (a constant).
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }
}

fn placeholder(inner: &str) -> Result<Part, String> {
    let (name, arg) = match inner.split_once(':') {
        Some((n, a)) => (n.trim(), Some(a.trim())),
        None => (inner.trim(), None),
    };
    let need = |what: &str| -> Result<&str, String> {
        arg.filter(|a| !a.is_empty())
            .ok_or_else(|| format!("`{{{name}}}` needs an argument: `{{{name}:{what}}}`"))
    };
    let count = |a: &str| -> Result<usize, String> {
        match a.parse::<usize>() {
            Ok(n) if (1..=256).contains(&n) => Ok(n),
            _ => Err(format!(
                "`{{{inner}}}`: `{a}` is not a length from 1 to 256"
            )),
        }
    };
    match name {
        "int" => {
            let a = need("1..100")?;
            let (lo, hi) = a
                .split_once("..")
                .ok_or_else(|| format!("`{{{inner}}}`: expected a range `A..B`"))?;
            let lo: i64 = lo
                .trim()
                .parse()
                .map_err(|_| format!("`{{{inner}}}`: `{lo}` is not an integer"))?;
            let hi: i64 = hi
                .trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|_| format!("`{{{inner}}}`: `{hi}` is not an integer"))?;
            if hi < lo {
                return Err(format!("`{{{inner}}}`: the range is empty"));
            }
            let span = (hi as i128 - lo as i128 + 1).min(u64::MAX as i128) as u64;
            Ok(Part::Int { min: lo, span })
        }
        "zipf" => {
            let a = need("1000")?;
            let (n, s) = match a.split_once(':') {
                Some((n, s)) => (n, Some(s)),
                None => (a, None),
            };
            let n: u64 = n
                .trim()
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("`{{{inner}}}`: `{n}` is not a positive count"))?;
            let s: f64 = match s {
                Some(s) => s
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| {
                        format!("`{{{inner}}}`: exponent `{s}` must be a positive number")
                    })?,
                None => 1.1,
            };
            Zipf::new(n, s)
                .map(|z| Part::Zipf(Box::new(z)))
                .ok_or_else(|| format!("`{{{inner}}}`: bad Zipf parameters"))
        }
        "seq" => {
            let width = match arg {
                Some(a) if !a.is_empty() => a
                    .parse::<usize>()
                    .ok()
                    .filter(|w| *w <= 20)
                    .ok_or_else(|| format!("`{{{inner}}}`: width `{a}` must be 0 to 20"))?,
                _ => 0,
            };
            Ok(Part::Seq { width })
        }
        "entity" | "session" | "uuid" if arg.is_some() => {
            Err(format!("`{{{name}}}` takes no argument"))
        }
        "entity" => Ok(Part::Entity),
        "session" => Ok(Part::Session),
        "uuid" => Ok(Part::Uuid),
        "hex" => Ok(Part::Hex(count(need("16")?)?)),
        "alnum" => Ok(Part::Alnum(count(need("8")?)?)),
        "choice" => {
            let alts: Vec<Vec<u8>> = need("a|b|c")?
                .split('|')
                .map(|s| padded(s.as_bytes()))
                .collect();
            Ok(Part::Choice(alts))
        }
        other => {
            let hint = sluice_config::diag::suggest(other, PLACEHOLDERS.iter().copied())
                .map(|s| format!("; {s}"))
                .unwrap_or_default();
            Err(format!(
                "unknown placeholder `{{{inner}}}`{hint} (expected {})",
                sluice_config::diag::one_of(PLACEHOLDERS)
            ))
        }
    }
}

const DIGITS2: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal digits of `v`, zero-padded to `width` (two digits
/// per step from a table, into a stack buffer).
#[inline]
pub fn write_u64(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = 20;
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[d..d + 2]);
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    let digits = 20 - i;
    for _ in digits..width.min(20) {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the decimal digits of a signed integer.
#[inline]
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs(), 0);
}

/// Appends 16 lowercase hex digits of `v` (two digits per table lookup).
#[inline]
pub fn write_hex16(out: &mut Vec<u8>, v: u64) {
    let table = hex_pairs();
    let mut buf = [0u8; 16];
    for (k, pair) in buf.chunks_exact_mut(2).enumerate() {
        let byte = (v >> (56 - 8 * k)) as u8 as usize;
        pair.copy_from_slice(&table[byte]);
    }
    out.extend_from_slice(&buf);
}

/// `"00"` to `"ff"`.
fn hex_pairs() -> &'static [[u8; 2]; 256] {
    static T: std::sync::OnceLock<[[u8; 2]; 256]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = [[0u8; 2]; 256];
        for (i, p) in t.iter_mut().enumerate() {
            *p = [HEX[i >> 4], HEX[i & 15]];
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix;

    fn render(t: &str, seed: u64) -> String {
        let t = Template::parse(t).unwrap();
        let mut out = Vec::new();
        let ctx = Ctx {
            seq: 42,
            entity: 7,
            session: 3,
        };
        t.render(&mut SplitMix(seed), &ctx, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn renders_placeholders() {
        let s = render("/product/{int:1..5000}", 1);
        let n: i64 = s.strip_prefix("/product/").unwrap().parse().unwrap();
        assert!((1..=5000).contains(&n));
        assert_eq!(render("u{seq:6}-{entity}-{session}", 1), "u000042-7-3");
        assert_eq!(render("{{x}}", 1), "{x}");
        assert_eq!(render("{hex:20}", 5).len(), 20);
        let u = render("{uuid}", 5);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(["a", "b"].contains(&render("{choice:a|b}", 3).as_str()));
        let z: u64 = render("{zipf:10}", 3).parse().unwrap();
        assert!((1..=10).contains(&z));
        assert_eq!(render("{int:-5..-5}", 3), "-5");
    }

    #[test]
    fn hex_and_decimal() {
        let mut b = Vec::new();
        write_hex16(&mut b, 0x0123_4567_89ab_cdef);
        assert_eq!(b, b"0123456789abcdef");
        b.clear();
        for v in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            b.clear();
            write_u64(&mut b, v, 0);
            assert_eq!(String::from_utf8(b.clone()).unwrap(), v.to_string());
        }
        b.clear();
        write_u64(&mut b, 42, 6);
        assert_eq!(b, b"000042");
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(Template::parse("{nit:1..2}")
            .unwrap_err()
            .contains("did you mean `int`"));
        assert!(Template::parse("{int:5..1}").is_err());
        assert!(Template::parse("{int}").is_err());
        assert!(Template::parse("abc{").is_err());
        assert!(Template::parse("abc}").is_err());
        assert!(Template::parse("{hex:0}").is_err());
    }
}
