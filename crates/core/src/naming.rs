//! Deterministic physical names and client tokens.
//!
//! A resource is found again by its name wherever AWS names are unique (DESIGN invariant 3),
//! so names must be a pure function of (stack, env, logical id) and must respect each
//! service's rules. Names that would be too long keep a readable prefix and end in a stable
//! hash of the full name, so two long logical ids never collide.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The naming rules of one kind of AWS resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRule {
    /// What the rule is for, for error messages (`S3 bucket`).
    pub kind: &'static str,
    /// Shortest allowed length.
    pub min_len: usize,
    /// Longest allowed length.
    pub max_len: usize,
    /// Characters allowed besides ASCII letters and digits.
    pub extra_chars: &'static str,
    /// Whether upper-case letters are folded to lower case.
    pub lowercase: bool,
    /// Whether the name must start with a letter.
    pub start_with_letter: bool,
    /// Whether two hyphens in a row are forbidden.
    pub no_double_hyphen: bool,
    /// The separator put between stack, env and logical id segments.
    pub separator: char,
}

impl NameRule {
    const fn new(kind: &'static str, max_len: usize, extra_chars: &'static str) -> Self {
        Self {
            kind,
            min_len: 1,
            max_len,
            extra_chars,
            lowercase: false,
            start_with_letter: false,
            no_double_hyphen: false,
            separator: '-',
        }
    }

    /// S3 bucket: 3-63 characters, lower case, digits, hyphens (dots avoided: they break TLS).
    pub const S3_BUCKET: Self = Self {
        min_len: 3,
        lowercase: true,
        start_with_letter: true,
        no_double_hyphen: true,
        ..Self::new("S3 bucket", 63, "-")
    };
    /// RDS DB instance or cluster identifier: 63, starts with a letter, no `--`, lower case.
    pub const RDS_IDENTIFIER: Self = Self {
        lowercase: true,
        start_with_letter: true,
        no_double_hyphen: true,
        ..Self::new("RDS identifier", 63, "-")
    };
    /// IAM role, user or policy name: 64 characters of `\w+=,.@-`.
    pub const IAM_ROLE: Self = Self::new("IAM role", 64, "_+=,.@-");
    /// IAM instance profile: 128 characters of `\w+=,.@-`.
    pub const IAM_INSTANCE_PROFILE: Self = Self::new("IAM instance profile", 128, "_+=,.@-");
    /// CloudWatch Logs log group: 512 characters of `._-/#`, segments joined with `/`.
    pub const LOG_GROUP: Self = Self {
        separator: '/',
        ..Self::new("log group", 512, "._-/#")
    };
    /// SQS queue: 80 characters of letters, digits, `-` and `_`.
    pub const SQS_QUEUE: Self = Self::new("SQS queue", 80, "-_");
    /// SNS topic: 256 characters of letters, digits, `-` and `_`.
    pub const SNS_TOPIC: Self = Self::new("SNS topic", 256, "-_");
    /// Secrets Manager secret: 512 characters of `/_+=.@-`, segments joined with `/`.
    pub const SECRET: Self = Self {
        separator: '/',
        ..Self::new("secret", 512, "/_+=.@-")
    };
    /// KMS alias name after `alias/`: 256 characters of `/_-`.
    pub const KMS_ALIAS: Self = Self::new("KMS alias", 250, "/_-");
    /// `ElastiCache` replication group id: 40, lower case, starts with a letter, no `--`.
    pub const ELASTICACHE_ID: Self = Self {
        lowercase: true,
        start_with_letter: true,
        no_double_hyphen: true,
        ..Self::new("ElastiCache replication group", 40, "-")
    };
    /// `DynamoDB` table: 3-255 characters of `_.-`.
    pub const DYNAMODB_TABLE: Self = Self {
        min_len: 3,
        ..Self::new("DynamoDB table", 255, "_.-")
    };
    /// Lambda function: 64 characters of `-_`.
    pub const LAMBDA_FUNCTION: Self = Self::new("Lambda function", 64, "-_");
    /// EKS cluster: 100 characters, starts with a letter, `-_`.
    pub const EKS_CLUSTER: Self = Self {
        start_with_letter: true,
        ..Self::new("EKS cluster", 100, "-_")
    };
    /// Load balancer or target group: 32 characters of letters, digits, hyphens.
    pub const LOAD_BALANCER: Self = Self {
        start_with_letter: true,
        no_double_hyphen: true,
        ..Self::new("load balancer", 32, "-")
    };
    /// `OpenSearch` domain: 3-28, lower case, starts with a letter.
    pub const OPENSEARCH_DOMAIN: Self = Self {
        min_len: 3,
        lowercase: true,
        start_with_letter: true,
        no_double_hyphen: true,
        ..Self::new("OpenSearch domain", 28, "-")
    };
    /// Cognito user pool, EC2 security group and other generous names: 128 characters.
    pub const GENERIC: Self = Self::new("resource", 128, "-_.");

    fn allows(&self, c: char) -> bool {
        c.is_ascii_alphanumeric() || self.extra_chars.contains(c)
    }

    /// Whether `name` satisfies this rule.
    #[must_use]
    pub fn accepts(&self, name: &str) -> bool {
        let len_ok = (self.min_len..=self.max_len).contains(&name.len());
        let chars_ok = name
            .chars()
            .all(|c| self.allows(c) && !(self.lowercase && c.is_ascii_uppercase()));
        let start_ok =
            !self.start_with_letter || name.starts_with(|c: char| c.is_ascii_alphabetic());
        let hyphen_ok = !self.no_double_hyphen || (!name.contains("--") && !name.ends_with('-'));
        len_ok && chars_ok && start_ok && hyphen_ok
    }
}

/// The physical name of a resource: `{stack}-{env}-{logical id}` made to fit `rule`.
///
/// `/` in the logical id becomes the rule's separator; characters the rule forbids become `-`;
/// a name longer than allowed keeps its beginning and ends in `-` plus 8 hex digits of the
/// SHA-256 of the untruncated name, so it is stable across runs and distinct for distinct ids.
#[must_use]
pub fn physical_name(stack: &str, env: &str, logical_id: &str, rule: &NameRule) -> String {
    let sep = rule.separator;
    let full = format!(
        "{stack}{sep}{env}{sep}{}",
        logical_id.replace('/', &sep.to_string())
    );
    let mut name: String = full
        .chars()
        .map(|c| {
            if rule.lowercase {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .map(|c| if rule.allows(c) { c } else { '-' })
        .collect();
    if rule.no_double_hyphen {
        while name.contains("--") {
            name = name.replace("--", "-");
        }
        name = name.trim_matches('-').to_owned();
    }
    if rule.start_with_letter && !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 'x');
    }
    if name.len() > rule.max_len || name.len() < rule.min_len {
        let hash = short_hash(full.as_bytes());
        let keep = rule.max_len.saturating_sub(hash.len() + 1);
        let mut prefix: String = name.chars().take(keep).collect();
        if rule.no_double_hyphen {
            prefix = prefix.trim_end_matches('-').to_owned();
        }
        name = if prefix.is_empty() {
            format!("x{hash}")
        } else {
            format!("{prefix}-{hash}")
        };
    }
    name
}

/// An idempotency token for create calls that take one (`ClientToken`, `ClientRequestToken`).
///
/// Derived from (stack, env, logical id, spec), so a re-run after a crash sends the same token
/// for the same desired resource, and a changed spec sends a new one. 48 lowercase hex digits
/// after `ib-`: within EC2's 64-character limit and the 32-64 of other services.
#[must_use]
pub fn client_token(stack: &str, env: &str, logical_id: &str, spec: &impl Serialize) -> String {
    let spec = serde_json::to_vec(spec).unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [
        stack.as_bytes(),
        env.as_bytes(),
        logical_id.as_bytes(),
        &spec,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    format!("ib-{}", hex(&digest[..24]))
}

fn short_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..4])
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RULES: &[NameRule] = &[
        NameRule::S3_BUCKET,
        NameRule::RDS_IDENTIFIER,
        NameRule::IAM_ROLE,
        NameRule::LOG_GROUP,
        NameRule::SQS_QUEUE,
        NameRule::SECRET,
        NameRule::ELASTICACHE_ID,
        NameRule::DYNAMODB_TABLE,
        NameRule::LAMBDA_FUNCTION,
        NameRule::EKS_CLUSTER,
        NameRule::LOAD_BALANCER,
        NameRule::OPENSEARCH_DOMAIN,
        NameRule::KMS_ALIAS,
        NameRule::GENERIC,
    ];

    #[test]
    fn short_names_are_readable() {
        assert_eq!(
            physical_name("shop", "prod", "database/main", &NameRule::RDS_IDENTIFIER),
            "shop-prod-database-main"
        );
        assert_eq!(
            physical_name("shop", "prod", "api", &NameRule::LOG_GROUP),
            "shop/prod/api"
        );
        assert_eq!(
            physical_name("Shop", "Prod", "Media_Bucket", &NameRule::S3_BUCKET),
            "shop-prod-media-bucket"
        );
        assert_eq!(
            physical_name("9lives", "dev", "db", &NameRule::RDS_IDENTIFIER),
            "x9lives-dev-db"
        );
    }

    #[test]
    fn long_names_get_a_stable_hash_suffix() {
        let long = "a".repeat(100);
        let a = physical_name("shop", "prod", &long, &NameRule::LOAD_BALANCER);
        assert_eq!(a.len(), 32);
        assert_eq!(
            a,
            physical_name("shop", "prod", &long, &NameRule::LOAD_BALANCER)
        );
        let b = physical_name(
            "shop",
            "prod",
            &format!("{long}b"),
            &NameRule::LOAD_BALANCER,
        );
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_depend_on_every_input() {
        let t = client_token("s", "dev", "nat/a", &"spec");
        assert!(t.len() <= 64 && t.starts_with("ib-"));
        assert_eq!(t, client_token("s", "dev", "nat/a", &"spec"));
        assert_ne!(t, client_token("s", "dev", "nat/a", &"spec2"));
        assert_ne!(t, client_token("s", "prod", "nat/a", &"spec"));
        // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            client_token("ab", "c", "x", &1),
            client_token("a", "bc", "x", &1)
        );
    }

    proptest! {
        #[test]
        fn prop_names_satisfy_their_rule(stack in "[a-zA-Z0-9_.-]{1,40}", env in "[a-z]{1,12}", id in "[a-zA-Z0-9/_. -]{0,120}") {
            for rule in RULES {
                let name = physical_name(&stack, &env, &id, rule);
                prop_assert!(rule.accepts(&name), "{} rejects {name:?}", rule.kind);
                prop_assert_eq!(&name, &physical_name(&stack, &env, &id, rule));
            }
        }

        #[test]
        fn prop_distinct_long_ids_do_not_collide(id in "[a-z]{70,90}", other in "[a-z]{70,90}") {
            prop_assume!(id != other);
            let rule = NameRule::RDS_IDENTIFIER;
            prop_assert_ne!(physical_name("s", "e", &id, &rule), physical_name("s", "e", &other, &rule));
        }
    }
}
