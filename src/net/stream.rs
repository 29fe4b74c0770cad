//! `MaybeTls`: a TCP stream, or a TLS session over one (client or server
//! side), with the owned-buffer I/O traits delegated to whichever it is.

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;

pub enum MaybeTls<S> {
    Plain(TcpStream),
    Tls(Box<S>),
}

impl<S> MaybeTls<S> {
    /// Resolves once the peer has really gone (a reset or socket error); stays
    /// pending while it is connected (pipelined bytes are left unread for the
    /// connection loop). End of input is not departure: a client may
    /// half-close after a complete request and still read the answer, so
    /// after EOF only a socket error counts; a peer that closed both ways
    /// shows when a write fails. Only plain TCP is watched: TLS records
    /// cannot be peeked without consuming them.
    pub async fn closed(&self) {
        self.watch(false).await
    }

    /// Like [`closed`](Self::closed), but end of input counts as gone: for
    /// a peer that never half-closes (the mock upstream's caller).
    pub async fn input_ended(&self) {
        self.watch(true).await
    }

    async fn watch(&self, eof_is_gone: bool) {
        let MaybeTls::Plain(tcp) = self else {
            return std::future::pending().await;
        };
        loop {
            if tcp.readable(false).await.is_err() {
                return;
            }
            match peek(tcp) {
                Peek::Failed => return,
                Peek::Eof if eof_is_gone => return,
                Peek::Eof => return watch_errors(tcp).await,
                Peek::Data => return std::future::pending().await,
                Peek::Nothing => {
                    // Spurious readiness: wait again, without spinning.
                    monoio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        }
    }
}

/// After EOF the socket stays readable for good, so readiness says nothing:
/// look for a pending error (a reset) now and then instead.
async fn watch_errors(tcp: &TcpStream) {
    use std::os::fd::AsRawFd;
    loop {
        monoio::time::sleep(std::time::Duration::from_millis(250)).await;
        let mut pfd = libc::pollfd {
            fd: tcp.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd for a socket we own, without waiting.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        if n > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return;
        }
    }
}

enum Peek {
    /// The peer sent FIN: it may still be reading.
    Eof,
    Failed,
    Data,
    Nothing,
}

fn peek(tcp: &TcpStream) -> Peek {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: recv into a valid one-byte buffer on a socket we own; MSG_PEEK
    // leaves the data in the socket and MSG_DONTWAIT keeps the loop unblocked.
    let n = unsafe {
        libc::recv(
            tcp.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Peek::Eof,
        n if n > 0 => Peek::Data,
        _ => match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Peek::Nothing,
            _ => Peek::Failed,
        },
    }
}

impl<S: AsyncReadRent> AsyncReadRent for MaybeTls<S> {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            MaybeTls::Plain(s) => s.read(buf).await,
            MaybeTls::Tls(s) => s.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            MaybeTls::Plain(s) => s.readv(buf).await,
            MaybeTls::Tls(s) => s.readv(buf).await,
        }
    }
}

impl<S: AsyncWriteRent> AsyncWriteRent for MaybeTls<S> {
    async fn write<T: IoBuf>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            MaybeTls::Plain(s) => s.write(buf).await,
            MaybeTls::Tls(s) => s.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            MaybeTls::Plain(s) => s.writev(buf).await,
            MaybeTls::Tls(s) => s.writev(buf).await,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            MaybeTls::Plain(s) => s.flush().await,
            MaybeTls::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            MaybeTls::Plain(s) => s.shutdown().await,
            MaybeTls::Tls(s) => s.shutdown().await,
        }
    }
}
