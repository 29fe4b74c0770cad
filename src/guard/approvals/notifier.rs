//! Tells approvers a call is waiting: one background thread POSTs each new
//! approval as JSON to a configured webhook, with a timeout and one retry.
//! The caller only queues: a full queue drops the notice and counts it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use serde::Serialize;

use super::entry::View;
use crate::upstream::{BaseUrl, Origin};

/// Notices waiting to be sent; beyond this they are dropped, not queued.
const QUEUE: usize = 1024;

/// Enough of an answer to read its status line.
const MAX_STATUS_LINE: usize = 1024;

/// What the webhook receives for each pending approval.
#[derive(Serialize)]
struct Notice<'a> {
    id: &'a str,
    tool: &'a str,
    key_id: Option<&'a str>,
    arguments: &'a str,
    expires_at: u64,
    policy_version: &'a str,
}

/// What happened to the notices so far.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// The webhook notifier. Dropping it ends its thread once the queue drains.
pub struct Notifier {
    queue: SyncSender<Vec<u8>>,
    counts: Arc<Counts>,
}

impl Notifier {
    /// Starts the thread that POSTs to `url` (http://, or https:// through
    /// the gateway's rustls client config), each attempt bounded by `timeout`.
    pub fn start(url: &str, timeout: Duration) -> Result<Notifier, String> {
        let target = Origin::parse_base_url(url)?;
        let (queue, notices) = sync_channel(QUEUE);
        let counts = Arc::new(Counts::default());
        let thread_counts = counts.clone();
        std::thread::Builder::new()
            .name("tollgate-approvals-webhook".into())
            .spawn(move || deliver_all(&target, timeout, notices, &thread_counts))
            .map_err(|e| format!("cannot start the approval webhook thread: {e}"))?;
        Ok(Notifier { queue, counts })
    }

    /// Queues a notice of `approval`; never blocks.
    pub fn notify(&self, approval: &View) {
        let notice = Notice {
            id: &approval.id,
            tool: &approval.tool,
            key_id: approval.key_id.as_deref(),
            arguments: &approval.arguments,
            expires_at: approval.expires_at,
            policy_version: &approval.policy_version,
        };
        let Ok(body) = simd_json::serde::to_vec(&notice) else {
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match self.queue.try_send(body) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Notices delivered (a 2xx answer).
    pub fn sent(&self) -> u64 {
        self.counts.sent.load(Ordering::Relaxed)
    }

    /// Notices that failed twice.
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Notices dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }
}

fn deliver_all(target: &BaseUrl, timeout: Duration, notices: Receiver<Vec<u8>>, counts: &Counts) {
    for body in notices {
        let delivered = post(target, &body, timeout).or_else(|_| post(target, &body, timeout));
        match delivered {
            Ok(()) => counts.sent.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                // The error names the transport failure only, never the notice.
                eprintln!("tollgate: approvals: webhook delivery failed twice: {e}");
                counts.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// One POST of `body`; `Ok` on a 2xx answer.
fn post(target: &BaseUrl, body: &[u8], timeout: Duration) -> io::Result<()> {
    let mut stream = connect(&target.origin, timeout)?;
    let path = if target.path.is_empty() {
        "/"
    } else {
        &target.path
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nuser-agent: tollgate\r\n\r\n",
        target.host_header,
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    match status_of(&mut stream)? {
        200..=299 => Ok(()),
        status => Err(io::Error::other(format!("the webhook answered {status}"))),
    }
}

/// A connected stream with every read and write bounded by `timeout`.
fn connect(origin: &Origin, timeout: Duration) -> io::Result<Box<dyn ReadWrite>> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the webhook host");
    for addr in origin.resolve()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                tcp.set_read_timeout(Some(timeout))?;
                tcp.set_write_timeout(Some(timeout))?;
                if !origin.tls {
                    return Ok(Box::new(tcp));
                }
                let name = ServerName::try_from(origin.host.to_string())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let conn = ClientConnection::new(crate::tls::client_config(), name)
                    .map_err(io::Error::other)?;
                return Ok(Box::new(StreamOwned::new(conn, tcp)));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The status code of the answer's status line.
fn status_of(stream: &mut dyn ReadWrite) -> io::Result<u16> {
    let mut buf = Vec::with_capacity(256);
    let mut piece = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        if buf.len() > MAX_STATUS_LINE {
            return Err(io::Error::other("the webhook's status line is too long"));
        }
        match stream.read(&mut piece)? {
            0 => return Err(io::Error::other("the webhook closed without answering")),
            n => buf.extend_from_slice(&piece[..n]),
        }
    }
    parse_status(&buf).ok_or_else(|| io::Error::other("the webhook's answer is not HTTP"))
}

fn parse_status(buf: &[u8]) -> Option<u16> {
    let rest = buf.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::approvals::{Event, State};
    use std::io::BufRead;
    use std::net::TcpListener;

    fn pending() -> View {
        View {
            id: "apr_1".into(),
            tool: "delete_file".into(),
            key_id: Some("key_a".into()),
            arguments: r#"{"path":"/srv/x"}"#.into(),
            args_digest: "sha256:00".into(),
            policy_version: "v1".into(),
            created_at: 1,
            expires_at: 60_001,
            state: State::Pending,
            decided_by: None,
            reason: None,
            events: vec![Event {
                what: "created",
                who: None,
                at_ms: 1,
            }],
        }
    }

    /// Accepts one connection, answers `status`, and returns the request.
    fn answer_once(listener: &TcpListener, status: &str) -> (String, Vec<u8>) {
        let (conn, _) = listener.accept().unwrap();
        let mut reader = io::BufReader::new(conn);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut conn = reader.into_inner();
        write!(conn, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").unwrap();
        (head, body)
    }

    fn wait_for(notifier: &Notifier, what: impl Fn(&Notifier) -> u64) {
        // Bounded by the notifier's own timeouts; no timing is asserted.
        for _ in 0..2000 {
            if what(notifier) > 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the notifier did not report");
    }

    #[test]
    fn posts_the_pending_approval_as_json() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/approvals", listener.local_addr().unwrap());
        let notifier = Notifier::start(&url, Duration::from_secs(5)).unwrap();
        notifier.notify(&pending());
        let (head, mut body) = answer_once(&listener, "204 No Content");
        assert!(
            head.starts_with("POST /hooks/approvals HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("content-type: application/json"));
        let v: simd_json::OwnedValue = simd_json::to_owned_value(&mut body).unwrap();
        let expected: simd_json::OwnedValue = simd_json::json!({
            "id": "apr_1", "tool": "delete_file", "key_id": "key_a",
            "arguments": "{\"path\":\"/srv/x\"}", "expires_at": 60_001, "policy_version": "v1"
        });
        assert_eq!(v, expected);
        wait_for(&notifier, Notifier::sent);
        assert_eq!((notifier.failed(), notifier.dropped()), (0, 0));
    }

    #[test]
    fn retries_once_after_a_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let notifier = Notifier::start(&url, Duration::from_secs(5)).unwrap();
        notifier.notify(&pending());
        let (first, _) = answer_once(&listener, "503 Service Unavailable");
        let (second, _) = answer_once(&listener, "200 OK");
        assert!(first.starts_with("POST / HTTP/1.1"));
        assert_eq!(first, second);
        wait_for(&notifier, Notifier::sent);
        assert_eq!(notifier.failed(), 0);
    }

    #[test]
    fn counts_a_notice_that_fails_twice() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let notifier = Notifier::start(&url, Duration::from_secs(5)).unwrap();
        notifier.notify(&pending());
        answer_once(&listener, "500 Internal Server Error");
        answer_once(&listener, "500 Internal Server Error");
        wait_for(&notifier, Notifier::failed);
        assert_eq!(notifier.sent(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        // Nobody accepts: the thread is stuck on its first notice (bounded by
        // the timeout), so the queue fills and the rest are dropped.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let notifier = Notifier::start(&url, Duration::from_secs(30)).unwrap();
        for _ in 0..QUEUE + 10 {
            notifier.notify(&pending());
        }
        assert!(notifier.dropped() >= 9, "dropped {}", notifier.dropped());
    }

    #[test]
    fn refuses_urls_it_cannot_post_to() {
        for bad in ["ftp://x", "http://", "hooks.example.com/x"] {
            assert!(
                Notifier::start(bad, Duration::from_secs(1)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_status_lines() {
        let table: [(&[u8], Option<u16>); 5] = [
            (b"HTTP/1.1 204 No Content\r\n", Some(204)),
            (b"HTTP/1.0 500 x\r\n", Some(500)),
            (b"HTTP/1.1 20x\r\n", None),
            (b"SSH-2.0\r\n", None),
            (b"HTTP/1.1\r\n", None),
        ];
        for (line, status) in table {
            assert_eq!(parse_status(line), status, "{line:?}");
        }
    }
}
