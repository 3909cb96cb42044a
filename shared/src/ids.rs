//! Identifier types: one parser each, so a model ID, a profile ID, a region and a geography are
//! never confused with one another (or with an alias) once they leave the parser.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier did not parse. Carries the input so messages can quote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {input:?} {why}")]
pub struct IdError {
    /// What we tried to parse ("model ID", "region", ...).
    pub what: &'static str,
    /// The text as given.
    pub input: String,
    /// What was wrong with it.
    pub why: &'static str,
}

fn id_err(what: &'static str, input: &str, why: &'static str) -> IdError {
    IdError {
        what,
        input: input.to_owned(),
        why,
    }
}

/// A cross-region inference geography: the prefix of a system inference profile ID
/// (`us.anthropic...`) and the area a region belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Geography {
    /// United States (and Canada) commercial regions.
    Us,
    /// AWS GovCloud (US).
    UsGov,
    /// European regions.
    Eu,
    /// Asia Pacific regions.
    Apac,
    /// Japan-only profiles (`jp.`).
    Jp,
    /// Australia-only profiles (`au.`).
    Au,
    /// Canada-only profiles (`ca.`).
    Ca,
    /// Global profiles: routed to any commercial region.
    Global,
}

impl Geography {
    /// Every geography, for error messages and iteration.
    pub const ALL: [Geography; 8] = [
        Geography::Us,
        Geography::UsGov,
        Geography::Eu,
        Geography::Apac,
        Geography::Jp,
        Geography::Au,
        Geography::Ca,
        Geography::Global,
    ];

    /// The profile-ID prefix (without the dot).
    pub fn prefix(self) -> &'static str {
        match self {
            Geography::Us => "us",
            Geography::UsGov => "us-gov",
            Geography::Eu => "eu",
            Geography::Apac => "apac",
            Geography::Jp => "jp",
            Geography::Au => "au",
            Geography::Ca => "ca",
            Geography::Global => "global",
        }
    }

    /// True for the global profile: the one priced at base price for Claude 4.5.
    pub fn is_global(self) -> bool {
        self == Geography::Global
    }
}

impl fmt::Display for Geography {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

impl FromStr for Geography {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Geography::ALL
            .into_iter()
            .find(|g| g.prefix() == s)
            .ok_or_else(|| {
                id_err(
                    "geography",
                    s,
                    "is not one of us, us-gov, eu, apac, jp, au, ca, global",
                )
            })
    }
}

/// An AWS region name such as `us-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Region(String);

impl Region {
    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The inference-profile geography this region belongs to, from its prefix
    /// (`us-`/`ca-` -> us, `eu-` -> eu, `ap-` -> apac, `us-gov-` -> us-gov). `None` where Bedrock
    /// offers no geographic profile (such regions can still use global profiles and bare IDs).
    pub fn geography(&self) -> Option<Geography> {
        let r = self.0.as_str();
        if r.starts_with("us-gov-") {
            Some(Geography::UsGov)
        } else if r.starts_with("us-") || r.starts_with("ca-") {
            Some(Geography::Us)
        } else if r.starts_with("eu-") {
            Some(Geography::Eu)
        } else if r.starts_with("ap-") {
            Some(Geography::Apac)
        } else {
            None
        }
    }
}

impl FromStr for Region {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        // Shape: lowercase words separated by '-', the last one a number (`us-east-1`,
        // `us-gov-west-1`, `ap-southeast-3`).
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() >= 3
            && parts.iter().all(|p| !p.is_empty())
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Region(s.to_owned()))
        } else {
            Err(id_err(
                "region",
                s,
                "is not an AWS region name like us-east-1",
            ))
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bare foundation-model ID such as `anthropic.claude-sonnet-4-5-20250929-v1:0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelId(String);

impl ModelId {
    /// The ID as Bedrock spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The provider part (`anthropic`, `amazon`, `meta`, ...).
    pub fn provider(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }

    /// The foundation-model ARN in `region` (what IAM policies and CountTokens accept).
    pub fn arn(&self, region: &Region) -> String {
        format!("arn:aws:bedrock:{region}::foundation-model/{}", self.0)
    }
}

impl FromStr for ModelId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        const WHAT: &str = "model ID";
        let Some((provider, rest)) = s.split_once('.') else {
            return Err(id_err(
                WHAT,
                s,
                "has no provider prefix (expected provider.model)",
            ));
        };
        if provider.is_empty() || rest.is_empty() {
            return Err(id_err(WHAT, s, "has an empty provider or model name"));
        }
        if !provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(id_err(
                WHAT,
                s,
                "has a provider that is not lowercase letters/digits",
            ));
        }
        if Geography::from_str(provider).is_ok() {
            return Err(id_err(
                WHAT,
                s,
                "is an inference-profile ID, not a model ID",
            ));
        }
        let valid = |b: u8| b.is_ascii_alphanumeric() || b"-._:".contains(&b);
        if !rest.bytes().all(valid) {
            return Err(id_err(
                WHAT,
                s,
                "contains characters not allowed in a model ID",
            ));
        }
        Ok(ModelId(s.to_owned()))
    }
}

impl TryFrom<String> for ModelId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<ModelId> for String {
    fn from(m: ModelId) -> String {
        m.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A system inference-profile ID: geography prefix + model ID (`us.anthropic.claude-...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProfileId {
    /// Where the profile routes requests.
    pub geography: Geography,
    /// The foundation model behind it.
    pub model: ModelId,
}

impl ProfileId {
    /// The profile ID as Bedrock spells it.
    pub fn id(&self) -> String {
        format!("{}.{}", self.geography.prefix(), self.model)
    }
}

impl FromStr for ProfileId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        // `us-gov.` contains no dot before the model, so split on the first dot is enough.
        let Some((prefix, model)) = s.split_once('.') else {
            return Err(id_err("inference-profile ID", s, "has no geography prefix"));
        };
        let geography = prefix.parse::<Geography>().map_err(|_| {
            id_err(
                "inference-profile ID",
                s,
                "does not start with a geography (us., eu., apac., global., ...)",
            )
        })?;
        Ok(ProfileId {
            geography,
            model: model.parse()?,
        })
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.geography.prefix(), self.model)
    }
}

/// What is actually sent to Bedrock as `modelId`: a bare model ID or a system profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InvocationTarget {
    /// The bare foundation-model ID (on-demand throughput in the function's region).
    Model(ModelId),
    /// A system inference profile.
    Profile(ProfileId),
    /// An application inference profile, called by its ARN so that AWS's cost allocation
    /// (the profile's tags) sees the call; priced and policed as its underlying model.
    Application(ApplicationProfile),
}

/// An application inference profile's ARN and the foundation model it routes to (as
/// GetInferenceProfile reports it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApplicationProfile {
    /// `arn:aws:bedrock:REGION:ACCOUNT:application-inference-profile/ID`.
    pub arn: String,
    /// The underlying foundation model.
    pub model: ModelId,
    /// The system profile's geography it copies, when it copies one (decides the price list).
    pub geography: Option<Geography>,
}

/// The resource ID at the end of an ARN (`…:application-inference-profile/ID` → `ID`,
/// `…:model-invocation-job/ID` → `ID`): what messages name, and what Bedrock names folders by.
pub fn arn_resource_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

impl ApplicationProfile {
    /// The profile's ID, without the account and region of its ARN.
    pub fn short_id(&self) -> &str {
        arn_resource_id(&self.arn)
    }
}

impl InvocationTarget {
    /// The foundation model behind the target.
    pub fn model(&self) -> &ModelId {
        match self {
            InvocationTarget::Model(m) => m,
            InvocationTarget::Profile(p) => &p.model,
            InvocationTarget::Application(a) => &a.model,
        }
    }

    /// The profile geography, if any.
    pub fn geography(&self) -> Option<Geography> {
        match self {
            InvocationTarget::Model(_) => None,
            InvocationTarget::Profile(p) => Some(p.geography),
            InvocationTarget::Application(a) => a.geography,
        }
    }

    /// The string to pass as the SDK's `model_id`.
    pub fn id(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InvocationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvocationTarget::Model(m) => m.fmt(f),
            InvocationTarget::Profile(p) => p.fmt(f),
            InvocationTarget::Application(a) => f.write_str(&a.arn),
        }
    }
}

/// How a caller named a model, before the catalog is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// A bare foundation-model ID, or a foundation-model ARN reduced to one.
    Model(ModelId),
    /// A system profile ID, or a system-profile ARN reduced to one.
    Profile(ProfileId),
    /// An application inference profile ARN: its model is known only from GetInferenceProfile.
    ApplicationProfileArn(String),
    /// Anything else: an alias or a typo, looked up in the catalog.
    Name(String),
}

impl ModelRef {
    /// Classifies what a caller wrote. Never fails: unknown shapes become `Name`.
    pub fn parse(input: &str) -> ModelRef {
        let s = input.trim();
        if let Some(rest) = s.strip_prefix("arn:") {
            // arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE-TYPE/ID
            let mut fields = rest.splitn(5, ':');
            let (_partition, service, _region, _account, resource) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next().unwrap_or_default(),
            );
            if service == Some("bedrock") {
                if let Some(id) = resource.strip_prefix("foundation-model/") {
                    if let Ok(m) = id.parse() {
                        return ModelRef::Model(m);
                    }
                } else if let Some(id) = resource.strip_prefix("inference-profile/") {
                    if let Ok(p) = id.parse() {
                        return ModelRef::Profile(p);
                    }
                } else if resource.starts_with("application-inference-profile/") {
                    return ModelRef::ApplicationProfileArn(s.to_owned());
                }
            }
            return ModelRef::Name(s.to_owned());
        }
        if let Ok(p) = s.parse::<ProfileId>() {
            return ModelRef::Profile(p);
        }
        if let Ok(m) = s.parse::<ModelId>() {
            return ModelRef::Model(m);
        }
        ModelRef::Name(s.to_owned())
    }
}

/// One entry of `GATEWAY_ALLOWED_MODELS`: a model ID, profile ID or alias, where `*` matches any
/// run of characters and `?` one character. Matching ignores case.
#[derive(Clone, PartialEq, Eq)]
pub struct ModelPattern(String);

impl ModelPattern {
    /// Parses one pattern.
    pub fn parse(s: &str) -> Result<ModelPattern, IdError> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:*?/".contains(&b));
        if ok {
            Ok(ModelPattern(s.to_ascii_lowercase()))
        } else {
            Err(IdError {
                what: "model pattern",
                input: s.to_owned(),
                why: "may hold only letters, digits, - . _ : / and the wildcards * ?",
            })
        }
    }

    /// Whether `name` matches (case-insensitively).
    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.to_ascii_lowercase().as_bytes())
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ModelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for ModelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Iterative glob match with backtracking on the last `*` (linear in practice, no recursion).
pub(crate) fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_geography() {
        let g = |r: &str| r.parse::<Region>().unwrap().geography();
        assert_eq!(g("us-east-1"), Some(Geography::Us));
        assert_eq!(g("ca-central-1"), Some(Geography::Us));
        assert_eq!(g("eu-west-1"), Some(Geography::Eu));
        assert_eq!(g("ap-northeast-1"), Some(Geography::Apac));
        assert_eq!(g("us-gov-west-1"), Some(Geography::UsGov));
        assert_eq!(g("sa-east-1"), None);
        assert!("useast1".parse::<Region>().is_err());
        assert!("US-EAST-1".parse::<Region>().is_err());
        assert!("".parse::<Region>().is_err());
    }

    #[test]
    fn model_and_profile_ids() {
        let m: ModelId = "anthropic.claude-sonnet-4-5-20250929-v1:0".parse().unwrap();
        assert_eq!(m.provider(), "anthropic");
        let p: ProfileId = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
            .parse()
            .unwrap();
        assert_eq!(p.geography, Geography::Us);
        assert_eq!(p.model, m);
        assert_eq!(
            p.to_string(),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        let g: ProfileId = "us-gov.anthropic.claude-3-haiku-20240307-v1:0"
            .parse()
            .unwrap();
        assert_eq!(g.geography, Geography::UsGov);
        assert!("us.anthropic.claude".parse::<ModelId>().is_err());
        assert!("sonnet".parse::<ModelId>().is_err());
        assert!("amazon.nova pro".parse::<ModelId>().is_err());
    }

    #[test]
    fn model_refs() {
        assert!(matches!(ModelRef::parse("sonnet"), ModelRef::Name(_)));
        assert!(matches!(
            ModelRef::parse("amazon.nova-pro-v1:0"),
            ModelRef::Model(_)
        ));
        assert!(matches!(
            ModelRef::parse("eu.amazon.nova-pro-v1:0"),
            ModelRef::Profile(_)
        ));
        let arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0";
        assert_eq!(
            ModelRef::parse(arn),
            ModelRef::Model("amazon.nova-pro-v1:0".parse().unwrap())
        );
        let arn =
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0";
        assert!(
            matches!(ModelRef::parse(arn), ModelRef::Profile(p) if p.geography == Geography::Us)
        );
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123";
        assert!(matches!(
            ModelRef::parse(arn),
            ModelRef::ApplicationProfileArn(_)
        ));
    }
}
