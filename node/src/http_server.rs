//! The HTTP API's server: hyper's HTTP/1.1 connections under the node's own accept loop, so
//! that no client can hold the node's connections, memory or tasks without sending requests
//! (docs/ARCHITECTURE.md "HTTP API"). `axum::serve` set no timeout at all: idle and half-sent
//! connections stayed open for ever.
//!
//! - A connection that has not sent a whole request head within `header_read_timeout` is
//!   closed. hyper starts that timer whenever it waits for a head, so it closes half-sent
//!   heads and idle keep-alive connections alike (an answer being streamed, such as
//!   `/v1/events`, is not waiting for a head).
//! - A request body not received within `body_read_timeout` is refused with 408.
//! - At most `connections_max` connections are served at once; one more is answered 503 and
//!   closed, so accepting never stops and the node's file descriptors stay bounded.
//! - The few answers hyper writes itself, before any route sees a request (400 for a head it
//!   cannot parse, 414 for a URI over 64 KiB, 431 for a head over its buffer), are rewritten
//!   as problem+json like every other error ([`ProblemIo`]).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::api::Problem;

/// How the server bounds its clients (`[http]` in the node's configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub connections_max: usize,
}

/// Serves `app` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, app: Router, limits: HttpLimits) {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_read_timeout));
    let slots = Arc::new(Semaphore::new(limits.connections_max));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors or a connection reset before it was accepted: the
                // listener itself is fine; wait a little rather than spin.
                tracing::warn!(%error, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, connections_max = limits.connections_max, "HTTP connection refused: too many");
            tokio::spawn(refuse_busy(stream, limits.connections_max));
            continue;
        };
        let connection = builder
            .serve_connection(TokioIo::new(ProblemIo::new(stream)), TowerToHyperService::new(app.clone()));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "HTTP connection ended");
            }
            drop(slot);
        });
    }
}

/// Answers a connection over the limit with 503 and closes it, without reading its request.
async fn refuse_busy(mut stream: TcpStream, connections_max: usize) {
    let problem = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "Too many connections",
        format!("the node serves at most {connections_max} HTTP connections at once; try again"),
    );
    let answer = problem_response(&problem, &["retry-after: 1"]);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer)).await;
}

/// A whole HTTP/1.1 answer carrying `problem`, closing the connection.
fn problem_response(problem: &Problem, extra_headers: &[&str]) -> Vec<u8> {
    let body = problem.document().to_string();
    let status = problem.status();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        crate::api::PROBLEM_JSON,
        body.len()
    );
    for header in extra_headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut answer = head.into_bytes();
    answer.extend_from_slice(body.as_bytes());
    answer
}

/// The problem for an error answer hyper wrote itself (no body, no content type), by status.
fn problem_for_bare(status: StatusCode) -> Problem {
    let (kind, detail) = match status {
        StatusCode::URI_TOO_LONG => {
            ("uri-too-long", "the request URI is longer than 65,534 bytes".to_owned())
        }
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("head-too-large", "the request line and headers are larger than the server's buffer".to_owned())
        }
        StatusCode::BAD_REQUEST => {
            ("malformed-request", "the request is not well-formed HTTP/1.1".to_owned())
        }
        other => ("http", format!("the request could not be read ({other})")),
    };
    Problem::new(status, kind, status.canonical_reason().unwrap_or("HTTP error"), detail)
}

/// If `bytes` are a whole error answer without a body or content type, as hyper writes for a
/// request it could not read, the status; `None` for anything else (every answer of ours
/// has a body and a content type).
fn bare_error_status(bytes: &[u8]) -> Option<StatusCode> {
    let rest = bytes.strip_prefix(b"HTTP/1.1 ")?;
    let code = std::str::from_utf8(rest.get(..3)?).ok()?.parse::<u16>().ok()?;
    let status = StatusCode::from_u16(code).ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let end = bytes.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
    if end != bytes.len() {
        return None; // a body follows: not a bare answer
    }
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let bare = head.contains("\r\ncontent-length: 0\r\n") && !head.contains("\r\ncontent-type:");
    bare.then_some(status)
}

/// A TCP stream whose bare error answers (see [`bare_error_status`]) are replaced by
/// problem+json on the way out. hyper writes such an answer in one buffer and closes the
/// connection after it, so the replacement, however long, ends the stream.
struct ProblemIo {
    stream: TcpStream,
    /// A replacement answer still to be written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl ProblemIo {
    fn new(stream: TcpStream) -> ProblemIo {
        ProblemIo { stream, pending: None }
    }

    /// Writes what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((answer, written)) = &mut self.pending {
            if *written == answer.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.stream).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ProblemIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProblemIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.pending.is_some() {
            // Nothing follows a replaced answer but the close; finish it first.
            std::task::ready!(self.poll_pending(cx))?;
        }
        if let Some(status) = bare_error_status(buf) {
            let answer = problem_response(&problem_for_bare(status), &[]);
            self.pending = Some((answer, 0));
            // The replacement is written by poll_pending (here or at flush); hyper counts its
            // own bytes as written.
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes an answer's head and body as one buffer, which is what
    // `bare_error_status` looks at.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_error_answers_without_a_content_type_are_bare() {
        let hyper_414 =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 19:00:00 GMT\r\n\r\n";
        assert_eq!(bare_error_status(hyper_414), Some(StatusCode::URI_TOO_LONG));
        let with_type =
            b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error_status(with_type), None, "an answer of ours keeps its content type");
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(bare_error_status(with_body), None);
        let success = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error_status(success), None, "only errors are rewritten");
        assert_eq!(bare_error_status(b"HTTP/1.1 431 Request"), None, "a head cut short");
        assert_eq!(bare_error_status(b"{\"a\":1}"), None);
    }

    #[test]
    fn a_rewritten_answer_is_problem_json_with_its_length() {
        let answer = problem_response(&problem_for_bare(StatusCode::URI_TOO_LONG), &[]);
        let text = String::from_utf8(answer).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/problem+json"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let document: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(document["status"], 414);
        assert_eq!(document["type"], "urn:tally:problem:uri-too-long");
    }
}
