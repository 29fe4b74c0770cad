//! One upstream connection's byte stream: plain TCP or TLS over TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use monoio::net::TcpStream;
use monoio_rustls::{ClientTlsStream, TlsConnector};
use rustls::pki_types::ServerName;

use super::Origin;
use crate::net::MaybeTls;

pub type Transport = MaybeTls<ClientTlsStream<TcpStream>>;

impl MaybeTls<ClientTlsStream<TcpStream>> {
    pub async fn connect(
        origin: &Origin,
        addrs: &[SocketAddr],
        timeout: Duration,
        tls: &Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Self> {
        let mut last =
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address for upstream host");
        for addr in addrs {
            match monoio::time::timeout(timeout, TcpStream::connect_addr(*addr)).await {
                Ok(Ok(tcp)) => {
                    tcp.set_nodelay(true)?;
                    if !origin.tls {
                        return Ok(MaybeTls::Plain(tcp));
                    }
                    let name = ServerName::try_from(origin.host.to_string())
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                    let connector = TlsConnector::from(tls.clone());
                    let tls = monoio::time::timeout(timeout, connector.connect(name, tcp))
                        .await
                        .map_err(|_| {
                            std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "TLS handshake timed out",
                            )
                        })?
                        .map_err(std::io::Error::other)?;
                    return Ok(MaybeTls::Tls(Box::new(tls)));
                }
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
                }
            }
        }
        Err(last)
    }
}
