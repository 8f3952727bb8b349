//! `legion serve --auth FILE`: every request must be signed (SigV4) with a key of the file. Driven by
//! aws-sdk-sfn signing with the right secret, a wrong secret and an unknown key, and by an unsigned
//! raw request.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;

use aws_sdk_sfn::config::{Credentials, Region};
use aws_sdk_sfn::error::ProvideErrorMetadata;

/// `legion serve --auth` with one key, `AKIDTEAM` → `right-secret`.
fn serve_with_auth(dir: &std::path::Path) -> (common::Process, SocketAddr) {
    let keys = dir.join("keys.json");
    std::fs::write(&keys, r#"{"AKIDTEAM": "right-secret"}"#).expect("keys file");
    common::serve_binary(&[std::ffi::OsStr::new("--auth"), keys.as_os_str()])
}

fn client(addr: SocketAddr, key: &str, secret: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .endpoint_url(format!("http://{addr}"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "static"))
        .behavior_version_latest()
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_requests_signed_with_a_known_key_are_served() {
    let dir = std::env::temp_dir().join(format!("legion-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let (_server, addr) = serve_with_auth(&dir);

    let team = client(addr, "AKIDTEAM", "right-secret");
    team.create_state_machine()
        .name("shared")
        .role_arn("arn:aws:iam::123456789012:role/r")
        .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#)
        .send()
        .await
        .expect("a signed request is served");
    let listed = team.list_state_machines().send().await.expect("ListStateMachines");
    assert_eq!(listed.state_machines().len(), 1);

    let e = client(addr, "AKIDTEAM", "wrong-secret").list_state_machines().send().await.expect_err("a wrong secret");
    assert_eq!(e.code(), Some("InvalidSignatureException"), "{e:?}");
    assert!(e.message().unwrap_or_default().starts_with("The request signature we calculated does not match"));

    let e = client(addr, "AKIDOTHER", "right-secret").list_state_machines().send().await.expect_err("an unknown key");
    assert_eq!(e.code(), Some("UnrecognizedClientException"), "{e:?}");
    assert_eq!(e.message(), Some("The security token included in the request is invalid."));

    // Unsigned, and signed but tampered with on the way.
    let unsigned = raw(addr, "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    assert!(unsigned.starts_with("HTTP/1.1 400"), "{unsigned}");
    assert!(unsigned.contains("MissingAuthenticationTokenException"), "{unsigned}");
    let forged = raw(
        addr,
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nX-Amz-Date: 20990101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEAM/20990101/us-east-1/states/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(forged.contains("InvalidSignatureException") && forged.contains("Signature expired"), "{forged}");
    let incomplete = raw(
        addr,
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDTEAM/20990101/us-east-1/states/aws4_request\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(incomplete.contains("IncompleteSignatureException"), "{incomplete}");
    // Nothing the refused clients sent was acted on.
    assert_eq!(team.list_state_machines().send().await.expect("listed").state_machines().len(), 1);
}

fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}
