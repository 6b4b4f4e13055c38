//! The `aws_secrets_manager` backend against moto's AWS emulator
//! (`scripts/services.sh start moto`): credentials from the environment,
//! the shared files and web identity (STS), `name#key`, not found, a binary
//! secret, no credentials and an unreachable endpoint; and denied
//! credentials against a moto of its own started with IAM enforcement
//! (`INITIAL_NO_AUTH_ACTION_COUNT`): unknown keys, and a user's keys without
//! a policy. moto does not check signatures; the signing is tested against
//! AWS's own test vectors in the unit tests.

mod common;

use common::{block, stamp};

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{json, Value};
use sluice_core::Secret;
use sluice_secrets::aws::{sign, AwsBackend, AwsOptions, CredentialChain, Credentials, Request};
use sluice_secrets::{Resolver, SecretBackend};

fn endpoint() -> String {
    std::env::var("SLUICE_MOTO_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into())
}

fn moto_up() -> bool {
    let up = ureq::get(format!("{}/moto-api/data.json", endpoint()))
        .call()
        .is_ok();
    if !up {
        assert!(
            std::env::var("SLUICE_REQUIRE_SERVICES").is_err(),
            "moto is not running at {} (scripts/services.sh start moto)",
            endpoint()
        );
        eprintln!("skipped: moto is not running (scripts/services.sh start moto)");
    }
    up
}

/// A Secrets Manager call, signed like the backend's (test setup).
fn sm(target: &str, body: Value) -> Value {
    let target = format!("secretsmanager.{target}");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target.as_str()),
    ];
    let text = call(&endpoint(), "secretsmanager", &headers, &body.to_string());
    serde_json::from_str(&text).unwrap()
}

/// A credential chain reading only `vars` (never a real metadata service).
fn chain(vars: &[(&str, String)]) -> CredentialChain {
    let mut vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    vars.entry("AWS_EC2_METADATA_SERVICE_ENDPOINT".into())
        .or_insert_with(|| "http://127.0.0.1:1".into());
    vars.entry("AWS_ENDPOINT_URL_STS".into())
        .or_insert_with(endpoint);
    let profile = vars
        .get("AWS_PROFILE")
        .cloned()
        .unwrap_or_else(|| "default".into());
    CredentialChain::new(
        Box::new(move |k: &str| vars.get(k).cloned()),
        &profile,
        "us-east-1",
    )
}

/// A backend at moto whose credential chain reads only `vars`.
fn backend(prefix: &str, vars: &[(&str, String)]) -> AwsBackend {
    let options: BTreeMap<String, String> = [
        ("region".to_string(), "us-east-1".to_string()),
        ("prefix".to_string(), prefix.to_string()),
        ("endpoint".to_string(), endpoint()),
    ]
    .into();
    let opts = AwsOptions::from_options(&options, &|_| None).unwrap();
    AwsBackend::new(opts, chain(vars))
}

fn keys() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "AKIDTEST".into()),
        ("AWS_SECRET_ACCESS_KEY", "never-printed-key".into()),
    ]
}

/// Secrets `<prefix>kafka` (JSON) and `<prefix>plain` (text).
fn fixture() -> (String, String) {
    let prefix = format!("sluice/{}/", stamp());
    let password = format!("pw-{}-never-printed", stamp());
    sm(
        "CreateSecret",
        json!({"Name": format!("{prefix}kafka"),
               "SecretString": json!({"user": "svc", "password": password}).to_string()}),
    );
    sm(
        "CreateSecret",
        json!({"Name": format!("{prefix}plain"), "SecretString": "plain-value"}),
    );
    (prefix, password)
}

#[test]
fn environment_credentials_read_text_and_json_secrets() {
    if !moto_up() {
        return;
    }
    let (prefix, password) = fixture();
    let b = backend(&prefix, &keys());
    assert!(b.describe().contains(&format!("secret `{prefix}<name>`")));
    let r = Resolver::new(vec![Box::new(b)]);
    block(async {
        assert_eq!(r.get("plain").await.unwrap().expose(), "plain-value");
        assert_eq!(r.get("kafka#password").await.unwrap().expose(), &password);
        assert_eq!(r.get("kafka#user").await.unwrap().expose(), "svc");
        let e = r.get("absent").await.unwrap_err().to_string();
        assert!(e.contains("secret `absent` not found"), "{e}");
        assert!(e.contains(&format!("secret `{prefix}<name>`")), "{e}");
        let e = r.get("kafka#pass").await.unwrap_err().to_string();
        assert!(e.contains("no such key") && !e.contains(&password), "{e}");
    });

    // a binary secret is refused with a reason
    sm(
        "CreateSecret",
        json!({"Name": format!("{prefix}blob"), "SecretBinary": "AAEC"}),
    );
    let b = backend(&prefix, &keys());
    let e = block(b.get("blob")).unwrap_err().to_string();
    assert!(
        e.contains(&format!("reading `{prefix}blob`")) && e.contains("binary"),
        "{e}"
    );
}

#[test]
fn shared_credentials_file_and_web_identity_are_in_the_chain() {
    if !moto_up() {
        return;
    }
    let (prefix, password) = fixture();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n[ci]\naws_access_key_id = AKIDFILE\naws_secret_access_key = from-file\n",
    )
    .unwrap();
    let vars = [
        ("HOME", home.path().display().to_string()),
        ("AWS_PROFILE", "ci".into()),
    ];
    let c = chain(&vars).resolve().unwrap();
    assert_eq!(
        (c.access_key_id.as_str(), c.source),
        ("AKIDFILE", "shared credentials file")
    );
    let b = backend(&prefix, &vars);
    block(async {
        assert!(b.get("plain").await.unwrap().is_some());
    });

    // web identity: the token file exchanged with STS for temporary keys
    let token = home.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzbHVpY2UifQ.c2ln").unwrap();
    let vars = [
        ("HOME", "/nonexistent".into()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/sluice".into(),
        ),
    ];
    let c = chain(&vars).resolve().unwrap();
    assert_eq!(c.source, "web identity");
    assert!(c.session_token.is_some() && c.expires.is_some(), "{c:?}");
    let b = backend(&prefix, &vars);
    let r = Resolver::new(vec![Box::new(b)]);
    block(async {
        assert_eq!(r.get("kafka#password").await.unwrap().expose(), &password);
    });
}

#[test]
fn no_credentials_and_an_unreachable_endpoint_are_named() {
    if !moto_up() {
        return;
    }
    let b = backend("x/", &[("HOME", "/nonexistent".into())]);
    let e = block(b.get("kafka")).unwrap_err().to_string();
    assert!(e.contains("no AWS credentials"), "{e}");

    let mut vars = keys();
    vars.push(("HOME", "/nonexistent".into()));
    let options: BTreeMap<String, String> = [
        ("region".to_string(), "us-east-1".to_string()),
        ("endpoint".to_string(), "http://127.0.0.1:1".to_string()),
    ]
    .into();
    let opts = AwsOptions::from_options(&options, &|_| None).unwrap();
    let b = AwsBackend::new(opts, chain(&vars));
    let e = block(b.get("kafka")).unwrap_err().to_string();
    assert!(
        e.contains("unreachable") && e.contains("127.0.0.1:1"),
        "{e}"
    );
    assert!(!e.contains("never-printed-key"), "{e}");
}

/// A moto server of this test's own, enforcing IAM after `free_actions`
/// unauthenticated calls; killed on drop.
struct EnforcingMoto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for EnforcingMoto {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn enforcing_moto(free_actions: u32) -> Option<EnforcingMoto> {
    let dir = std::path::Path::new(&std::env::var("HOME").unwrap_or_default())
        .join(".cache/sluice/services/moto");
    let server = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/moto_server")))
        .find(|p| p.exists());
    let Some(server) = server else {
        assert!(
            std::env::var("SLUICE_REQUIRE_SERVICES").is_err(),
            "moto is not installed under {} (scripts/services.sh start moto)",
            dir.display()
        );
        eprintln!("skipped: moto is not installed (scripts/services.sh start moto)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", free_actions.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let moto = EnforcingMoto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "moto did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Some(moto)
}

/// A signed call to `endpoint` (test setup): the body's content type
/// decides the protocol (JSON for Secrets Manager, a form for IAM).
fn call(endpoint: &str, service: &str, headers: &[(&str, &str)], body: &str) -> String {
    let creds = Credentials {
        access_key_id: "setup".into(),
        secret_access_key: Secret::new("setup".into()),
        session_token: None,
        expires: None,
        source: "test",
    };
    let host = endpoint.trim_start_matches("http://").to_string();
    let req = Request {
        method: "POST",
        host: &host,
        headers,
        payload: body.as_bytes(),
        region: "us-east-1",
        service,
    };
    let signed = sign(&creds, &req, SystemTime::now());
    let mut req = ureq::post(format!("{endpoint}/"));
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    req.send(body).unwrap().body_mut().read_to_string().unwrap()
}

fn xml(text: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {text}"))
        + open.len();
    let end = text[start..].find(&format!("</{name}>")).unwrap() + start;
    text[start..end].to_string()
}

#[test]
fn denied_credentials_are_named_and_the_secret_never_appears() {
    // three free calls: the user, its access key and the secret
    let Some(moto) = enforcing_moto(3) else {
        return;
    };
    let form = [("content-type", "application/x-www-form-urlencoded")];
    call(
        &moto.endpoint,
        "iam",
        &form,
        "Action=CreateUser&UserName=sluice-reader&Version=2010-05-08",
    );
    let key = call(
        &moto.endpoint,
        "iam",
        &form,
        "Action=CreateAccessKey&UserName=sluice-reader&Version=2010-05-08",
    );
    let (id, secret) = (xml(&key, "AccessKeyId"), xml(&key, "SecretAccessKey"));
    let password = format!("pw-{}-never-printed", stamp());
    call(
        &moto.endpoint,
        "secretsmanager",
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.CreateSecret"),
        ],
        &json!({"Name": "denied/kafka", "SecretString": password}).to_string(),
    );
    let at = |vars: &[(&str, String)]| {
        let options: BTreeMap<String, String> = [
            ("region".to_string(), "us-east-1".to_string()),
            ("prefix".to_string(), "denied/".to_string()),
            ("endpoint".to_string(), moto.endpoint.clone()),
        ]
        .into();
        let opts = AwsOptions::from_options(&options, &|_| None).unwrap();
        AwsBackend::new(opts, chain(vars))
    };

    // keys AWS does not know
    let e = block(at(&keys()).get("kafka")).unwrap_err().to_string();
    assert!(
        e.contains("access denied")
            && e.contains("InvalidClientTokenId")
            && e.contains("denied/kafka"),
        "{e}"
    );
    assert!(!e.contains("never-printed"), "{e}");

    // a real user's keys, but no policy lets it read the secret
    let user = vec![
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret.clone()),
    ];
    let e = block(at(&user).get("kafka")).unwrap_err().to_string();
    assert!(
        e.contains("access denied")
            && e.contains("not authorized")
            && e.contains("aws_secrets_manager"),
        "{e}"
    );
    assert!(!e.contains(&password) && !e.contains(&secret), "{e}");
}
