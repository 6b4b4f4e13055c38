//! Who may use the console: the loopback rule, the access token, the
//! `Host` check and the CSRF rule for state-changing requests. Pure
//! decisions ([`Access::decide`]) over the parts of a request that matter,
//! so every rule has a unit test.

use std::net::SocketAddr;

use crate::ConsoleError;

/// The cookie the login page sets.
pub const TOKEN_COOKIE: &str = "sluice_console_token";
/// The header a state-changing request carries the page's CSRF token in.
pub const CSRF_HEADER: &str = "x-sluice-csrf";

/// The access rules of one console.
#[derive(Clone)]
pub struct Access {
    token: Option<String>,
    csrf: String,
    hosts: Vec<String>,
    loopback: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// The parts of a request access depends on.
#[derive(Debug, Default, Clone)]
pub struct RequestFacts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path.
    pub path: &'a str,
    /// `Host` header.
    pub host: Option<&'a str>,
    /// `Origin` header.
    pub origin: Option<&'a str>,
    /// `Authorization` header.
    pub authorization: Option<&'a str>,
    /// `Cookie` header.
    pub cookie: Option<&'a str>,
    /// The CSRF header.
    pub csrf: Option<&'a str>,
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve it.
    Allow,
    /// 401: no or a wrong token (pages are sent to the login page).
    Unauthenticated,
    /// 403 with the reason.
    Forbidden(&'static str),
}

/// Paths served without a token (the login page and its stylesheet).
fn public(path: &str) -> bool {
    path == "/login" || path == "/assets/app.css"
}

/// Byte comparison that takes as long for every wrong guess of one length.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

impl Access {
    /// Rules for a console on `addr`: beyond loopback a token is required.
    pub fn new(addr: SocketAddr, token: Option<String>) -> Result<Self, ConsoleError> {
        let token = token.filter(|t| !t.is_empty());
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(ConsoleError::Config(format!(
                "`{addr}` is reachable from other machines: set an access token (`--token` or SLUICE_UI_TOKEN), or listen on 127.0.0.1"
            )));
        }
        if let Some(t) = &token {
            if t.len() < 16 {
                return Err(ConsoleError::Config(
                    "the access token must have at least 16 characters".into(),
                ));
            }
        }
        let csrf: String = (0..32)
            .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
            .collect();
        Ok(Self {
            token,
            csrf,
            hosts: Vec::new(),
            loopback: addr.ip().is_loopback(),
        })
    }

    /// The same rules once the port is known (`:0` binds a free one).
    pub fn bound_to(mut self, bound: SocketAddr) -> Self {
        let port = bound.port();
        self.hosts = if self.loopback {
            vec![
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
                bound.to_string(),
            ]
        } else {
            // any name may reach a public address; the token guards it
            Vec::new()
        };
        self
    }

    /// The page's CSRF token.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether a token is required.
    pub fn token_required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the access token.
    pub fn token_matches(&self, given: &str) -> bool {
        self.token.as_deref().is_some_and(|t| same(t, given))
    }

    /// The decision for one request.
    pub fn decide(&self, r: &RequestFacts<'_>) -> Decision {
        if !self.hosts.is_empty() {
            match r.host {
                Some(h) if self.hosts.iter().any(|ok| ok.eq_ignore_ascii_case(h)) => {}
                _ => return Decision::Forbidden("the Host header does not name this console"),
            }
        }
        let state_changing = !matches!(r.method, "GET" | "HEAD" | "OPTIONS");
        if state_changing {
            if let Some(origin) = r.origin {
                let host = origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"))
                    .unwrap_or("");
                if Some(host) != r.host {
                    return Decision::Forbidden("cross-site request refused");
                }
            }
        }
        if public(r.path) {
            return Decision::Allow;
        }
        if let Some(token) = &self.token {
            let bearer = r
                .authorization
                .and_then(|a| a.strip_prefix("Bearer "))
                .is_some_and(|t| same(t.trim(), token));
            let cookie = r
                .cookie
                .and_then(|c| cookie(c, TOKEN_COOKIE))
                .is_some_and(|t| same(t, token));
            if !bearer && !cookie {
                return Decision::Unauthenticated;
            }
        }
        if state_changing && !r.csrf.is_some_and(|c| same(c, &self.csrf)) {
            return Decision::Forbidden("missing or wrong CSRF token");
        }
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Access {
        Access::new("127.0.0.1:0".parse().unwrap(), None)
            .unwrap()
            .bound_to("127.0.0.1:8765".parse().unwrap())
    }

    fn public_with_token() -> Access {
        Access::new(
            "0.0.0.0:0".parse().unwrap(),
            Some("0123456789abcdef".into()),
        )
        .unwrap()
        .bound_to("0.0.0.0:8765".parse().unwrap())
    }

    fn get<'a>(path: &'a str, host: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            method: "GET",
            path,
            host: Some(host),
            ..Default::default()
        }
    }

    #[test]
    fn beyond_loopback_a_token_is_required() {
        let e = Access::new("0.0.0.0:8765".parse().unwrap(), None).unwrap_err();
        assert!(e.to_string().contains("access token"), "{e}");
        assert!(Access::new("0.0.0.0:8765".parse().unwrap(), Some("short".into())).is_err());
        assert!(Access::new("127.0.0.1:8765".parse().unwrap(), None).is_ok());
    }

    #[test]
    fn loopback_without_token_serves_its_own_host_only() {
        let a = local();
        assert_eq!(a.decide(&get("/", "127.0.0.1:8765")), Decision::Allow);
        assert_eq!(
            a.decide(&get("/api/config", "localhost:8765")),
            Decision::Allow
        );
        assert!(matches!(
            a.decide(&get("/", "evil.example:8765")),
            Decision::Forbidden(_)
        ));
    }

    #[test]
    fn a_token_is_checked_in_header_or_cookie() {
        let a = public_with_token();
        let mut r = get("/api/config", "console.example:8765");
        assert_eq!(a.decide(&r), Decision::Unauthenticated);
        r.authorization = Some("Bearer 0123456789abcdef");
        assert_eq!(a.decide(&r), Decision::Allow);
        r.authorization = Some("Bearer 0123456789abcdeX");
        assert_eq!(a.decide(&r), Decision::Unauthenticated);
        r.authorization = None;
        r.cookie = Some("a=b; sluice_console_token=0123456789abcdef");
        assert_eq!(a.decide(&r), Decision::Allow);
        // the login page itself needs no token
        assert_eq!(a.decide(&get("/login", "x")), Decision::Allow);
    }

    #[test]
    fn state_changes_need_csrf_and_same_origin() {
        let a = local();
        let mut r = RequestFacts {
            method: "POST",
            path: "/api/anything",
            host: Some("127.0.0.1:8765"),
            ..Default::default()
        };
        assert!(matches!(a.decide(&r), Decision::Forbidden(_)));
        let csrf = a.csrf().to_string();
        r.csrf = Some(&csrf);
        assert_eq!(a.decide(&r), Decision::Allow);
        r.origin = Some("http://evil.example");
        assert_eq!(
            a.decide(&r),
            Decision::Forbidden("cross-site request refused")
        );
        r.origin = Some("http://127.0.0.1:8765");
        assert_eq!(a.decide(&r), Decision::Allow);
    }
}
