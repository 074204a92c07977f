//! A minimal HTTP/1.1 keep-alive client on a tokio `TcpStream`.
//!
//! The load generator shares the machine with the sequencer, so the client must cost as little
//! CPU as possible: requests are pre-rendered byte strings (written with one `write_all`), one
//! request is in flight per connection, and a response is parsed just enough to get the status,
//! `Content-Length` and `Connection: close`. Bodies must carry a `Content-Length` (axum's JSON
//! responses do); chunked or close-delimited bodies are refused as an error.

use std::{io, net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Largest response head or body the client accepts.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// One response: the status and the body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body (empty for 204).
    pub body: Vec<u8>,
}

impl Response {
    /// The `code` of a `{ code, message }` error body, if the body is one.
    pub fn error_code(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            code: String,
        }
        serde_json::from_slice::<ErrorBody>(&self.body).ok().map(|body| body.code)
    }
}

/// Renders a request with a JSON body (or none), ready to be written as is.
pub fn render_request(method: &str, host: &str, path: &str, json_body: Option<&[u8]>) -> Vec<u8> {
    let body = json_body.unwrap_or_default();
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    if json_body.is_some() {
        out.extend_from_slice(b"\r\nContent-Type: application/json");
    }
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Connection {
    /// Connects (with `TCP_NODELAY`), giving up after `timeout`.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(Self { stream, buf: Vec::with_capacity(4096), closed: false })
    }

    /// Whether the server asked to close the connection (it must not be reused).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Writes a pre-rendered request and reads its response.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<Response> {
        if self.closed {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the server closed it"));
        }
        self.stream.write_all(request).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        // Read until the end of the head.
        let head_end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                break end + 4;
            }
            if self.buf.len() > MAX_RESPONSE {
                return Err(invalid("response head too large"));
            }
            self.fill().await?;
        };
        let head = parse_head(&self.buf[..head_end])?;
        if head.close {
            self.closed = true;
        }
        let total = head_end + head.content_length;
        if head.content_length > MAX_RESPONSE {
            return Err(invalid("response body too large"));
        }
        while self.buf.len() < total {
            self.fill().await?;
        }
        let body = self.buf[head_end..total].to_vec();
        self.buf.drain(..total);
        Ok(Response { status: head.status, body })
    }

    async fn fill(&mut self) -> io::Result<()> {
        let len = self.buf.len();
        self.buf.resize(len + 8192, 0);
        let read = self.stream.read(&mut self.buf[len..]).await;
        match read {
            Ok(0) => {
                self.buf.truncate(len);
                self.closed = true;
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the server"))
            }
            Ok(n) => {
                self.buf.truncate(len + n);
                Ok(())
            }
            Err(error) => {
                self.buf.truncate(len);
                Err(error)
            }
        }
    }
}

/// What the client needs from a response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// `Content-Length` (0 if absent on a 204 or 304).
    pub content_length: usize,
    /// `Connection: close`.
    pub close: bool,
}

/// Parses a response head (status line and headers, ending with the blank line).
pub fn parse_head(head: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(invalid(format!("not an HTTP/1 response: {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut content_length = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            content_length =
                Some(value.parse().map_err(|_| invalid(format!("bad Content-Length {value:?}")))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid(format!("unsupported Transfer-Encoding {value:?}")));
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let content_length = match content_length {
        Some(length) => length,
        None if status == 204 || status == 304 || (100..200).contains(&status) => 0,
        None => return Err(invalid("response without Content-Length")),
    };
    Ok(Head { status, content_length, close })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// One request on a fresh connection (for the few non-load requests: status, health, checks).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<&[u8]>,
    timeout: Duration,
) -> io::Result<Response> {
    let mut connection = Connection::connect(addr, timeout).await?;
    let request = render_request(method, &addr.to_string(), path, json_body);
    tokio::time::timeout(timeout, connection.send(&request))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        let head = parse_head(
            b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n\
              content-length: 42\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head, Head { status: 202, content_length: 42, close: false });
        let head = parse_head(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!(head, Head { status: 204, content_length: 0, close: true });
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn renders_requests() {
        let request = render_request("POST", "127.0.0.1:1", "/v1/x", Some(b"{}"));
        assert_eq!(
            request,
            b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Type: application/json\r\n\
              Content-Length: 2\r\n\r\n{}"
        );
        let request = render_request("GET", "h", "/health", None);
        assert_eq!(request, b"GET /health HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn error_codes() {
        let response =
            Response { status: 409, body: br#"{"code":"nonce_replayed","message":"m"}"#.to_vec() };
        assert_eq!(response.error_code().as_deref(), Some("nonce_replayed"));
        assert_eq!(Response { status: 500, body: b"oops".to_vec() }.error_code(), None);
    }
}
