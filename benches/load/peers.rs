//! Local peers of the bench, on 127.0.0.1 in the bench process: a keep-alive HTTP/1.1
//! server (the upstream API of the proxy measurement, and the counting token endpoint of
//! the refresh measurement) and the provider file that points an OAuth app at it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

/// Reads one request (head and `Content-Length` body); `None` at end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1, one thread per connection (at most
/// `max_conns` connections over its life), answering each request with `answer`.
pub fn serve_local(
    max_conns: usize,
    answer: impl Fn(&str, &[u8]) -> String + Send + Sync + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_conns).flatten() {
            let answer = Arc::clone(&answer);
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                while let Some((head, body)) = read_request(&mut reader) {
                    if writer.write_all(answer(&head, &body).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

pub fn json_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub fn testidp_provider(dir: &Path) {
    std::fs::create_dir_all(dir.join("providers")).unwrap();
    std::fs::write(
        dir.join("providers/testidp.json"),
        json!({"apps": [{
            "key": "testidp", "name": "Test IdP", "description": "local token endpoint of the benchmark",
            "categories": ["testing"], "base_url": "http://127.0.0.1:9/api",
            "auth_schemes": [{"mode": "OAUTH2",
                "authorization_url": "http://127.0.0.1:9/auth", "token_url": "http://127.0.0.1:9/token",
                "default_scopes": ["openid"], "scope_separator": " ", "pkce": true,
                "token_auth": "client_secret_post"}]
        }]})
        .to_string(),
    )
    .unwrap();
}
