//! The SCIM client of the load generator: one pooled HTTP/1.1 client
//! (keep-alive connections reused across requests), every request timed
//! into a [`Recorder`] under an operation name.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::Error;
use crate::stats::Recorder;

/// One tenant of a system under test: its SCIM base URL and bearer token.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080/scim/v2/t1`.
    pub base: String,
    pub token: String,
    /// The tenant's name in the system (for gRPC calls), if it has one.
    pub tenant: String,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Parsed only when the caller asked for it.
    pub body: Option<Value>,
    /// What the recorder recorded: from sending to the last byte read.
    pub took: Duration,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `id` of a returned resource.
    pub fn id(&self) -> Option<String> {
        self.body.as_ref()?.get("id")?.as_str().map(str::to_owned)
    }
}

/// Loopback only: the constructor refuses any other host.
#[derive(Clone)]
pub struct Scim {
    http: reqwest::Client,
    pub rec: Recorder,
}

impl Scim {
    pub fn new(rec: Recorder) -> Result<Self, Error> {
        // The workspace's reqwest brings rustls without a crypto provider;
        // the bench speaks plain HTTP on loopback but reqwest wants one.
        // Installing twice is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(512)
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { http, rec })
    }

    /// Sends one request and records it as `op`. `parse` asks for the JSON
    /// body. Transport failures count as errors with status 0.
    pub async fn call(
        &self,
        op: &str,
        ep: &Endpoint,
        method: Method,
        path: &str,
        body: Option<&Value>,
        parse: bool,
    ) -> Reply {
        let url = format!("{}{path}", ep.base);
        if !is_loopback_url(&url) {
            // Never reached by construction; a guard against a bad config.
            self.rec.record(op, Instant::now(), Duration::ZERO, 0);
            return Reply {
                status: 0,
                body: None,
                took: Duration::ZERO,
            };
        }
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(&ep.token)
            .header("accept", "application/scim+json");
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let start = Instant::now();
        let result = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        }
        .await;
        let took = start.elapsed();
        match result {
            Ok((status, bytes)) => {
                let reply = Reply {
                    status,
                    body: if parse {
                        serde_json::from_slice(&bytes).ok()
                    } else {
                        None
                    },
                    took,
                };
                self.rec.record(op, start, took, status);
                reply
            }
            Err(_) => {
                self.rec.record(op, start, took, 0);
                Reply {
                    status: 0,
                    body: None,
                    took,
                }
            }
        }
    }

    /// Plain JSON POST (peers' admin endpoints), not recorded.
    pub async fn post_json(&self, url: &str, body: &Value) -> Result<Value, Error> {
        if !is_loopback_url(url) {
            return Err(format!("refusing non-loopback URL {url}").into());
        }
        let resp = self.http.post(url).json(body).send().await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        if !status.is_success() {
            return Err(format!("{url}: {status} {v}").into());
        }
        Ok(v)
    }
}

/// True for `http://127.x.x.x…`, `http://localhost…` and `http://[::1]…`.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_pass() {
        assert!(is_loopback_url("http://127.0.0.1:8080/scim"));
        assert!(is_loopback_url("http://localhost:1/x"));
        assert!(is_loopback_url("http://[::1]:5/x"));
        assert!(!is_loopback_url("http://10.0.0.1/x"));
        assert!(!is_loopback_url("https://127.0.0.1/x"));
        assert!(!is_loopback_url("http://example.com/x"));
    }

    #[test]
    fn encodes_a_filter() {
        assert_eq!(
            enc("userName eq \"a@b.c\""),
            "userName%20eq%20%22a%40b.c%22"
        );
    }
}
