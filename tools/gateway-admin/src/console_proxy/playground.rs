//! The playground's calls through the proxy. On AWS the page cannot call the inference API or
//! the streaming Function URL itself (cross-origin, no CORS, no SigV4 in a browser), so the
//! proxy serves `/console/config.json` rewritten to point the page at its own origin under
//! [`INFERENCE_PREFIX`] and [`STREAM_PREFIX`], and forwards exactly three calls there, signed,
//! to the URLs the admin API's config named (or the `--inference-url` / `--stream-url` flags).

use std::sync::Mutex;

use gateway_model::GatewayError;
use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::Value;

use super::signer::Service;
use super::upstream::{Peer, Upstream};

/// The page's base for invoke and count (`config.json`'s `api_url`), on the proxy's origin.
pub const INFERENCE_PREFIX: &str = "/inference";
/// The page's base for stream-url (`config.json`'s `stream_url`), on the proxy's origin.
pub const STREAM_PREFIX: &str = "/stream";

/// The console's config, fetched from the admin API and rewritten.
pub const CONFIG_PATH: &str = "/console/config.json";

/// Largest playground request body: a pasted document fits (the admin routes keep 64 KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The header the functions read an API key from when `Authorization` carries a signature
/// (`inference_core::auth::web::key_from_headers`).
const KEY_HEADER: &str = "x-api-key";

/// The only calls forwarded under the two prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /inference/v1/models` (invoke).
    Models,
    /// `POST /inference/v1/estimate` (count).
    Estimate,
    /// `POST /stream/v1/chat/completions` (stream-url, streamed back as it arrives).
    ChatCompletions,
}

impl Route {
    /// `None` when `path` is under neither prefix (not the playground's); otherwise the route,
    /// or the 404 / 405 to answer.
    pub fn of(method: &Method, path: &str) -> Option<Result<Self, GatewayError>> {
        let (peer, rest) = if let Some(rest) = under(path, INFERENCE_PREFIX) {
            (Peer::Inference, rest)
        } else {
            (Peer::Stream, under(path, STREAM_PREFIX)?)
        };
        let route = match (peer, rest) {
            (Peer::Inference, "/v1/models") => Self::Models,
            (Peer::Inference, "/v1/estimate") => Self::Estimate,
            (Peer::Stream, "/v1/chat/completions") => Self::ChatCompletions,
            _ => {
                return Some(Err(GatewayError::not_found(format!(
                    "the console proxy forwards only GET {INFERENCE_PREFIX}/v1/models, POST \
                     {INFERENCE_PREFIX}/v1/estimate and POST {STREAM_PREFIX}/v1/chat/completions \
                     (no route {path})"
                ))));
            }
        };
        let wanted = route.method();
        Some(if method == wanted {
            Ok(route)
        } else {
            Err(GatewayError::method_not_allowed(format!(
                "{path} is {wanted} only"
            )))
        })
    }

    fn method(self) -> Method {
        match self {
            Self::Models => Method::GET,
            Self::Estimate | Self::ChatCompletions => Method::POST,
        }
    }

    /// The endpoint it goes to.
    pub fn peer(self) -> Peer {
        match self {
            Self::Models | Self::Estimate => Peer::Inference,
            Self::ChatCompletions => Peer::Stream,
        }
    }

    /// Its path there.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Self::Models => "/v1/models",
            Self::Estimate => "/v1/estimate",
            Self::ChatCompletions => "/v1/chat/completions",
        }
    }
}

/// `path` without `prefix`, when it is `prefix` or under it.
fn under<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// How the streaming Function URL is called.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamAuth {
    /// `AuthType: AWS_IAM` (the template's default): signed, service `lambda`.
    #[default]
    Iam,
    /// `AuthType: NONE` (`--stream-unsigned`): not signed, the page's `Authorization` as sent.
    None,
}

/// Where the playground's calls go: the flags' URLs, else those the admin API's
/// `config.json` named (learned the first time it is read).
#[derive(Default)]
pub struct Targets {
    inference_flag: Option<Upstream>,
    stream_flag: Option<Upstream>,
    stream_auth: StreamAuth,
    /// Accept `http://127.0.0.1:PORT` in config.json (tests' fake upstreams only).
    loopback_http: bool,
    learned: Mutex<Option<Learned>>,
}

/// The two URLs of the admin API's config.json (`None`: it had null).
#[derive(Clone, Default)]
struct Learned {
    inference: Option<Upstream>,
    stream: Option<Upstream>,
}

impl Targets {
    /// Targets with the flags' URLs (`None`: use config.json's).
    pub fn new(
        inference_flag: Option<Upstream>,
        stream_flag: Option<Upstream>,
        stream_auth: StreamAuth,
    ) -> Self {
        Self {
            inference_flag,
            stream_flag,
            stream_auth,
            ..Self::default()
        }
    }

    /// Also accept `http://127.0.0.1:PORT` in config.json: for tests against fake upstreams.
    pub fn allowing_loopback_http(mut self) -> Self {
        self.loopback_http = true;
        self
    }

    /// Whether config.json has been read (so [`Targets::target`] can answer).
    pub fn knows_config(&self) -> bool {
        (self.inference_flag.is_some() && self.stream_flag.is_some()) || self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Learned>> {
        self.learned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers the real URLs of the admin API's config.json and returns the page's:
    /// `api_url` and `stream_url` on the proxy's own origin (`local`), and `proxied: true` (the
    /// page then sends its token with these calls too). A URL a flag replaces is not read.
    pub fn rewrite(&self, local: &str, mut config: Value) -> Result<Value, GatewayError> {
        let read = |peer: Peer, flag: &Option<Upstream>, field: &str| match config
            .get(field)
            .and_then(Value::as_str)
        {
            Some(url) if flag.is_none() => {
                Upstream::parse_for(peer, url, self.loopback_http).map(Some)
            }
            _ => Ok(None),
        };
        let learned = Learned {
            inference: read(Peer::Inference, &self.inference_flag, "api_url")?,
            stream: read(Peer::Stream, &self.stream_flag, "stream_url")?,
        };
        *self.lock() = Some(learned);
        let object = config.as_object_mut().ok_or_else(|| {
            GatewayError::new(
                gateway_model::error::ErrorKind::UpstreamError,
                "the admin API's console/config.json is not a JSON object",
            )
        })?;
        object.insert(
            "api_url".into(),
            format!("http://{local}{INFERENCE_PREFIX}").into(),
        );
        object.insert(
            "stream_url".into(),
            format!("http://{local}{STREAM_PREFIX}").into(),
        );
        object.insert("proxied".into(), true.into());
        Ok(config)
    }

    /// Where `route` goes and how it is signed (`None`: not signed); 404 naming the flag when
    /// neither the flag nor config.json gives its URL.
    pub fn target(&self, route: Route) -> Result<(Upstream, Option<Service>), GatewayError> {
        let peer = route.peer();
        let (flag, learned, signing) = match peer {
            Peer::Stream => (
                &self.stream_flag,
                self.lock().as_ref().and_then(|l| l.stream.clone()),
                (self.stream_auth == StreamAuth::Iam).then_some(Service::Lambda),
            ),
            _ => (
                &self.inference_flag,
                self.lock().as_ref().and_then(|l| l.inference.clone()),
                Some(Service::ExecuteApi),
            ),
        };
        let upstream = flag.clone().or(learned).ok_or_else(|| {
            let (flag, output) = peer.flag();
            GatewayError::not_found(format!(
                "the console proxy does not know {}'s URL (the admin API's config.json has \
                 none): restart it with {flag} <the stack's {output} output>",
                peer.name()
            ))
        })?;
        Ok((upstream, signing))
    }
}

/// The headers sent on with a playground call. Signed: the page's `Authorization: Bearer
/// <key>` moves to `x-api-key` (SigV4 takes `Authorization`); unsigned: it passes as sent.
pub fn request_headers(page: &HeaderMap, signed: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = page.get(&name) {
            out.insert(name, v.clone());
        }
    }
    let Some(auth) = page.get(header::AUTHORIZATION) else {
        return out;
    };
    if !signed {
        out.insert(header::AUTHORIZATION, auth.clone());
        return out;
    }
    let key = auth.to_str().ok().and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        out.insert(KEY_HEADER, v);
    }
    out
}

/// Answer headers passed back to the page from a playground call: the common ones, the API
/// key's refusal and rate headers, and the gateway's own `x-gateway-*` (cost, model, ...).
pub fn passes_back(name: &str) -> bool {
    name == "www-authenticate" || name.starts_with("x-gateway-") || name.starts_with("x-ratelimit-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_routes_under_the_prefixes() {
        let of = |m: Method, p: &str| Route::of(&m, p).map(|r| r.map_err(|e| e.status()));
        assert_eq!(
            of(Method::GET, "/inference/v1/models"),
            Some(Ok(Route::Models))
        );
        assert_eq!(
            of(Method::POST, "/stream/v1/chat/completions"),
            Some(Ok(Route::ChatCompletions))
        );
        assert_eq!(
            of(Method::POST, "/inference/v1/chat/completions")
                .unwrap()
                .unwrap_err(),
            http::StatusCode::NOT_FOUND
        );
        assert_eq!(
            of(Method::GET, "/inference/v1/estimate")
                .unwrap()
                .unwrap_err(),
            http::StatusCode::METHOD_NOT_ALLOWED
        );
        assert!(of(Method::GET, "/inferencex/v1/models").is_none());
        assert!(of(Method::GET, "/v1/models").is_none());
    }

    #[test]
    fn the_key_moves_to_x_api_key_only_when_signed() {
        let mut page = HeaderMap::new();
        page.insert(header::AUTHORIZATION, "Bearer gwk_abc".parse().unwrap());
        page.insert(header::COOKIE, "a=b".parse().unwrap());
        let signed = request_headers(&page, true);
        assert_eq!(signed[KEY_HEADER], "gwk_abc");
        assert!(signed.get(header::AUTHORIZATION).is_none());
        assert!(signed.get(header::COOKIE).is_none());
        let unsigned = request_headers(&page, false);
        assert_eq!(unsigned[header::AUTHORIZATION], "Bearer gwk_abc");
        assert!(unsigned.get(KEY_HEADER).is_none());
    }
}
