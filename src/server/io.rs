//! A client connection's byte stream: plain TCP, or TLS terminated here.

use monoio::net::TcpStream;
use monoio_rustls::ServerTlsStream;

pub type ClientIo = crate::net::MaybeTls<ServerTlsStream<TcpStream>>;
