//! Contract tests of the `gcp_secret_manager` backend: no Google Cloud
//! service or emulator runs here, so a local HTTPS server answers the
//! documented calls (OAuth 2.0 JWT-bearer token exchange, Secret Manager
//! `versions/*:access`, Google's error bodies). The server checks the
//! service-account JWT's RS256 signature with the key's public half.

mod common;

use common::block;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};
use sluice_secrets::gcp::{GcpBackend, GcpOptions};
use sluice_secrets::{Resolver, SecretBackend};

const EMAIL: &str = "sluice@proj-1.iam.gserviceaccount.com";
const PASSWORD: &str = "gcp-planted-password-never-printed";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Checks a service-account JWT as Google's token endpoint would.
fn valid_assertion(jwt: &str, aud: &str) -> bool {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let header: Value = serde_json::from_slice(&url.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&url.decode(parts[1]).unwrap()).unwrap();
    let key = std::fs::read(common::data("gcp-sa.pub.der")).unwrap();
    let signed =
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &url.decode(parts[2]).unwrap(),
            )
            .is_ok();
    signed
        && header["alg"] == "RS256"
        && claims["iss"] == EMAIL
        && claims["aud"] == aud
        && claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
        && claims["exp"].as_u64() > claims["iat"].as_u64()
}

fn error(code: u16, status: &str, message: &str) -> (u16, String) {
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status}}).to_string(),
    )
}

/// The Secret Manager and token endpoints; `issued` counts tokens, and
/// token number `revoked` (0: none) is refused (as after a rotation).
fn google(issued: Arc<AtomicU32>, revoked: Arc<AtomicU32>) -> common::Server {
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let b = base.clone();
    let server = common::serve(move |req| {
        let token_uri = format!("{}/token", b.get().unwrap());
        match (req.method.as_str(), req.path()) {
            ("POST", "/token") => {
                let ok = req.form("grant_type").as_deref()
                    == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                    && req
                        .form("assertion")
                        .is_some_and(|a| valid_assertion(&a, &token_uri));
                if !ok {
                    return (
                        400,
                        json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                            .to_string(),
                    );
                }
                let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    200,
                    json!({"access_token": format!("ya29.token-{n}"), "expires_in": 3599, "token_type": "Bearer"})
                        .to_string(),
                )
            }
            ("GET", path) => {
                let auth = req
                    .headers
                    .get("authorization")
                    .cloned()
                    .unwrap_or_default();
                let refused = format!("Bearer ya29.token-{}", revoked.load(Ordering::SeqCst));
                if !auth.starts_with("Bearer ya29.token-") || auth == refused {
                    return error(
                        401,
                        "UNAUTHENTICATED",
                        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                    );
                }
                let Some(rest) = path.strip_prefix("/v1/projects/proj-1/secrets/") else {
                    return error(404, "NOT_FOUND", "Not found");
                };
                let Some((name, version)) = rest.split_once("/versions/") else {
                    return error(400, "INVALID_ARGUMENT", "bad resource");
                };
                let version = version.trim_end_matches(":access");
                let payload = match (name, version) {
                    ("sluice-kafka", "latest") => {
                        json!({"user": "svc", "password": PASSWORD}).to_string()
                    }
                    ("sluice-plain", "latest" | "3") => "plain-text".to_string(),
                    ("sluice-forbidden", _) => {
                        return error(
                            403,
                            "PERMISSION_DENIED",
                            "Permission 'secretmanager.versions.access' denied for resource (or it may not exist).",
                        )
                    }
                    _ => {
                        return error(
                            404,
                            "NOT_FOUND",
                            &format!("Secret [projects/proj-1/secrets/{name}] not found or has no versions."),
                        )
                    }
                };
                (
                    200,
                    json!({
                        "name": format!("projects/123/secrets/{name}/versions/3"),
                        "payload": {"data": b64(&payload), "dataCrc32c": "0"}
                    })
                    .to_string(),
                )
            }
            _ => error(404, "NOT_FOUND", "Not found"),
        }
    });
    base.set(server.url.clone()).unwrap();
    server
}

/// A service-account key file for the contract server.
fn key_file(dir: &tempfile::TempDir, token_uri: &str) -> String {
    let key = std::fs::read_to_string(common::data("gcp-sa.key")).unwrap();
    let p = dir.path().join("sa.json");
    std::fs::write(
        &p,
        json!({
            "type": "service_account",
            "project_id": "proj-1",
            "private_key_id": "k1",
            "private_key": key,
            "client_email": EMAIL,
            "token_uri": token_uri
        })
        .to_string(),
    )
    .unwrap();
    p.display().to_string()
}

fn backend(server: &common::Server, vars: BTreeMap<String, String>, version: &str) -> GcpBackend {
    let options: BTreeMap<String, String> = [
        ("project".to_string(), "proj-1".to_string()),
        ("prefix".into(), "sluice-".into()),
        ("version".into(), version.into()),
        ("endpoint".into(), server.url.clone()),
        (
            "ca_cert".into(),
            common::data("contract-ca.pem").display().to_string(),
        ),
    ]
    .into();
    let opts = GcpOptions::from_options(&options, &|_| None).unwrap();
    GcpBackend::new(opts, Box::new(move |k: &str| vars.get(k).cloned())).unwrap()
}

#[test]
fn a_service_account_reads_secrets_and_errors_are_named() {
    let issued = Arc::new(AtomicU32::new(0));
    let revoke = Arc::new(AtomicU32::new(0));
    let server = google(issued.clone(), revoke.clone());
    let dir = tempfile::tempdir().unwrap();
    let vars: BTreeMap<String, String> = [(
        "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
        key_file(&dir, &format!("{}/token", server.url)),
    )]
    .into();
    let b = backend(&server, vars.clone(), "latest");
    assert!(b
        .describe()
        .contains("projects/proj-1/secrets/sluice-<name>/versions/latest"));
    let r = Resolver::new(vec![Box::new(b)]);
    block(async {
        assert_eq!(r.get("kafka#password").await.unwrap().expose(), PASSWORD);
        assert_eq!(r.get("plain").await.unwrap().expose(), "plain-text");
        let e = r.get("absent").await.unwrap_err().to_string();
        assert!(e.contains("secret `absent` not found"), "{e}");
        let e = r.get("forbidden").await.unwrap_err().to_string();
        assert!(
            e.contains("access denied (403: PERMISSION_DENIED")
                && e.contains("projects/proj-1/secrets/sluice-forbidden/versions/latest"),
            "{e}"
        );
    });
    // one token served every read
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    // a token refused with 401 (revoked, rotated) is replaced once by the
    // same backend
    let b = backend(&server, vars, "3");
    block(async {
        assert!(b.get("plain").await.unwrap().is_some());
        assert_eq!(issued.load(Ordering::SeqCst), 2);
        revoke.store(2, Ordering::SeqCst);
        assert!(b.get("plain").await.unwrap().is_some());
    });
    assert_eq!(issued.load(Ordering::SeqCst), 3);
}

#[test]
fn a_bad_key_and_missing_credentials_are_reported() {
    let server = google(Arc::default(), Arc::default());
    let dir = tempfile::tempdir().unwrap();
    // a key the server does not know: the token exchange is refused
    let other = dir.path().join("other.json");
    let key = std::fs::read_to_string(common::data("contract-server.key")).unwrap();
    std::fs::write(
        &other,
        json!({"type": "service_account", "private_key": key, "client_email": EMAIL,
               "token_uri": format!("{}/token", server.url)})
        .to_string(),
    )
    .unwrap();
    let vars: BTreeMap<String, String> = [(
        "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
        other.display().to_string(),
    )]
    .into();
    let e = block(backend(&server, vars, "latest").get("plain"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("token exchange at") && e.contains("invalid_grant: Invalid JWT Signature."),
        "{e}"
    );

    // nothing configured and no metadata server (kept on loopback)
    let vars: BTreeMap<String, String> = [
        ("HOME".to_string(), "/nonexistent".to_string()),
        ("GCE_METADATA_HOST".to_string(), "127.0.0.1:1".to_string()),
    ]
    .into();
    let e = block(backend(&server, vars, "latest").get("plain"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no Google credentials") && e.contains("127.0.0.1:1"),
        "{e}"
    );
}
