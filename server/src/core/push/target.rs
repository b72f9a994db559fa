//! Which push services Kith may call. A push resource is a URL a device hands Kith, so it
//! could point into the server's own network; only HTTPS on public addresses is reached,
//! unless an admin trusts the host (`push.trusted_hosts`). Names are checked when they are
//! resolved, by the HTTP client's own resolver, so the address checked is the one connected
//! to.

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Whether an address is on the public internet (not loopback, private, link-local, ...).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT; 0.0.0.0/8.
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The admin's trusted push hosts.
#[derive(Clone, Debug, Default)]
pub struct Trusted(Arc<Vec<String>>);

impl Trusted {
    pub fn new(hosts: &[String]) -> Trusted {
        Trusted(Arc::new(
            hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
        ))
    }

    fn host(&self, host: &str) -> bool {
        self.0.iter().any(|t| t == host)
    }

    /// Whether `url`'s host (or host:port) is trusted.
    fn url(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.host(&host)
            || url
                .port_or_known_default()
                .is_some_and(|p| self.host(&format!("{host}:{p}")))
    }

    /// Checks a push resource a device sent: the reason it may not be used, if any.
    pub fn check(&self, push_resource: &str) -> Result<Url, String> {
        let url =
            Url::parse(push_resource).map_err(|_| "the push resource is not a URL".to_string())?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the push resource may not carry credentials".into());
        }
        let trusted = self.url(&url);
        match url.scheme() {
            "https" => {}
            "http" if trusted => {}
            _ => return Err("the push resource must be an https URL".into()),
        }
        let Some(host) = url.host_str() else {
            return Err("the push resource has no host".into());
        };
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>()
            && !trusted
            && !is_public(ip)
        {
            return Err("the push resource is on a private network".into());
        }
        if !trusted && (host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost")) {
            return Err("the push resource is on a private network".into());
        }
        Ok(url)
    }
}

/// The push client's resolver: names resolve only to public addresses, unless trusted.
pub struct PublicOnly(pub Trusted);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let trusted =
            self.0.host(&host) || self.0.0.iter().any(|t| t.starts_with(&format!("{host}:")));
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| trusted || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the push service's name resolves to no public address".into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_is_reached_unless_trusted() {
        let none = Trusted::new(&[]);
        assert!(none.check("https://up.example.net/abc").is_ok());
        assert!(none.check("http://up.example.net/abc").is_err());
        assert!(none.check("https://127.0.0.1/x").is_err());
        assert!(none.check("https://[::1]/x").is_err());
        assert!(none.check("https://10.1.2.3/x").is_err());
        assert!(none.check("https://169.254.169.254/latest").is_err());
        assert!(none.check("https://[fd00::1]/x").is_err());
        assert!(none.check("https://[::ffff:192.168.1.1]/x").is_err());
        assert!(none.check("https://localhost/x").is_err());
        assert!(none.check("https://user:pw@up.example.net/").is_err());
        assert!(none.check("ftp://up.example.net/").is_err());
        assert!(none.check("https://8.8.8.8/x").is_ok());
        let lan = Trusted::new(&["127.0.0.1:8080".into(), "push.lan".into()]);
        assert!(lan.check("http://127.0.0.1:8080/x").is_ok());
        assert!(lan.check("http://127.0.0.1:8081/x").is_err());
        assert!(lan.check("http://push.lan/x").is_ok());
    }
}
