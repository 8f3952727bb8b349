//! Hostile API clients against the `legion serve` binary, over real TCP connections: oversized,
//! malformed, deeply nested and non-UTF-8 bodies, wrong member types, forged pagination and task
//! tokens, connections that never finish their request, and floods. Every answer must be AWS's
//! error type and status (never a 5xx), the server must stay up, and well-behaved clients must keep
//! being served. Latency figures are printed (see RELIABILITY.md), never asserted.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The body limit the server under test runs with.
const BODY_LIMIT: usize = 64 * 1024;
/// Its header read timeout, in seconds.
const HEADER_TIMEOUT: f64 = 1.0;
/// Its body read timeout, in seconds.
const BODY_TIMEOUT: f64 = 1.0;
const ROLE: &str = "arn:aws:iam::123456789012:role/r";
const PASS: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;

/// Starts `legion serve` with short timeouts and a small body limit; its address.
fn serve(extra: &[&str]) -> (common::Process, SocketAddr) {
    let (body, header, body_timeout) = (BODY_LIMIT.to_string(), HEADER_TIMEOUT.to_string(), BODY_TIMEOUT.to_string());
    let mut args = vec!["--time-scale", "0", "--max-body-bytes", &body];
    args.extend(["--header-timeout", &header, "--body-timeout", &body_timeout]);
    args.extend(extra);
    common::serve_binary(&args)
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The AWS error type, from the body's `__type` (checked against `x-amzn-ErrorType`).
    fn error_type(&self) -> String {
        let body = self.json();
        let kind = body["__type"].as_str().unwrap_or_else(|| panic!("no __type: {body}")).to_owned();
        assert_eq!(self.header("x-amzn-errortype"), Some(kind.as_str()), "{body}");
        kind
    }
}

/// Reads one HTTP/1.1 response (Content-Length framed) from `stream`; `None` if the connection
/// closed before a complete response.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Answer> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(Answer { status, headers, body })
}

/// The bytes of a Step Functions request for `operation` with `body`.
fn request(operation: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AWSStepFunctions.{operation}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A keep-alive connection to the server.
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("a connection");
        stream.set_nodelay(true).expect("nodelay");
        Client { stream, buffer: Vec::new() }
    }

    async fn send_raw(&mut self, bytes: &[u8]) -> Answer {
        self.stream.write_all(bytes).await.expect("the request is sent");
        read_answer(&mut self.stream, &mut self.buffer).await.expect("an answer")
    }

    async fn call(&mut self, operation: &str, body: &[u8]) -> Answer {
        self.send_raw(&request(operation, body)).await
    }
}

/// One request on a fresh connection.
async fn call(addr: SocketAddr, operation: &str, body: &[u8]) -> Answer {
    Client::connect(addr).await.call(operation, body).await
}

/// Asserts an answer is the AWS error `kind` with `status`.
fn assert_error(answer: &Answer, status: u16, kind: &str, what: &str) {
    assert_eq!(answer.status, status, "{what}: {answer:?} {}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.error_type(), kind, "{what}");
}

async fn create_machine(addr: SocketAddr, name: &str) -> String {
    let body = json!({"name": name, "definition": PASS, "roleArn": ROLE}).to_string();
    let answer = call(addr, "CreateStateMachine", body.as_bytes()).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    answer.json()["stateMachineArn"].as_str().expect("an ARN").to_owned()
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let (_server, addr) = serve(&[]);
    // Declared too large: refused without reading the body.
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n\
         Content-Length: {}\r\n\r\n",
        BODY_LIMIT + 1
    )
    .into_bytes();
    head.extend_from_slice(b"{");
    let mut client = Client::connect(addr).await;
    let answer = client.send_raw(&head).await;
    assert_error(&answer, 413, "RequestEntityTooLargeException", "a declared length over the limit");
    assert_eq!(answer.header("connection"), Some("close"));

    // Chunked, with no declared length: refused once the limit is crossed.
    let mut client = Client::connect(addr).await;
    let chunk = vec![b' '; 16 * 1024];
    let mut bytes = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n\
        Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for _ in 0..(BODY_LIMIT / chunk.len() + 2) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(&chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    let answer = client.send_raw(&bytes).await;
    assert_error(&answer, 413, "RequestEntityTooLargeException", "a chunked body over the limit");

    // A definition just under the limit is read and validated.
    let padding = " ".repeat(BODY_LIMIT - 200);
    let body = json!({"definition": format!("{PASS}{padding}")}).to_string();
    assert!(body.len() < BODY_LIMIT);
    let answer = call(addr, "ValidateStateMachineDefinition", body.as_bytes()).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
}

#[tokio::test]
async fn malformed_bodies_get_aws_errors_and_never_a_5xx() {
    let (_server, addr) = serve(&[]);
    let arn = create_machine(addr, "m").await;
    let deep_array = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let deep_object = format!("{{\"name\": {}1{}}}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let deep_input = json!({"stateMachineArn": arn, "input": format!("{}{}", "[".repeat(5_000), "]".repeat(5_000))});
    let huge_number = json!({"stateMachineArn": arn, "maxResults": 1e300}).to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("ListStateMachines", b"{".to_vec(), "SerializationException"),
        ("ListStateMachines", b"[1, 2]".to_vec(), "SerializationException"),
        ("ListStateMachines", b"\"text\"".to_vec(), "SerializationException"),
        ("ListStateMachines", b"{\"maxResults\": 1} trailing".to_vec(), "SerializationException"),
        ("ListStateMachines", deep_array.into_bytes(), "SerializationException"),
        ("CreateStateMachine", deep_object.into_bytes(), "SerializationException"),
        ("CreateStateMachine", b"{\"name\": \"\xff\xfe\"}".to_vec(), "SerializationException"),
        ("CreateStateMachine", b"\xef\xbb\xbf\xc3\x28{}".to_vec(), "SerializationException"),
        ("CreateStateMachine", br#"{"name": 5, "definition": {}, "roleArn": []}"#.to_vec(), "SerializationException"),
        ("ListExecutions", huge_number.into_bytes(), "SerializationException"),
        ("ListStateMachines", br#"{"maxResults": -1}"#.to_vec(), "ValidationException"),
        ("ListStateMachines", br#"{"maxResults": 99999999999}"#.to_vec(), "ValidationException"),
        ("StartExecution", deep_input.to_string().into_bytes(), "InvalidExecutionInput"),
        (
            "StartExecution",
            json!({"stateMachineArn": arn, "input": "{"}).to_string().into_bytes(),
            "InvalidExecutionInput",
        ),
        ("DescribeExecution", br#"{"executionArn": "arn:aws:states:::::::::"}"#.to_vec(), "InvalidArn"),
        ("DescribeStateMachine", json!({"stateMachineArn": "x".repeat(60_000)}).to_string().into_bytes(), "InvalidArn"),
        ("NoSuchThing", b"{}".to_vec(), "UnknownOperationException"),
    ];
    for (operation, body, kind) in cases {
        let answer = call(addr, operation, &body).await;
        let what = format!("{operation} {:?}", String::from_utf8_lossy(&body[..body.len().min(80)]));
        assert!(answer.status < 500, "{what}: {answer:?}");
        assert_error(&answer, 400, kind, &what);
    }
    // No target header, a GET, a body that is not even HTTP: answered or closed, and the server is up.
    let answer =
        Client::connect(addr).await.send_raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}").await;
    assert_error(&answer, 400, "UnknownOperationException", "no X-Amz-Target");
    let answer = Client::connect(addr).await.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_error(&answer, 400, "UnknownOperationException", "a GET");
    let mut garbage = TcpStream::connect(addr).await.expect("a connection");
    garbage.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n").await.expect("sent");
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut sink)).await;
    assert!(!String::from_utf8_lossy(&sink).contains(" 500 "), "{sink:?}");
    assert_eq!(call(addr, "ListStateMachines", b"{}").await.status, 200, "the server still answers");
}

#[tokio::test]
async fn forged_pagination_and_task_tokens_are_refused() {
    let (_server, addr) = serve(&[]);
    let arn = create_machine(addr, "m").await;
    create_machine(addr, "n").await;
    let first = call(addr, "ListStateMachines", br#"{"maxResults": 1}"#).await.json();
    let token = first["nextToken"].as_str().expect("a next token").to_owned();
    let mut forged = token.clone();
    forged.push('A');
    let flipped: String = token.chars().rev().collect();
    for bad in [
        "garbage".to_owned(),
        forged,
        flipped,
        "A".repeat(2000),
        "\u{0}\u{1}".to_owned(),
        "eyJvZmZzZXQiOjk5OTk5OTk5OTk5OTk5OTk5OTk5fQ==".to_owned(),
    ] {
        let body = json!({"maxResults": 1, "nextToken": bad}).to_string();
        let answer = call(addr, "ListStateMachines", body.as_bytes()).await;
        assert!(answer.status < 500, "{answer:?}");
        assert_eq!(answer.status, 400, "{bad:?}: {}", String::from_utf8_lossy(&answer.body));
        let kind = answer.error_type();
        assert!(kind == "InvalidToken" || kind == "ValidationException", "{bad:?}: {kind}");
    }
    // A token from one listing is refused by another.
    let body = json!({"stateMachineArn": arn, "nextToken": token}).to_string();
    assert_error(
        &call(addr, "ListExecutions", body.as_bytes()).await,
        400,
        "InvalidToken",
        "a token of another listing",
    );

    for (operation, extra) in
        [("SendTaskSuccess", json!({"output": "{}"})), ("SendTaskFailure", json!({})), ("SendTaskHeartbeat", json!({}))]
    {
        for token in ["AAAA", "not a token", &"Z".repeat(1024), "\u{7f}"] {
            let mut body = extra.clone();
            body["taskToken"] = json!(token);
            let answer = call(addr, operation, body.to_string().as_bytes()).await;
            assert!(answer.status < 500, "{answer:?}");
            assert_eq!(answer.status, 400);
            let kind = answer.error_type();
            assert!(kind == "InvalidToken" || kind == "TaskDoesNotExist", "{operation} {token:?}: {kind}");
        }
    }
}

/// Latency percentiles of `samples`, in milliseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.5), at(0.99), at(1.0))
}

/// A well-behaved client's requests, timed one by one on one keep-alive connection.
async fn timed_requests(addr: SocketAddr, arn: &str, count: usize) -> Vec<Duration> {
    let mut client = Client::connect(addr).await;
    let body = json!({"stateMachineArn": arn}).to_string();
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let answer = client.call("DescribeStateMachine", body.as_bytes()).await;
        samples.push(started.elapsed());
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_are_closed_and_others_are_served() {
    const IDLE: usize = 3000;
    let (_server, addr) = serve(&[]);
    let arn = create_machine(addr, "m").await;
    let mut baseline = timed_requests(addr, &arn, 300).await;
    let (b50, b99, bmax) = percentiles(&mut baseline);

    // Thousands of connections: some send nothing, some half a request line, some headers without
    // their end, some headers and part of the body.
    let opened = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut stream = TcpStream::connect(addr).await.expect("a connection");
        let partial: &[u8] = match i % 4 {
            0 => b"",
            1 => b"POST / HT",
            2 => b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n",
            _ => b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: 100\r\n\r\n{\"max",
        };
        stream.write_all(partial).await.expect("sent");
        idle.push((i % 4, stream));
    }
    let mut loaded = timed_requests(addr, &arn, 300).await;
    let (l50, l99, lmax) = percentiles(&mut loaded);
    println!(
        "hostile: {IDLE} connections that never finish their request opened in {:?}; DescribeStateMachine \
         latency without them p50 {b50:.3} ms p99 {b99:.3} ms max {bmax:.3} ms, with them p50 {l50:.3} ms \
         p99 {l99:.3} ms max {lmax:.3} ms",
        opened.elapsed()
    );

    // Each is answered (408 for the unfinished body) or closed by the server once its timeout passed.
    let deadline = Duration::from_secs_f64(HEADER_TIMEOUT.max(BODY_TIMEOUT) + 10.0);
    let closed = Instant::now();
    let mut timed_out_bodies = 0;
    for (kind, mut stream) in idle {
        let mut seen = Vec::new();
        let read = tokio::time::timeout(deadline, stream.read_to_end(&mut seen)).await;
        assert!(read.is_ok(), "a connection of kind {kind} was still open after {deadline:?}");
        let text = String::from_utf8_lossy(&seen);
        assert!(!text.contains(" 500 ") && !text.contains(" 503 "), "{text}");
        if kind == 3 {
            assert!(text.starts_with("HTTP/1.1 408"), "an unfinished body: {text:?}");
            assert!(text.contains("RequestTimeoutException"), "{text}");
            timed_out_bodies += 1;
        }
    }
    println!("hostile: all {IDLE} closed by the server {:?} after the last was checked", closed.elapsed());
    assert_eq!(timed_out_bodies, IDLE / 4);
    assert_eq!(
        call(addr, "DescribeStateMachine", json!({"stateMachineArn": arn}).to_string().as_bytes()).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_is_answered_correctly() {
    const FLOODERS: usize = 32;
    const EACH: usize = 300;
    let (_server, addr) = serve(&[]);
    let arn = create_machine(addr, "m").await;
    let flood = Instant::now();
    let mut tasks = Vec::new();
    for f in 0..FLOODERS {
        let arn = arn.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let mut counts = [0usize; 3];
            for i in 0..EACH {
                let answer =
                    match i % 3 {
                        0 => {
                            client
                                .call(
                                    "StartExecution",
                                    json!({"stateMachineArn": arn, "name": format!("f{f}-{i}")}).to_string().as_bytes(),
                                )
                                .await
                        }
                        1 => client
                            .call(
                                "DescribeStateMachine",
                                br#"{"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}"#,
                            )
                            .await,
                        _ => {
                            client
                                .call(
                                    "ListExecutions",
                                    json!({"stateMachineArn": arn, "maxResults": 5}).to_string().as_bytes(),
                                )
                                .await
                        }
                    };
                assert!(answer.status < 500, "{answer:?}");
                match i % 3 {
                    0 => assert_eq!(answer.status, 200),
                    1 => assert_eq!(answer.error_type(), "StateMachineDoesNotExist"),
                    _ => assert_eq!(answer.json()["executions"].as_array().map(Vec::len), Some(5)),
                }
                counts[i % 3] += 1;
            }
            counts
        }));
    }
    // Meanwhile, a well-behaved client.
    let mut during = timed_requests(addr, &arn, 300).await;
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("a flooding client").iter().sum::<usize>();
    }
    let elapsed = flood.elapsed();
    let (p50, p99, max) = percentiles(&mut during);
    println!(
        "hostile: flood of {total} requests from {FLOODERS} connections in {elapsed:?} ({:.0} requests/s); a \
         well-behaved client meanwhile p50 {p50:.3} ms p99 {p99:.3} ms max {max:.3} ms",
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(total, FLOODERS * EACH);
    let listed =
        call(addr, "ListExecutions", json!({"stateMachineArn": arn, "maxResults": 1000}).to_string().as_bytes()).await;
    assert_eq!(listed.json()["executions"].as_array().map(Vec::len), Some(1000));
}

#[test]
fn serve_warns_when_bound_beyond_loopback() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_legion"))
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("SFN_MOCK_CONFIG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("legion serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let process = common::Process(child);
    let lines: Vec<String> = BufReader::new(stderr).lines().take(2).map(|l| l.expect("a line")).collect();
    drop(process);
    assert!(lines[0].contains("listening on http://0.0.0.0:"), "{lines:?}");
    assert!(lines[1].contains("WARNING") && lines[1].contains("reachable from other hosts"), "{lines:?}");

    let (_server, _) = serve(&[]);
    // The loopback default prints no warning: `serve` only returns after the listening line, and the
    // default address is checked here directly.
    assert!(legion_server::serve::exposure_warning("127.0.0.1:8083".parse().expect("an address"), false).is_none());
}
