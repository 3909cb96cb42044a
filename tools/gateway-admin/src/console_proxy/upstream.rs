//! The endpoints the proxy forwards to: the admin API (an `https://` base URL, the stack's
//! `AdminApiUrl` output or just its origin), and for the playground the inference HTTP API and
//! stream-url's Function URL.

use gateway_model::GatewayError;

/// Which endpoint a request goes to (named in errors and in the flags that set it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// The admin API: `/console...`, `/v1/admin/...`.
    Admin,
    /// The inference HTTP API: invoke's `/v1/models`, count's `/v1/estimate`.
    Inference,
    /// stream-url's Function URL: `/v1/chat/completions`.
    Stream,
}

impl Peer {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "the admin API",
            Self::Inference => "the inference API",
            Self::Stream => "the streaming Function URL",
        }
    }

    /// The flag that gives its URL, and the stack output to pass there.
    pub fn flag(self) -> (&'static str, &'static str) {
        match self {
            Self::Admin => ("--api-url", "AdminApiUrl"),
            Self::Inference => ("--inference-url", "ApiUrl"),
            Self::Stream => ("--stream-url", "StreamUrl"),
        }
    }
}

/// Where signed requests go: `scheme://host[:port]` plus an optional path prefix (a stage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    origin: String,
    prefix: String,
}

impl Upstream {
    /// An `https://` admin API URL. The `AdminApiUrl` output ends in `/v1/admin/keys`: that
    /// route is dropped, so the output can be pasted as it is.
    pub fn parse(url: &str) -> Result<Self, GatewayError> {
        Self::parse_for(Peer::Admin, url, false)
    }

    /// As [`Upstream::parse`], and `http://127.0.0.1:PORT` too: for tests against a fake
    /// upstream on this machine (credentials never travel unencrypted to another host).
    pub fn parse_allowing_loopback_http(url: &str) -> Result<Self, GatewayError> {
        Self::parse_for(Peer::Admin, url, true)
    }

    /// The URL of `peer` (`loopback_http`: `http://127.0.0.1:PORT` too, for tests).
    pub fn parse_for(peer: Peer, url: &str, loopback_http: bool) -> Result<Self, GatewayError> {
        let bad = || {
            let (flag, output) = peer.flag();
            GatewayError::invalid_request(format!(
                "{flag} must be {}'s https:// URL (the stack's {output}), got {url:?}",
                peer.name()
            ))
        };
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let host_ok = !authority.is_empty()
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
        let loopback = authority == "127.0.0.1" || authority.starts_with("127.0.0.1:");
        let scheme_ok = scheme == "https" || (scheme == "http" && loopback_http && loopback);
        if !host_ok || !scheme_ok || path.contains(['?', '#']) {
            return Err(bad());
        }
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix("/v1/admin/keys").unwrap_or(path);
        Ok(Self {
            origin: format!("{scheme}://{}", authority.to_ascii_lowercase()),
            prefix: path.to_owned(),
        })
    }

    /// The region in an API Gateway host name (`ID.execute-api.REGION.amazonaws.com[.cn]`).
    pub fn region_in_host(&self) -> Option<String> {
        let host = self.origin.split_once("://")?.1;
        let host = host.split(':').next()?;
        let labels: Vec<&str> = host.split('.').collect();
        match labels.as_slice() {
            [_, "execute-api", region, "amazonaws", "com", ..] if !region.is_empty() => {
                Some((*region).to_owned())
            }
            _ => None,
        }
    }

    /// The upstream URL of a proxied path and query (`path` starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}{}", self.origin, self.prefix, path_and_query)
    }

    /// `scheme://host[:port]`, for the banner.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_output_and_its_origin_give_the_same_upstream() {
        let a = Upstream::parse("https://abc.execute-api.eu-west-1.amazonaws.com/v1/admin/keys")
            .unwrap();
        let b = Upstream::parse("https://abc.execute-api.eu-west-1.amazonaws.com/").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.url("/console/?x=1"),
            "https://abc.execute-api.eu-west-1.amazonaws.com/console/?x=1"
        );
        assert_eq!(a.region_in_host().as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn only_https_or_loopback_http_in_tests() {
        assert!(Upstream::parse("http://abc.execute-api.eu-west-1.amazonaws.com").is_err());
        assert!(Upstream::parse("http://127.0.0.1:9000").is_err());
        assert!(Upstream::parse_allowing_loopback_http("http://127.0.0.1:9000").is_ok());
        assert!(Upstream::parse_allowing_loopback_http("http://10.0.0.1:9000").is_err());
        assert!(Upstream::parse("https://a.example/x?y").is_err());
        assert!(Upstream::parse("https://user@a.example").is_err());
        assert!(Upstream::parse("abc").is_err());
        assert_eq!(
            Upstream::parse("https://a.example")
                .unwrap()
                .region_in_host(),
            None
        );
    }
}
