//! `kith healthcheck`: asks a server's `/healthz` over plain HTTP/1.0 and exits non-zero
//! unless it answers 200. The container image has no curl; this is its HEALTHCHECK.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `http://HOST:PORT[/...]` to an address; a wildcard listen address means this machine.
fn target(url: Option<&str>, listen: SocketAddr) -> Result<(String, SocketAddr), String> {
    let Some(url) = url else {
        let mut addr = listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        return Ok((addr.to_string(), addr));
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: give an http:// URL (TLS is the proxy's job)"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    let addr = host
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    Ok((host.to_string(), addr))
}

pub fn run(url: Option<&str>, listen: SocketAddr) -> Result<(), String> {
    let (host, addr) = target(url, listen)?;
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("no server at {addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(s, "GET /healthz HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.take(4096)
        .read_to_string(&mut answer)
        .map_err(|e| format!("{addr} did not answer: {e}"))?;
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        Err(format!(
            "{addr} answered {:?} to /healthz",
            answer.lines().next().unwrap_or("")
        ))
    }
}
