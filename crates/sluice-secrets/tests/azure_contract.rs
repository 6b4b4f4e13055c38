//! Contract tests of the `azure_key_vault` backend: no Azure service or
//! emulator runs here (lowkey-vault is not on Maven Central), so a local
//! HTTPS server answers the documented calls (Microsoft Entra ID's
//! client-credentials grant with a secret or a federated assertion, App
//! Service's managed-identity endpoint, Key Vault's `GET /secrets/{name}`
//! with API version 7.4, and their error bodies).

mod common;

use common::block;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde_json::json;
use sluice_secrets::azure::{AzureBackend, AzureOptions, API_VERSION};
use sluice_secrets::{Resolver, SecretBackend};

const TENANT: &str = "72f988bf-0000-0000-0000-2d7cd011db47";
const CLIENT: &str = "0d2a7b1c-0000-0000-0000-6a3e0e0f0c0a";
const CLIENT_SECRET: &str = "client-secret-never-printed";
const FEDERATED: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2x1aWNlIn0.c2ln";
const IDENTITY_HEADER: &str = "identity-header-never-printed";
const PASSWORD: &str = "azure-planted-password-never-printed";

fn kv_error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        json!({"error": {"code": code, "message": message}}).to_string(),
    )
}

/// Entra ID, App Service's identity endpoint and one vault; `issued`
/// counts tokens, token number `revoked` (0: none) is refused.
fn azure(issued: Arc<AtomicU32>, revoked: Arc<AtomicU32>) -> common::Server {
    common::serve(move |req| {
        let token = |issued: &AtomicU32| {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            format!("eyJ0eXAi.token-{n}")
        };
        match (req.method.as_str(), req.path()) {
            ("POST", p) if p == format!("/{TENANT}/oauth2/v2.0/token") => {
                let scope_ok = req.form("scope").as_deref()
                    == Some("https://vault.azure.net/.default")
                    && req.form("grant_type").as_deref() == Some("client_credentials")
                    && req.form("client_id").as_deref() == Some(CLIENT);
                let secret_ok = req.form("client_secret").as_deref() == Some(CLIENT_SECRET);
                let assertion_ok = req.form("client_assertion_type").as_deref()
                    == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                    && req.form("client_assertion").as_deref() == Some(FEDERATED);
                if !(scope_ok && (secret_ok || assertion_ok)) {
                    return (
                        401,
                        json!({"error": "invalid_client",
                               "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 1\r\nCorrelation ID: 2",
                               "error_codes": [7000215]})
                        .to_string(),
                    );
                }
                (
                    200,
                    json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                           "access_token": token(&issued)})
                    .to_string(),
                )
            }
            ("GET", "/msi/token") => {
                let ok = req.headers.get("x-identity-header").map(String::as_str)
                    == Some(IDENTITY_HEADER)
                    && req.query("resource").as_deref() == Some("https://vault.azure.net")
                    && req.query("api-version").as_deref() == Some("2019-08-01");
                if !ok {
                    return (
                        400,
                        json!({"statusCode": 400, "message": "No managed identity"}).to_string(),
                    );
                }
                (
                    200,
                    json!({"access_token": token(&issued), "expires_on": "4102444800",
                           "resource": "https://vault.azure.net", "token_type": "Bearer",
                           "client_id": CLIENT})
                    .to_string(),
                )
            }
            ("GET", p) if p.starts_with("/secrets/") => {
                if req.query("api-version").as_deref() != Some(API_VERSION) {
                    return kv_error(
                        400,
                        "BadParameter",
                        "The specified version is not supported",
                    );
                }
                let auth = req
                    .headers
                    .get("authorization")
                    .cloned()
                    .unwrap_or_default();
                let refused = format!("Bearer eyJ0eXAi.token-{}", revoked.load(Ordering::SeqCst));
                if !auth.starts_with("Bearer eyJ0eXAi.token-") || auth == refused {
                    return kv_error(
                        401,
                        "Unauthorized",
                        "AKV10000: Request is missing a Bearer or PoP token.",
                    );
                }
                let name = &p["/secrets/".len()..];
                let value = match name {
                    "kafka" => json!({"user": "svc", "password": PASSWORD}).to_string(),
                    "db-password" => "plain-text".to_string(),
                    "forbidden" => {
                        return kv_error(
                            403,
                            "Forbidden",
                            "The user, group or application does not have secrets get permission on key vault 'sluice;location=westeurope'.",
                        )
                    }
                    _ => {
                        return kv_error(
                            404,
                            "SecretNotFound",
                            &format!("A secret with (name/id) {name} was not found in this key vault."),
                        )
                    }
                };
                (
                    200,
                    json!({"value": value, "id": format!("https://sluice.vault.azure.net/secrets/{name}/4387e9f3"),
                           "attributes": {"enabled": true, "created": 1493938410, "updated": 1493938410}})
                    .to_string(),
                )
            }
            _ => kv_error(404, "NotFound", "no such route"),
        }
    })
}

fn backend(server: &common::Server, vars: &[(&str, String)]) -> AzureBackend {
    let mut vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    vars.insert("AZURE_AUTHORITY_HOST".into(), server.url.clone());
    // never a real metadata service: loopback only
    vars.entry("AZURE_IMDS_ENDPOINT".into())
        .or_insert_with(|| "http://127.0.0.1:1".into());
    let options: BTreeMap<String, String> = [
        (
            "vault_url".to_string(),
            "https://sluice.vault.azure.net".to_string(),
        ),
        ("endpoint".into(), server.url.clone()),
        (
            "ca_cert".into(),
            common::data("contract-ca.pem").display().to_string(),
        ),
    ]
    .into();
    AzureBackend::new(
        AzureOptions::from_options(&options).unwrap(),
        Box::new(move |k: &str| vars.get(k).cloned()),
    )
    .unwrap()
}

fn client_secret() -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_TENANT_ID", TENANT.into()),
        ("AZURE_CLIENT_ID", CLIENT.into()),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET.into()),
    ]
}

#[test]
fn a_client_secret_reads_secrets_and_errors_are_named() {
    let issued = Arc::new(AtomicU32::new(0));
    let revoked = Arc::new(AtomicU32::new(0));
    let server = azure(issued.clone(), revoked.clone());
    let r = Resolver::new(vec![Box::new(backend(&server, &client_secret()))]);
    block(async {
        assert_eq!(r.get("kafka#password").await.unwrap().expose(), PASSWORD);
        // `_` is not allowed in Key Vault names: db_password → db-password
        assert_eq!(r.get("db_password").await.unwrap().expose(), "plain-text");
        let e = r.get("absent").await.unwrap_err().to_string();
        assert!(e.contains("secret `absent` not found"), "{e}");
        let e = r.get("forbidden").await.unwrap_err().to_string();
        assert!(
            e.contains("reading secret `forbidden`: access denied (403: Forbidden"),
            "{e}"
        );
        assert!(!e.contains(CLIENT_SECRET));
    });
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    // a token refused with 401 is replaced once by the same backend
    let b = backend(&server, &client_secret());
    block(async {
        assert!(b.get("db_password").await.unwrap().is_some());
        revoked.store(2, Ordering::SeqCst);
        assert!(b.get("db_password").await.unwrap().is_some());
    });
    assert_eq!(issued.load(Ordering::SeqCst), 3);

    // a wrong client secret: Entra ID's refusal, without the secret
    let mut wrong = client_secret();
    wrong[2].1 = "wrong-secret-never-printed".into();
    let e = block(backend(&server, &wrong).get("kafka"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("invalid_client: AADSTS7000215: Invalid client secret provided.")
            && !e.contains("Trace ID")
            && !e.contains("never-printed"),
        "{e}"
    );
}

#[test]
fn workload_and_managed_identities_get_tokens() {
    let issued = Arc::new(AtomicU32::new(0));
    let server = azure(issued.clone(), Arc::default());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, FEDERATED).unwrap();
    let workload = backend(
        &server,
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT.into()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ],
    );
    let managed = backend(
        &server,
        &[
            ("IDENTITY_ENDPOINT", format!("{}/msi/token", server.url)),
            ("IDENTITY_HEADER", IDENTITY_HEADER.into()),
        ],
    );
    block(async {
        assert!(workload.get("kafka").await.unwrap().is_some());
        assert!(managed.get("kafka").await.unwrap().is_some());
    });
    assert_eq!(issued.load(Ordering::SeqCst), 2);

    // nothing configured, and no metadata service (kept on loopback)
    let none = backend(&server, &[]);
    let e = block(none.get("kafka")).unwrap_err().to_string();
    assert!(
        e.contains("no Azure credentials") && e.contains("127.0.0.1:1"),
        "{e}"
    );
}
