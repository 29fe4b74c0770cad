//! A client connection's byte stream: plain TCP, or TLS terminated here.

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio_rustls::ServerTlsStream;

pub enum ClientIo {
    Plain(TcpStream),
    Tls(Box<ServerTlsStream<TcpStream>>),
}

impl AsyncReadRent for ClientIo {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.read(buf).await,
            ClientIo::Tls(s) => s.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.readv(buf).await,
            ClientIo::Tls(s) => s.readv(buf).await,
        }
    }
}

impl AsyncWriteRent for ClientIo {
    async fn write<T: IoBuf>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.write(buf).await,
            ClientIo::Tls(s) => s.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> monoio::BufResult<usize, T> {
        match self {
            ClientIo::Plain(s) => s.writev(buf).await,
            ClientIo::Tls(s) => s.writev(buf).await,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ClientIo::Plain(s) => s.flush().await,
            ClientIo::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            ClientIo::Plain(s) => s.shutdown().await,
            ClientIo::Tls(s) => s.shutdown().await,
        }
    }
}
