//! `gateway-admin`: issue, list and revoke the gateway's API keys and set their limits, straight
//! against the keys table (IAM decides who may run it: see docs/auth.md). The key is printed
//! once, at issue; only its SHA-256 is stored. `console` serves the console on AWS to the
//! operator's browser through a loopback SigV4 signing proxy (`gateway_admin::console_proxy`).

use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};
use gateway_stores::admin::{KeyAdmin, NewKey};
use gateway_stores::auth::LimitsUpdate;
use inference_core::auth::KeyId;
use inference_core::auth::KeyRecord;
use inference_core::auth::Limits;
use inference_core::auth::report::UsageQuery;
use inference_core::tier::Tier;
use rust_decimal::Decimal;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "gateway-admin",
    about = "Manage the gateway's API keys (DynamoDB); open the console on AWS"
)]
struct Cli {
    /// The keys table (every command but `console`).
    #[arg(long, env = "GATEWAY_KEYS_TABLE")]
    keys_table: Option<String>,
    /// The usage table (for `usage`).
    #[arg(long, env = "GATEWAY_USAGE_TABLE")]
    usage_table: Option<String>,
    /// DynamoDB endpoint (moto locally); default: the SDK's (`AWS_ENDPOINT_URL_DYNAMODB`).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Issue a key: the key is printed once and never stored.
    Issue {
        /// Team or application the key belongs to.
        #[arg(long)]
        owner: String,
        /// A model the key may call (ID, alias or pattern with `*`); repeat; none: all.
        #[arg(long = "model")]
        models: Vec<String>,
        /// May read every key's usage.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// List keys (IDs, owners, limits; never keys).
    List,
    /// Revoke a key (refused everywhere within GATEWAY_KEY_CACHE_SECONDS).
    Revoke {
        /// The key's ID (`key_...`).
        key_id: String,
    },
    /// Change a key's limits or models (`none` removes a limit).
    Limits {
        /// The key's ID (`key_...`).
        key_id: String,
        #[command(flatten)]
        limits: LimitArgs,
        /// Allowed models, comma-separated; `all` for every model the deployment allows.
        #[arg(long)]
        models: Option<String>,
    },
    /// Usage by day and model, as `GET /v1/admin/usage` reports it (needs --usage-table).
    Usage {
        /// One key; default: all.
        #[arg(long)]
        key_id: Option<String>,
        /// First UTC day (YYYY-MM-DD); default: the first of this month.
        #[arg(long)]
        from: Option<String>,
        /// Last UTC day (YYYY-MM-DD); default: today.
        #[arg(long)]
        to: Option<String>,
    },
    /// Open the console on AWS: a proxy on 127.0.0.1 that signs the page's requests (SigV4,
    /// your credentials) to the admin API, and the playground's to the inference API and the
    /// streaming Function URL; prints the URL to open.
    Console(ConsoleArgs),
}

/// `console`'s flags.
#[derive(Args, Debug)]
struct ConsoleArgs {
    /// The admin API: the stack's `AdminApiUrl` output, or its `https://` origin.
    #[arg(long)]
    api_url: String,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Region to sign for; default: the one in the API's host name, else the SDK's.
    #[arg(long)]
    region: Option<String>,
    #[command(flatten)]
    playground: PlaygroundArgs,
}

/// Where `console` sends the playground's calls (default: the URLs the console's config.json
/// names, which the template sets).
#[derive(Args, Debug, Default)]
struct PlaygroundArgs {
    /// The inference HTTP API (the stack's `ApiUrl` output), signed (service execute-api).
    #[arg(long)]
    inference_url: Option<String>,
    /// stream-url's Function URL (the stack's `StreamUrl` output).
    #[arg(long)]
    stream_url: Option<String>,
    /// Call the Function URL unsigned, with the page's `Authorization: Bearer <key>`
    /// (`StreamUrlAuthType=NONE`); default: signed, service lambda (`AWS_IAM`).
    #[arg(long)]
    stream_unsigned: bool,
}

impl PlaygroundArgs {
    fn targets(&self) -> Result<gateway_admin::console_proxy::Targets, String> {
        use gateway_admin::console_proxy::{Peer, StreamAuth, Targets, Upstream};
        let parse = |peer: Peer, url: &Option<String>| {
            url.as_deref()
                .map(|u| Upstream::parse_for(peer, u, false))
                .transpose()
                .map_err(|e| e.message().to_owned())
        };
        let auth = if self.stream_unsigned {
            StreamAuth::None
        } else {
            StreamAuth::Iam
        };
        Ok(Targets::new(
            parse(Peer::Inference, &self.inference_url)?,
            parse(Peer::Stream, &self.stream_url)?,
            auth,
        ))
    }
}

#[derive(Args, Debug, Default)]
struct LimitArgs {
    /// USD per UTC day (`none`: no limit).
    #[arg(long)]
    budget_day: Option<String>,
    /// USD per UTC month (`none`: no limit).
    #[arg(long)]
    budget_month: Option<String>,
    /// Requests per minute (`none`: no limit).
    #[arg(long)]
    rpm: Option<String>,
    /// Tokens per minute, input + maxTokens (`none`: no limit).
    #[arg(long)]
    tpm: Option<String>,
    /// Streams open at once (`none`: the deployment's default, GATEWAY_DEFAULT_MAX_STREAMS).
    #[arg(long)]
    max_streams: Option<String>,
    /// Tier for requests that name none, where the model offers it: flex, priority, reserved,
    /// latency_optimized (`none`: standard).
    #[arg(long)]
    default_tier: Option<String>,
    /// Application inference profile ARN to bind the key to: its calls go through the profile
    /// (spend under the profile's tags) and it may call only the profile's model (`none`: unbind).
    #[arg(long)]
    application_profile: Option<String>,
}

fn tier(v: &Option<String>) -> Result<Option<Option<Tier>>, String> {
    match v.as_deref().map(str::trim) {
        None => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(s) => Tier::parse(s).map(|t| Some(Some(t))).ok_or_else(|| {
            format!(
                "--default-tier: expected one of flex, priority, reserved, latency_optimized or `none`, got {s:?}"
            )
        }),
    }
}

fn opt<T: FromStr>(name: &str, v: &Option<String>) -> Result<Option<Option<T>>, String> {
    match v.as_deref().map(str::trim) {
        None => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(s) => s
            .parse::<T>()
            .map(|x| Some(Some(x)))
            .map_err(|_| format!("--{name}: expected a number or `none`, got {s:?}")),
    }
}

impl LimitArgs {
    /// The flags as a change (checked by `KeyAdmin`, like the admin routes' bodies).
    fn update(&self) -> Result<LimitsUpdate, String> {
        Ok(LimitsUpdate {
            budget_day_usd: opt::<Decimal>("budget-day", &self.budget_day)?,
            budget_month_usd: opt::<Decimal>("budget-month", &self.budget_month)?,
            requests_per_minute: opt::<u64>("rpm", &self.rpm)?,
            tokens_per_minute: opt::<u64>("tpm", &self.tpm)?,
            max_concurrent_streams: opt::<u32>("max-streams", &self.max_streams)?,
            default_tier: tier(&self.default_tier)?,
            application_profile: match self.application_profile.as_deref().map(str::trim) {
                None => None,
                Some("none") => Some(None),
                Some(arn) => Some(Some(arn.to_owned())),
            },
            models: None,
        })
    }

    fn limits(&self) -> Result<Limits, String> {
        let u = self.update()?;
        Ok(Limits {
            budget_day_usd: u.budget_day_usd.flatten(),
            budget_month_usd: u.budget_month_usd.flatten(),
            requests_per_minute: u.requests_per_minute.flatten(),
            tokens_per_minute: u.tokens_per_minute.flatten(),
            max_concurrent_streams: u.max_concurrent_streams.flatten(),
            default_tier: u.default_tier.flatten(),
            application_profile: u.application_profile.flatten(),
        })
    }
}

fn describe(r: &KeyRecord) -> String {
    let l = &r.limits;
    let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "{}  {}…  owner={}  admin={}  revoked={}  models={}  budget/day={}  budget/month={}  rpm={}  tpm={}  streams={}  tier={}  profile={}  created={}",
        r.id,
        r.prefix,
        r.owner,
        r.admin,
        r.revoked,
        if r.models.is_empty() {
            "all".into()
        } else {
            r.models.join(",")
        },
        show(l.budget_day_usd.map(|d| d.to_string())),
        show(l.budget_month_usd.map(|d| d.to_string())),
        show(l.requests_per_minute.map(|d| d.to_string())),
        show(l.tokens_per_minute.map(|d| d.to_string())),
        show(l.max_concurrent_streams.map(|d| d.to_string())),
        show(l.default_tier.map(|t| t.as_str().to_owned())),
        show(l.application_profile.clone()),
        r.created_at,
    )
}

/// `gateway-admin console`: checks the URL and the credentials, binds 127.0.0.1, prints the
/// console's URL and serves until interrupted.
async fn console(args: &ConsoleArgs) -> Result<(), String> {
    use gateway_admin::console_proxy::{Proxy, ProxyToken, Signer, Upstream};
    let err = |e: inference_core::GatewayError| e.message().to_owned();
    let upstream = Upstream::parse(&args.api_url).map_err(err)?;
    let targets = args.playground.targets()?;
    let (port, region) = (args.port, args.region.clone());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(inference_core::sdk_http::https_client())
        .load()
        .await;
    let region = region
        .or_else(|| upstream.region_in_host())
        .or_else(|| sdk.region().map(|r| r.to_string()))
        .ok_or("no region: pass --region (the API's host name names none)")?;
    let provider = sdk
        .credentials_provider()
        .ok_or("no AWS credentials provider (the SDK's default chain found none)")?;
    let signer = Signer::new(provider, region);
    signer.check().await.map_err(err)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let region = signer.region().to_owned();
    let proxy = Proxy::new(local, ProxyToken::random(), upstream, signer)
        .map_err(err)?
        .with_targets(targets);
    println!("console: {}", proxy.console_url());
    eprintln!(
        "signing for {region} with your AWS credentials; only this URL's holder can use it. Ctrl-C stops."
    );
    tokio::select! {
        r = gateway_admin::console_proxy::serve(listener, proxy) => r.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Command::Console(args) = &cli.command {
        return console(args).await;
    }
    let keys_table = cli
        .keys_table
        .as_deref()
        .ok_or("--keys-table (or GATEWAY_KEYS_TABLE) is required")?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(inference_core::sdk_http::https_client());
    if let Some(url) = &cli.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk = loader.load().await;
    let admin = KeyAdmin::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        keys_table,
        cli.usage_table.as_deref(),
    );
    let err = |e: inference_core::GatewayError| e.message().to_owned();
    match &cli.command {
        Command::Issue {
            owner,
            models,
            admin: is_admin,
            limits,
        } => {
            let new = NewKey {
                owner: owner.clone(),
                models: models.clone(),
                admin: *is_admin,
                limits: limits.limits()?,
            };
            let issued = admin.issue(&new).await.map_err(err)?;
            if cli.json {
                println!("{}", json!(issued));
            } else {
                println!("{}", describe(&issued.record));
                println!("key (shown once, store it now): {}", issued.key);
            }
        }
        Command::List => {
            let keys = admin.list().await.map_err(err)?;
            if cli.json {
                println!("{}", json!({"keys": keys}));
            } else {
                for r in &keys {
                    println!("{}", describe(r));
                }
            }
        }
        Command::Revoke { key_id } => {
            let id = KeyId::parse(key_id).map_err(err)?;
            let record = admin.revoke(&id).await.map_err(err)?;
            if cli.json {
                println!("{}", json!({"revoked": id, "record": record}));
            } else {
                println!("revoked {id}");
            }
        }
        Command::Limits {
            key_id,
            limits,
            models,
        } => {
            let id = KeyId::parse(key_id).map_err(err)?;
            let mut u = limits.update()?;
            u.models = models.as_deref().map(|m| match m.trim() {
                "all" => Vec::new(),
                m => m
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            });
            let record = admin.update(&id, &u).await.map_err(err)?;
            if cli.json {
                println!("{}", json!({"record": record}));
            } else {
                println!("{}", describe(&record));
            }
        }
        Command::Usage { key_id, from, to } => {
            let query = UsageQuery {
                from: from.clone(),
                to: to.clone(),
                key_id: key_id.clone(),
            };
            let report = admin.usage(&query, None).await.map_err(err)?;
            if cli.json {
                println!("{report}");
            } else {
                for r in report["data"].as_array().into_iter().flatten() {
                    println!(
                        "{}  {}  {}  requests={}  input={}  output={}  cache={}  cost={}",
                        r["key_id"].as_str().unwrap_or_default(),
                        r["day"].as_str().unwrap_or_default(),
                        r["model"].as_str().unwrap_or_default(),
                        r["requests"],
                        r["input_tokens"],
                        r["output_tokens"],
                        r["cache_tokens"],
                        r["cost"].as_str().unwrap_or_default(),
                    );
                }
                println!(
                    "total cost={}",
                    report["totals"]["cost"].as_str().unwrap_or_default()
                );
            }
        }
        Command::Console(_) => unreachable!("handled above"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway-admin: {e}");
            ExitCode::FAILURE
        }
    }
}
