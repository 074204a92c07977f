//! A minimal blocking HTTP/1.1 client for the sequencer's JSON API: one request per connection
//! (`Connection: close`), `Content-Length` or chunked responses, plain TCP.
//!
//! The worker needs four requests and nothing else (no redirects, no cookies, no TLS), so it
//! does not pull an HTTP stack into the prover; a sequencer behind TLS is reached through a
//! local tunnel or proxy. Connection failures are reported apart from everything else
//! ([`HttpError::Unreachable`]) because the worker retries those: a sequencer that is
//! restarting is not an error.

use std::{
    io::{Read, Write},
    net::{TcpStream, ToSocketAddrs},
    time::Duration,
};

/// A base URL: `http://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    host: String,
    port: u16,
    prefix: String,
}

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not an `http://` URL this client can use.
    #[error("{url:?} is not a usable sequencer URL: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// No connection could be made (refused, unresolvable, timed out): retried by the worker.
    #[error("cannot connect to {addr}: {source}")]
    Unreachable {
        /// `host:port`.
        addr: String,
        /// The last connection error.
        #[source]
        source: std::io::Error,
    },
    /// The connection broke during the exchange.
    #[error("{method} {path}: the connection failed: {source}")]
    Io {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The answer is not HTTP/1.1 this client understands.
    #[error("{method} {path}: malformed response: {reason}")]
    Malformed {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// How long one request may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read or write may stall.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

impl Endpoint {
    /// Parses `http://host[:port][/prefix]` (port 80 by default).
    pub(crate) fn parse(url: &str) -> Result<Self, HttpError> {
        let bad = |reason: &str| HttpError::Url { url: url.to_owned(), reason: reason.to_owned() };
        let rest =
            match url.split_once("://") {
                Some(("http", rest)) => rest,
                Some(("https", _)) => return Err(bad(
                    "https is not supported by the worker; reach the sequencer over http (e.g. \
                     through an SSH or TLS tunnel)",
                )),
                _ => return Err(bad("expected http://host[:port]")),
            };
        let (authority, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected http://host[:port]"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                match after.strip_prefix(':') {
                    Some(port) => {
                        (host, port.parse().map_err(|_| bad("the port is not a number"))?)
                    }
                    None if after.is_empty() => (host, 80),
                    None => return Err(bad("expected http://[host]:port")),
                }
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => {
                    (host, port.parse().map_err(|_| bad("the port is not a number"))?)
                }
                None => (authority, 80),
            },
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Self { host: host.to_owned(), port, prefix: prefix.to_owned() })
    }

    /// `host:port`.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Sends one request with an optional JSON body and reads the whole response.
    pub(crate) fn request(
        &self,
        method: &'static str,
        path: &str,
        json: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        let path = format!("{}{path}", self.prefix);
        let mut stream = self.connect()?;
        let io = |source| HttpError::Io { method, path: path.clone(), source };
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\
             Connection: close\r\nUser-Agent: merit-prover/{}\r\n",
            self.authority(),
            env!("CARGO_PKG_VERSION")
        );
        let body = json.unwrap_or_default();
        if json.is_some() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body).map_err(io)?;
        stream.flush().map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(io)?;
        parse_response(&raw).map_err(|reason| HttpError::Malformed {
            method,
            path: path.clone(),
            reason,
        })
    }

    fn connect(&self) -> Result<TcpStream, HttpError> {
        let authority = self.authority();
        let unreachable = |source| HttpError::Unreachable { addr: authority.clone(), source };
        let addrs = (self.host.as_str(), self.port).to_socket_addrs().map_err(unreachable)?;
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(error) => last = error,
            }
        }
        Err(unreachable(last))
    }
}

/// Splits a raw HTTP/1.1 response into status and (de-chunked) body.
fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {} bytes", raw.len()))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the header is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, status) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") {
        return Err(format!("status line {status_line:?}"));
    }
    let status: u16 = status.parse().map_err(|_| format!("status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| format!("{line:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(length) = length {
        if rest.len() < length {
            return Err(format!("body of {} bytes, Content-Length {length}", rest.len()));
        }
        rest[..length].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end =
            rest.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size line")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse("http://127.0.0.1:8645").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("127.0.0.1", 8645, ""));
        let e = Endpoint::parse("http://seq.example/merit/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.prefix.as_str()), ("seq.example", 80, "/merit"));
        let e = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        assert_eq!(e.authority(), "[::1]:9000");
        for bad in ["https://x", "ftp://x", "x:1", "http://", "http://h:port"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"{}".as_slice()));
        let r = parse_response(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = parse_response(
            b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (409, b"abcde".as_slice()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}").is_err());
        assert!(parse_response(b"SMTP ready").is_err());
    }
}
