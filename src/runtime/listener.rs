//! Listening sockets, one per worker, all bound to the same address with
//! `SO_REUSEPORT` so the kernel spreads connections across cores.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Binds `count` listeners. Port 0 is resolved by the first; the rest join it.
pub fn bind_listeners(
    addr: SocketAddr,
    count: usize,
) -> std::io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    if addr.port() != 0 {
        // SO_REUSEPORT would let a second gateway on this port silently split
        // the traffic with the first: probe without it, and refuse if taken.
        let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        probe.set_reuse_address(true)?;
        probe.bind(&addr.into())?;
    }
    let mut listeners = Vec::with_capacity(count);
    let mut bound = addr;
    for _ in 0..count.max(1) {
        let socket = Socket::new(
            Domain::for_address(bound),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nodelay(true)?;
        socket.bind(&bound.into())?;
        socket.listen(4096)?;
        let std: std::net::TcpListener = socket.into();
        if bound.port() == 0 {
            bound = std.local_addr()?;
        }
        listeners.push(std);
    }
    Ok((bound, listeners))
}
