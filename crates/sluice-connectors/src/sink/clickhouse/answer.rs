//! ClickHouse error answers: the server's error code, whether retrying can
//! help, and keeping secrets out of the text.
//!
//! * **Classification.** Syntax, type and unknown-identifier errors are the
//!   configuration's fault and are not retried. Errors a server shows while
//!   it stops or restarts are retried: connection refused or reset (handled
//!   by the caller), HTTP 5xx, `NETWORK_ERROR` (210), timeouts, cancelled
//!   queries, read-only tables — and `UNKNOWN_TABLE` (60) or
//!   `UNKNOWN_DATABASE` (81) for a table sluice verified or created in
//!   `prepare`: a graceful stop detaches tables while HTTP still answers, so
//!   a table that was there vanishing mid-run is a shutdown, not a mistake.
//!   The runtime's one retry policy bounds how long that is retried.
//! * **Redaction.** The server echoes user names (`Unknown user alice`) and
//!   may echo anything it was sent; every answer and transport error passes
//!   through a [`Redactor`] holding the resolved secret values (user,
//!   password, URL credentials), each replaced by `[redacted]`.

/// Replaces secret values in texts bound for errors and logs. Clones share
/// their values, so one learning a rotated secret ([`Redactor::learn`])
/// teaches them all.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value containing another is replaced whole.
    values: std::sync::Arc<std::sync::RwLock<Vec<String>>>,
}

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.values().len())
    }
}

impl Redactor {
    /// A redactor for `values` (empty ones are ignored).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let r = Self::default();
        r.learn(values);
        r
    }

    fn values(&self) -> std::sync::RwLockReadGuard<'_, Vec<String>> {
        self.values.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `values` (a rotated secret's new value) to what is redacted.
    pub fn learn(&self, values: impl IntoIterator<Item = String>) {
        let mut all = self.values.write().unwrap_or_else(|p| p.into_inner());
        all.extend(values.into_iter().filter(|v| !v.is_empty()));
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
    }

    /// `text` with every secret value replaced by [`REDACTED`].
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in self.values().iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }
}

/// `url` without credentials (`http://u:p@host/` → `http://host/`) and the
/// credentials it held, raw and percent-decoded.
pub fn split_credentials(url: &str) -> (String, Vec<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), Vec::new());
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), Vec::new());
    };
    let mut secrets = vec![userinfo.to_string()];
    for part in userinfo.split(':') {
        secrets.push(part.to_string());
        secrets.push(percent_decode(part));
    }
    (format!("{scheme}://{host}{tail}"), secrets)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The error code of an answer: `Code: 60, e.displayText() = …` (old
/// servers) or `Code: 60. DB::Exception: …` (modern ones).
pub fn error_code(text: &str) -> Option<u32> {
    let at = text.find("Code: ")? + "Code: ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Codes meaning the request itself is wrong: retrying cannot fix it.
const USER_ERROR_CODES: &[u32] = &[
    6,  // CANNOT_PARSE_TEXT
    16, // NO_SUCH_COLUMN_IN_TABLE
    27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    36, // BAD_ARGUMENTS
    42, // NUMBER_OF_ARGUMENTS_DOESNT_MATCH
    43, // ILLEGAL_TYPE_OF_ARGUMENT
    44, // ILLEGAL_COLUMN
    46, // UNKNOWN_FUNCTION
    47, // UNKNOWN_IDENTIFIER
    53, // TYPE_MISMATCH
    57, // TABLE_ALREADY_EXISTS
    60, // UNKNOWN_TABLE
    62, // SYNTAX_ERROR
    81, // UNKNOWN_DATABASE
];

/// Codes of a failed login or missing grant.
const AUTH_CODES: &[u32] = &[
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    195, // IP_ADDRESS_NOT_ALLOWED
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// Codes a stopping, restarting or overloaded server answers with.
const TRANSIENT_CODES: &[u32] = &[
    3,   // UNEXPECTED_END_OF_FILE
    159, // TIMEOUT_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    999, // KEEPER_EXCEPTION
];

/// Unknown table or database: transient only for tables known to exist.
const VANISHED_CODES: &[u32] = &[60, 81];

/// How an error answer is to be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Retrying may help.
    Transient,
    /// The request or the configuration is wrong.
    Permanent,
    /// The server refused the credentials.
    Authentication,
}

/// The verdict on an answer with HTTP `status` and body `text`;
/// `verified` says the statement touches only tables `prepare` verified
/// (or created) on this server.
pub fn classify(status: u16, text: &str, verified: bool) -> Verdict {
    let code = error_code(text);
    match code {
        Some(c) if AUTH_CODES.contains(&c) => Verdict::Authentication,
        Some(c) if verified && VANISHED_CODES.contains(&c) => Verdict::Transient,
        Some(c) if USER_ERROR_CODES.contains(&c) => Verdict::Permanent,
        Some(c) if TRANSIENT_CODES.contains(&c) => Verdict::Transient,
        _ if status == 401 || status == 403 => Verdict::Authentication,
        _ if status == 404 => Verdict::Permanent,
        _ if status >= 500 => Verdict::Transient,
        // other answers (400 with an unlisted code, 408, 429): retry, as
        // before; the retry policy's deadline ends hopeless cases
        _ => Verdict::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // bodies exactly as the servers sent them (18.16.1 on 127.0.0.1, and a
    // 24.x server's format)
    const UNKNOWN_TABLE_18: &str = "Code: 60, e.displayText() = DB::Exception: Table system.nope doesn't exist., e.what() = DB::Exception\n";
    const UNKNOWN_DB_18: &str = "Code: 81, e.displayText() = DB::Exception: Database nope_db doesn't exist, e.what() = DB::Exception\n";
    const SYNTAX_18: &str = "Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 1: SELEC 1\n. Expected one of: SYSTEM query, SELECT subquery, e.what() = DB::Exception\n";
    const UNKNOWN_USER_18: &str = "Code: 192, e.displayText() = DB::Exception: Unknown user alice_secret_user, e.what() = DB::Exception\n";
    const WRONG_PASSWORD_18: &str = "Code: 193, e.displayText() = DB::Exception: Wrong password for user default, e.what() = DB::Exception\n";
    const UNKNOWN_TABLE_24: &str = "Code: 60. DB::Exception: Table db.views_parts does not exist. (UNKNOWN_TABLE) (version 24.3.2.23 (official build))\n";
    const NETWORK_24: &str = "Code: 210. DB::NetException: Connection refused (localhost:9000). (NETWORK_ERROR) (version 24.3.2.23 (official build))\n";
    const AUTH_24: &str = "Code: 516. DB::Exception: alice: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED) (version 24.3.2.23 (official build))\n";

    #[test]
    fn codes_are_read_in_both_formats() {
        assert_eq!(error_code(UNKNOWN_TABLE_18), Some(60));
        assert_eq!(error_code(UNKNOWN_TABLE_24), Some(60));
        assert_eq!(error_code(NETWORK_24), Some(210));
        assert_eq!(error_code("Service Unavailable"), None);
    }

    #[test]
    fn a_verified_table_vanishing_is_transient_otherwise_permanent() {
        assert_eq!(classify(404, UNKNOWN_TABLE_18, true), Verdict::Transient);
        assert_eq!(classify(404, UNKNOWN_TABLE_24, true), Verdict::Transient);
        assert_eq!(classify(404, UNKNOWN_DB_18, true), Verdict::Transient);
        assert_eq!(classify(404, UNKNOWN_TABLE_18, false), Verdict::Permanent);
        assert_eq!(classify(404, UNKNOWN_DB_18, false), Verdict::Permanent);
        assert_eq!(classify(400, SYNTAX_18, true), Verdict::Permanent);
        assert_eq!(classify(404, "Not Found", true), Verdict::Permanent);
    }

    #[test]
    fn shutdown_answers_are_transient() {
        assert_eq!(classify(500, NETWORK_24, false), Verdict::Transient);
        assert_eq!(
            classify(503, "Service Unavailable", false),
            Verdict::Transient
        );
        assert_eq!(classify(502, "Bad Gateway", false), Verdict::Transient);
        assert_eq!(
            classify(
                500,
                "Code: 394. DB::Exception: Query was cancelled. (QUERY_WAS_CANCELLED)",
                false
            ),
            Verdict::Transient
        );
    }

    #[test]
    fn refused_credentials_are_authentication_failures() {
        assert_eq!(
            classify(401, UNKNOWN_USER_18, true),
            Verdict::Authentication
        );
        assert_eq!(
            classify(401, WRONG_PASSWORD_18, true),
            Verdict::Authentication
        );
        assert_eq!(classify(401, AUTH_24, true), Verdict::Authentication);
        assert_eq!(classify(403, "Forbidden", false), Verdict::Authentication);
    }

    #[test]
    fn secrets_are_redacted_longest_first() {
        let r = Redactor::new([
            "alice".to_string(),
            "alice_secret_user".into(),
            String::new(),
        ]);
        let out = r.apply(UNKNOWN_USER_18);
        assert!(!out.contains("alice"), "{out}");
        assert!(out.contains("Unknown user [redacted],"), "{out}");
        assert_eq!(r.apply("nothing here"), "nothing here");
    }

    #[test]
    fn url_credentials_are_split_off() {
        let (url, secrets) = split_credentials("http://bob:p%40ss@127.0.0.1:8123/?x=1");
        assert_eq!(url, "http://127.0.0.1:8123/?x=1");
        for s in ["bob", "p%40ss", "p@ss", "bob:p%40ss"] {
            assert!(secrets.iter().any(|x| x == s), "{s} in {secrets:?}");
        }
        assert_eq!(
            split_credentials("http://127.0.0.1:8123"),
            ("http://127.0.0.1:8123".to_string(), Vec::new())
        );
    }
}
