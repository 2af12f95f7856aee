//! DESK-1 on AWS: `scripts/deploy-desk` puts the desk in the stack's bucket, on moto's S3 and
//! CloudFormation. The files land where CloudFront serves them (the page at the root, the rest
//! under `desk/`, as `switchboard serve` serves them), byte for byte, each with its content type
//! and `Cache-Control: no-cache`; the stack's `DeskConfig` output becomes `desk/config.json`; files
//! no longer in `desk/` are removed; a config that would sign nobody in is refused before
//! anything is written.

use aws_sdk_s3::Client;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use switchboard_tests::template::repo;

fn config(api: &str) -> Value {
    json!({
        "auth": "oidc",
        "api": api,
        "client_id": "desk-client-id",
        "authorization_endpoint": "https://switchboard-x.auth.us-east-1.amazoncognito.com/oauth2/authorize",
        "token_endpoint": "https://switchboard-x.auth.us-east-1.amazoncognito.com/oauth2/token",
        "logout_endpoint": "https://switchboard-x.auth.us-east-1.amazoncognito.com/logout",
        "redirect_uri": "https://d111111abcdef8.cloudfront.net/",
        "scope": "openid email profile",
        "token": "id_token"
    })
}

fn deploy_desk(args: &[&str]) -> Output {
    Command::new(repo().join("scripts/deploy-desk"))
        .args(args)
        .env("AWS_ENDPOINT_URL", testkit::moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("scripts/deploy-desk runs")
}

/// What the desk is made of locally: key in the bucket → (file, content type).
fn expected_files() -> BTreeMap<String, (std::path::PathBuf, &'static str)> {
    let desk = repo().join("desk");
    let mut files = BTreeMap::new();
    files.insert(
        "index.html".to_owned(),
        (desk.join("index.html"), "text/html; charset=utf-8"),
    );
    files.insert(
        "desk/desk.css".to_owned(),
        (desk.join("desk.css"), "text/css; charset=utf-8"),
    );
    for entry in std::fs::read_dir(desk.join("js")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "js") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(
                format!("desk/js/{name}"),
                (path, "text/javascript; charset=utf-8"),
            );
        }
    }
    files
}

/// moto's S3 (path-style: the endpoint is an address).
async fn s3() -> Client {
    let sdk = testkit::moto_config().await;
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

async fn keys(s3: &Client, bucket: &str) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// moto's CloudFormation through its query API (moto reads the service from the credential
/// scope and checks no signature): a stack with a bucket and the outputs deploy-desk reads.
async fn create_stack(name: &str, bucket: &str, desk_config: &Value) {
    let template = json!({
        "Resources": {"DeskBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}}},
        "Outputs": {
            "DeskBucketName": {"Value": {"Ref": "DeskBucket"}},
            "DeskConfig": {"Value": desk_config.to_string()},
            "DeskUrl": {"Value": "https://d111111abcdef8.cloudfront.net/"}
        }
    });
    let form = [
        ("Action", "CreateStack"),
        ("Version", "2010-05-15"),
        ("StackName", name),
        ("TemplateBody", &template.to_string()),
    ];
    let answer = switchboard_local::demo::loopback_client()
        .unwrap()
        .post(testkit::moto_endpoint())
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert!(status.is_success(), "CreateStack: {status} {text}");
}

#[tokio::test]
async fn desk_1_deploy_desk_puts_the_desk_and_its_config_in_the_stacks_bucket() {
    let s3 = s3().await;
    let bucket = testkit::unique("desk").to_lowercase();
    let stack = testkit::unique("desk-stack");
    let wanted = config("https://abc123.execute-api.us-east-1.amazonaws.com");
    create_stack(&stack, &bucket, &wanted).await;
    // A file of an older desk, gone from desk/ since.
    s3.put_object()
        .bucket(&bucket)
        .key("desk/js/retired.js")
        .body(b"export {};".to_vec().into())
        .send()
        .await
        .unwrap();

    let out = deploy_desk(&["--stack", &stack, "--region", "us-east-1"]);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("open https://d111111abcdef8.cloudfront.net/"),
        "{printed}"
    );

    let files = expected_files();
    let mut want_keys: Vec<String> = files.keys().cloned().collect();
    want_keys.push("desk/config.json".to_owned());
    want_keys.sort();
    assert_eq!(keys(&s3, &bucket).await, want_keys);
    for (key, (path, content_type)) in &files {
        let object = s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(object.content_type(), Some(*content_type), "{key}");
        assert_eq!(object.cache_control(), Some("no-cache"), "{key}");
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(
            bytes.as_ref(),
            std::fs::read(path).unwrap().as_slice(),
            "{key}"
        );
    }
    let deployed = s3
        .get_object()
        .bucket(&bucket)
        .key("desk/config.json")
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.content_type(), Some("application/json"));
    let deployed: Value =
        serde_json::from_slice(&deployed.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(deployed, wanted);
    // The local config (token sign-in) is not what the stack serves.
    let local: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("desk/config.json")).unwrap())
            .unwrap();
    assert_eq!(local["auth"], "tokens");
}

#[tokio::test]
async fn desk_1_deploy_desk_refuses_a_config_that_signs_nobody_in() {
    let s3 = s3().await;
    let bucket = testkit::unique("desk-refused").to_lowercase();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let dir = std::env::temp_dir().join(testkit::unique("desk-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut missing_token_url = config("https://abc123.execute-api.us-east-1.amazonaws.com");
    missing_token_url["token_endpoint"] = json!("");
    for (bad, reason) in [
        (json!({"auth": "tokens"}), "\"auth\": \"oidc\""),
        (missing_token_url, "token_endpoint"),
        (
            config("http://abc123.example.com"),
            "api is not an https:// URL",
        ),
    ] {
        let file = dir.join("config.json");
        std::fs::write(&file, bad.to_string()).unwrap();
        let out = deploy_desk(&["--bucket", &bucket, "--config", &file.display().to_string()]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{bad} was deployed");
        assert!(stderr.contains(reason), "{bad}: {stderr}");
        assert_eq!(keys(&s3, &bucket).await, Vec::<String>::new(), "{bad}");
    }
    assert!(Path::new(&dir).exists());
    std::fs::remove_dir_all(&dir).ok();
}
