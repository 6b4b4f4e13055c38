//! The `vault` backend against a real HashiCorp Vault dev server over TLS
//! (`scripts/services.sh start vault`): KV v2 and v1, token, rotated token
//! and AppRole auth, `name#key`, not found, access denied, unreachable and
//! an unknown CA, each error naming the path and never a value.

mod common;

use common::{block, stamp};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use sluice_config::{SecretBackendConfig, Spanned};
use sluice_secrets::{build_backend, Resolver, SecretBackend, SecretError};

const ROOT: &str = "sluice-dev-root";

fn address() -> String {
    std::env::var("SLUICE_VAULT_ADDR").unwrap_or_else(|_| "https://127.0.0.1:8200".into())
}

fn ca() -> PathBuf {
    let cache = std::env::var("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/sluice"));
    cache.join("services/vault/tls/vault-ca.pem")
}

fn agent() -> ureq::Agent {
    let pem = std::fs::read(ca()).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into()
}

/// Vault's HTTP API as the root token (test setup only).
fn api(method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let url = format!("{}/v1/{path}", address());
    let a = agent();
    let mut resp = match method {
        "GET" => a.get(&url).header("X-Vault-Token", token).call(),
        _ => a
            .post(&url)
            .header("X-Vault-Token", token)
            .send(body.unwrap_or(json!({})).to_string().as_str()),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(status < 300, "{method} {path}: {status} {text}");
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Whether the dev server answers; fails instead when CI requires services.
fn vault_up() -> bool {
    let up = ca().exists()
        && agent()
            .get(format!("{}/v1/sys/health", address()))
            .call()
            .is_ok_and(|r| r.status().as_u16() == 200);
    if !up {
        assert!(
            std::env::var("SLUICE_REQUIRE_SERVICES").is_err(),
            "Vault is not running at {} (scripts/services.sh start vault)",
            address()
        );
        eprintln!("skipped: Vault is not running (scripts/services.sh start vault)");
    }
    up
}

fn backend(options: &[(&str, &str)]) -> Result<Box<dyn SecretBackend>, SecretError> {
    let mut opts: BTreeMap<String, String> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    opts.entry("address".into()).or_insert_with(address);
    opts.entry("ca_cert".into())
        .or_insert_with(|| ca().display().to_string());
    build_backend(
        &SecretBackendConfig {
            kind: Spanned::new("vault".into(), Default::default()),
            options: opts,
            pos: Default::default(),
        },
        std::path::Path::new("."),
    )
}

fn token_file(dir: &tempfile::TempDir, token: &str) -> String {
    let p = dir.path().join("token");
    std::fs::write(&p, format!("{token}\n")).unwrap();
    p.display().to_string()
}

/// One test's secrets under `secret/sluice-<stamp>/`.
struct Fixture {
    prefix: String,
    password: String,
}

fn fixture() -> Fixture {
    let s = stamp();
    let prefix = format!("sluice-{s}");
    let password = format!("pw-{s}-never-printed");
    api(
        "POST",
        &format!("secret/data/{prefix}/kafka"),
        ROOT,
        Some(json!({"data": {"user": "svc-kafka", "password": password}})),
    );
    api(
        "POST",
        &format!("secret/data/{prefix}/single"),
        ROOT,
        Some(json!({"data": {"value": "only-value"}})),
    );
    Fixture { prefix, password }
}

#[test]
fn kv2_with_a_token_reads_whole_secrets_and_keys() {
    if !vault_up() {
        return;
    }
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let tf = token_file(&dir, ROOT);
    let b = backend(&[("path", &f.prefix), ("token_file", &tf)]).unwrap();
    assert!(b
        .describe()
        .contains(&format!("secret/data/{}/<name>", f.prefix)));
    let r = Resolver::new(vec![b]);
    block(async {
        assert_eq!(r.get("kafka#password").await.unwrap().expose(), &f.password);
        assert_eq!(r.get("kafka#user").await.unwrap().expose(), "svc-kafka");
        // one key: its value; several: the document as JSON
        assert_eq!(r.get("single").await.unwrap().expose(), "only-value");
        let whole: Value = serde_json::from_str(r.get("kafka").await.unwrap().expose()).unwrap();
        assert_eq!(whole["password"], f.password.as_str());

        let e = r.get("nope").await.unwrap_err().to_string();
        assert!(e.contains("secret `nope` not found"), "{e}");
        assert!(
            e.contains(&format!("secret/data/{}/<name>", f.prefix)),
            "{e}"
        );

        let e = r.get("kafka#passwd").await.unwrap_err().to_string();
        assert!(
            e.contains("no such key") && e.contains("password, user"),
            "{e}"
        );
        assert!(!e.contains(&f.password), "{e}");
    });
}

#[test]
fn kv1_mounts_are_read_too() {
    if !vault_up() {
        return;
    }
    let mount = format!("kv1-{}", stamp());
    api(
        "POST",
        &format!("sys/mounts/{mount}"),
        ROOT,
        Some(json!({"type": "kv", "options": {"version": "1"}})),
    );
    api(
        "POST",
        &format!("{mount}/apps/billing"),
        ROOT,
        Some(json!({"password": "v1-secret"})),
    );
    let dir = tempfile::tempdir().unwrap();
    let tf = token_file(&dir, ROOT);
    let b = backend(&[
        ("mount", &mount),
        ("kv_version", "1"),
        ("path", "apps"),
        ("token_file", &tf),
    ])
    .unwrap();
    block(async {
        assert_eq!(
            b.get("billing").await.unwrap().unwrap().expose(),
            "v1-secret"
        );
        assert!(b.get("absent").await.unwrap().is_none());
    });
}

/// A policy reading `secret/data/<prefix>/*` and a token holding it.
fn reader(prefix: &str) -> (String, String) {
    let policy = format!("read-{}", stamp());
    api(
        "POST",
        &format!("sys/policies/acl/{policy}"),
        ROOT,
        Some(
            json!({"policy": format!("path \"secret/data/{prefix}/*\" {{ capabilities = [\"read\"] }}")}),
        ),
    );
    let t = api(
        "POST",
        "auth/token/create",
        ROOT,
        Some(json!({"policies": [policy], "ttl": "10m"})),
    );
    (
        policy,
        t["auth"]["client_token"].as_str().unwrap().to_string(),
    )
}

/// An AppRole auth mount with role `sluice` (`role` its settings): the
/// mount, the role id and a file holding a secret id.
struct AppRole {
    mount: String,
    role_id: String,
    secret_id: String,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

fn approle(name: &str, role: Value) -> AppRole {
    let mount = format!("{name}-{}", stamp());
    api(
        "POST",
        &format!("sys/auth/{mount}"),
        ROOT,
        Some(json!({"type": "approle"})),
    );
    api(
        "POST",
        &format!("auth/{mount}/role/sluice"),
        ROOT,
        Some(role),
    );
    let field = |method: &str, path: &str, key: &str| {
        api(
            method,
            &format!("auth/{mount}/role/sluice/{path}"),
            ROOT,
            None,
        )["data"][key]
            .as_str()
            .unwrap()
            .to_string()
    };
    let role_id = field("GET", "role-id", "role_id");
    let secret_id = field("POST", "secret-id", "secret_id");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret-id");
    std::fs::write(&file, &secret_id).unwrap();
    AppRole {
        mount,
        role_id,
        secret_id,
        file,
        _dir: dir,
    }
}

/// A backend logging in with `a` under `prefix`.
fn approle_backend(a: &AppRole, prefix: &str) -> Box<dyn SecretBackend> {
    backend(&[
        ("path", prefix),
        ("auth", "approle"),
        ("auth_mount", &a.mount),
        ("role_id", &a.role_id),
        ("secret_id_file", &a.file.display().to_string()),
    ])
    .unwrap()
}

#[test]
fn approle_logs_in_and_reads() {
    if !vault_up() {
        return;
    }
    let f = fixture();
    let (policy, _) = reader(&f.prefix);
    let a = approle(
        "approle",
        json!({"token_policies": [policy], "token_ttl": "2m"}),
    );
    let r = Resolver::new(vec![approle_backend(&a, &f.prefix)]);
    block(async {
        assert_eq!(r.get("kafka#password").await.unwrap().expose(), &f.password);
    });

    // a wrong secret id: the login is refused, and says where
    std::fs::write(&a.file, "00000000-0000-0000-0000-000000000000").unwrap();
    let e = block(approle_backend(&a, &f.prefix).get("kafka"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("login at auth/{}/login", a.mount)),
        "{e}"
    );
    assert!(!e.contains(&a.secret_id) && !e.contains(&f.password), "{e}");
}

#[test]
fn access_denied_names_the_path_and_a_rotated_token_is_picked_up() {
    if !vault_up() {
        return;
    }
    let f = fixture();
    let other = fixture();
    let (_, token) = reader(&f.prefix);
    let dir = tempfile::tempdir().unwrap();
    let tf = token_file(&dir, &token);

    // the token may read its own prefix only
    let denied = backend(&[("path", &other.prefix), ("token_file", &tf)]).unwrap();
    let e = block(denied.get("kafka")).unwrap_err().to_string();
    assert!(e.contains("access denied (403"), "{e}");
    assert!(
        e.contains(&format!("secret/data/{}/kafka", other.prefix)),
        "{e}"
    );
    assert!(!e.contains(&token) && !e.contains(&other.password), "{e}");

    // rotation: the token is revoked and the file holds a new one; the same
    // backend (no restart) retries once with what the file now says
    let b = backend(&[("path", &f.prefix), ("token_file", &tf)]).unwrap();
    block(async {
        assert_eq!(
            b.get("single").await.unwrap().unwrap().expose(),
            "only-value"
        );
    });
    api(
        "POST",
        "auth/token/revoke",
        ROOT,
        Some(json!({"token": token})),
    );
    let (_, rotated) = reader(&f.prefix);
    token_file(&dir, &rotated);
    block(async {
        assert!(b.get("kafka").await.unwrap().is_some());
    });
}

#[test]
fn transport_failures_say_unreachable_and_an_unknown_ca_is_refused() {
    if !vault_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tf = token_file(&dir, ROOT);
    let b = backend(&[("address", "https://127.0.0.1:1"), ("token_file", &tf)]).unwrap();
    let e = block(b.get("kafka")).unwrap_err().to_string();
    assert!(
        e.contains("unreachable") && e.contains("127.0.0.1:1"),
        "{e}"
    );

    // the dev server's certificate is not signed by a public root
    let other_ca = dir.path().join("ca.pem");
    std::fs::write(&other_ca, include_str!("data/other-ca.pem")).unwrap();
    let b = backend(&[
        ("ca_cert", &other_ca.display().to_string()),
        ("token_file", &tf),
    ])
    .unwrap();
    let e = block(b.get("kafka")).unwrap_err().to_string();
    assert!(e.contains("unreachable"), "{e}");

    let e = backend(&[("ca_cert", "/nonexistent/ca.pem"), ("token_file", &tf)])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot read ca_cert `/nonexistent/ca.pem`"),
        "{e}"
    );
}

#[test]
fn kubernetes_login_sends_the_service_account_jwt_and_reports_a_refusal() {
    if !vault_up() {
        return;
    }
    // no Kubernetes API here: Vault cannot review the token, so the login is
    // refused; what is tested is that the backend logs in where configured,
    // with the JWT from its file, and says where it was refused
    let mount = format!("kubernetes-{}", stamp());
    api(
        "POST",
        &format!("sys/auth/{mount}"),
        ROOT,
        Some(json!({"type": "kubernetes"})),
    );
    api(
        "POST",
        &format!("auth/{mount}/config"),
        ROOT,
        Some(json!({"kubernetes_host": "https://127.0.0.1:1", "disable_local_ca_jwt": true})),
    );
    api(
        "POST",
        &format!("auth/{mount}/role/sluice"),
        ROOT,
        Some(json!({
            "bound_service_account_names": ["sluice"],
            "bound_service_account_namespaces": ["default"],
            "token_policies": ["default"]
        })),
    );
    let dir = tempfile::tempdir().unwrap();
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpzbHVpY2UifQ.c2lnbmF0dXJl";
    let jwt_file = dir.path().join("token");
    std::fs::write(&jwt_file, jwt).unwrap();
    let b = backend(&[
        ("auth", "kubernetes"),
        ("auth_mount", &mount),
        ("role", "sluice"),
        ("jwt_file", &jwt_file.display().to_string()),
    ])
    .unwrap();
    let e = block(b.get("kafka")).unwrap_err().to_string();
    assert!(e.contains(&format!("login at auth/{mount}/login")), "{e}");
    assert!(!e.contains(jwt), "{e}");

    let b = backend(&[
        ("auth", "kubernetes"),
        ("auth_mount", &mount),
        ("role", "sluice"),
        ("jwt_file", "/nonexistent/token"),
    ])
    .unwrap();
    let e = block(b.get("kafka")).unwrap_err().to_string();
    assert!(
        e.contains("cannot read service-account JWT file `/nonexistent/token`"),
        "{e}"
    );
}

#[test]
fn a_login_token_is_renewed_before_it_expires() {
    if !vault_up() {
        return;
    }
    let f = fixture();
    let (policy, _) = reader(&f.prefix);
    // a 3 s token, renewable up to a minute; a secret id good for ONE login:
    // reading after most of the token's life has passed only works if the
    // backend renews the token (a second login would be refused)
    let a = approle(
        "approle-renew",
        json!({"token_policies": [policy], "token_ttl": "3s", "token_max_ttl": "60s",
               "secret_id_num_uses": 1}),
    );
    let b = approle_backend(&a, &f.prefix);
    block(async {
        assert!(b.get("single").await.unwrap().is_some());
        for _ in 0..3 {
            // past two thirds of the token's life: renewed, then read
            std::thread::sleep(std::time::Duration::from_millis(2_300));
            assert!(b.get("kafka").await.unwrap().is_some());
        }
    });
}

#[test]
fn a_login_at_a_mount_that_does_not_exist_is_refused_and_says_where() {
    if !vault_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sid = dir.path().join("secret-id");
    std::fs::write(&sid, "x").unwrap();
    let b = backend(&[
        ("auth", "approle"),
        ("auth_mount", "no-such-mount"),
        ("role_id", "r"),
        ("secret_id_file", &sid.display().to_string()),
    ])
    .unwrap();
    let e = block(b.get("kafka")).unwrap_err().to_string();
    assert!(
        e.contains("login at auth/no-such-mount/login")
            && e.contains("no auth method is mounted there")
            || e.contains("login at auth/no-such-mount/login"),
        "{e}"
    );
}
