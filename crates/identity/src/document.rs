//! Typed IAM policy documents (identity policies, trust policies, key policies) that
//! serialize to the JSON AWS expects and compare semantically.
//!
//! AWS hands documents back in another shape than they were sent: `GetRolePolicy` and
//! `GetRole` return them URL-encoded, a one-element list may come back as a plain string,
//! statements and actions in any order, an account id principal as its root ARN. A naive
//! string comparison reports drift on every run; [`PolicyDocument::canonical`] removes all of
//! these differences so a converged role compares equal.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only policy language version Ironbark writes.
pub const VERSION: &str = "2012-10-17";

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies (wins over any allow).
    Deny,
}

/// A list of strings that AWS writes either as one string or as an array.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OneOrMany(pub Vec<String>);

impl OneOrMany {
    /// One value.
    pub fn one(value: impl Into<String>) -> Self {
        Self(vec![value.into()])
    }

    /// Several values.
    pub fn many<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        Self(values.into_iter().map(Into::into).collect())
    }

    fn canonical(&self, fold_case: bool) -> Self {
        let set: BTreeSet<String> = self
            .0
            .iter()
            .map(|s| {
                if fold_case {
                    s.to_ascii_lowercase()
                } else {
                    s.clone()
                }
            })
            .collect();
        Self(set.into_iter().collect())
    }
}

impl Serialize for OneOrMany {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let [one] = self.0.as_slice() {
            s.serialize_str(one)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        scalar_list(&v).map(Self).map_err(de::Error::custom)
    }
}

/// Strings, numbers and booleans (conditions may hold `true` or `3600`), alone or in a list.
fn scalar_list(v: &Value) -> Result<Vec<String>, String> {
    fn scalar(v: &Value) -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(format!(
                "expected a string or a list of strings, got {other}"
            )),
        }
    }
    match v {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Who a statement applies to, in resource-based and trust policies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// `"*"`: anyone (the same as `{"AWS": "*"}`).
    Any,
    /// `{"AWS": [...], "Service": [...], "Federated": [...]}`.
    Map(BTreeMap<String, OneOrMany>),
}

impl Principal {
    /// A service principal (`lambda.amazonaws.com`).
    pub fn service(host: impl Into<String>) -> Self {
        Self::Map([("Service".to_owned(), OneOrMany::one(host))].into())
    }

    /// Several service principals.
    pub fn services<I: IntoIterator<Item = S>, S: Into<String>>(hosts: I) -> Self {
        Self::Map([("Service".to_owned(), OneOrMany::many(hosts))].into())
    }

    /// An AWS principal (account root, role or user ARN).
    pub fn aws(arn: impl Into<String>) -> Self {
        Self::Map([("AWS".to_owned(), OneOrMany::one(arn))].into())
    }

    /// A federated principal (an OIDC provider ARN, `cognito-identity.amazonaws.com`).
    pub fn federated(arn: impl Into<String>) -> Self {
        Self::Map([("Federated".to_owned(), OneOrMany::one(arn))].into())
    }

    fn canonical(&self) -> Self {
        let map = match self {
            Self::Any => return Self::Map([("AWS".to_owned(), OneOrMany::one("*"))].into()),
            Self::Map(map) => map,
        };
        Self::Map(
            map.iter()
                .map(|(k, v)| {
                    let values = v.0.iter().map(|value| {
                        // IAM stores a bare account id as its root ARN.
                        if k == "AWS"
                            && value.len() == 12
                            && value.bytes().all(|b| b.is_ascii_digit())
                        {
                            format!("arn:aws:iam::{value}:root")
                        } else {
                            value.clone()
                        }
                    });
                    (k.clone(), OneOrMany::many(values).canonical(false))
                })
                .collect(),
        )
    }
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Any => s.serialize_str("*"),
            Self::Map(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if s == "*" => Ok(Self::Any),
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| Ok((k, OneOrMany(scalar_list(&v)?))))
                .collect::<Result<_, String>>()
                .map(Self::Map)
                .map_err(de::Error::custom),
            other => Err(de::Error::custom(format!(
                "a principal is \"*\" or an object, got {other}"
            ))),
        }
    }
}

/// Conditions: operator (`StringEquals`) -> condition key (`aws:SourceArn`) -> values.
pub type Conditions = BTreeMap<String, BTreeMap<String, OneOrMany>>;

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Statement {
    /// Optional statement id.
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Allow or deny.
    #[serde(rename = "Effect")]
    pub effect: Effect,
    /// Who (resource-based and trust policies only).
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    /// Everyone except (rare).
    #[serde(
        rename = "NotPrincipal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_principal: Option<Principal>,
    /// Actions (`s3:GetObject`); compared case-insensitively, as IAM does.
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    pub action: Option<OneOrMany>,
    /// Every action except these.
    #[serde(rename = "NotAction", default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<OneOrMany>,
    /// Resources (ARNs, `*`).
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany>,
    /// Every resource except these.
    #[serde(
        rename = "NotResource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_resource: Option<OneOrMany>,
    /// Conditions.
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub condition: Conditions,
}

impl Statement {
    /// An `Allow` of `actions` on `resources`.
    pub fn allow<A, R>(actions: A, resources: R) -> Self
    where
        A: IntoIterator,
        A::Item: Into<String>,
        R: IntoIterator,
        R::Item: Into<String>,
    {
        Self {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            not_principal: None,
            action: Some(OneOrMany::many(actions)),
            not_action: None,
            resource: Some(OneOrMany::many(resources)),
            not_resource: None,
            condition: Conditions::new(),
        }
    }

    /// An `Allow` of `actions` to `principal` (trust and key policies), with no resource
    /// (trust policies) unless one is added.
    pub fn allow_principal<A>(principal: Principal, actions: A) -> Self
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        Self {
            principal: Some(principal),
            resource: None,
            ..Self::allow(actions, Vec::<String>::new())
        }
    }

    /// Sets the statement id.
    #[must_use]
    pub fn with_sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }

    /// Sets the resources.
    #[must_use]
    pub fn with_resources<R: IntoIterator<Item = S>, S: Into<String>>(mut self, r: R) -> Self {
        self.resource = Some(OneOrMany::many(r));
        self
    }

    /// Adds one condition (`StringEquals`, `oidc.eks...:sub`, `system:serviceaccount:ns:sa`).
    #[must_use]
    pub fn with_condition(
        mut self,
        operator: impl Into<String>,
        key: impl Into<String>,
        values: OneOrMany,
    ) -> Self {
        self.condition
            .entry(operator.into())
            .or_default()
            .insert(key.into(), values);
        self
    }

    fn canonical(&self) -> Self {
        let list = |v: &Option<OneOrMany>, fold| v.as_ref().map(|v| v.canonical(fold));
        Self {
            sid: self.sid.clone().filter(|s| !s.is_empty()),
            effect: self.effect,
            principal: self.principal.as_ref().map(Principal::canonical),
            not_principal: self.not_principal.as_ref().map(Principal::canonical),
            action: list(&self.action, true),
            not_action: list(&self.not_action, true),
            resource: list(&self.resource, false),
            not_resource: list(&self.not_resource, false),
            condition: self
                .condition
                .iter()
                .filter(|(_, keys)| !keys.is_empty())
                .map(|(op, keys)| {
                    let keys = keys
                        .iter()
                        // Condition keys are case-insensitive; values are not.
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.canonical(false)))
                        .collect();
                    (op.clone(), keys)
                })
                .collect(),
        }
    }
}

/// A policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    /// The language version (`2012-10-17`).
    #[serde(rename = "Version", default = "default_version")]
    pub version: String,
    /// Optional document id.
    #[serde(rename = "Id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The statements; a single statement object is accepted when parsing.
    #[serde(rename = "Statement", deserialize_with = "one_or_many_statements")]
    pub statements: Vec<Statement>,
}

fn default_version() -> String {
    VERSION.to_owned()
}

fn one_or_many_statements<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Statement>, D::Error> {
    match Value::deserialize(d)? {
        v @ Value::Array(_) => serde_json::from_value(v).map_err(de::Error::custom),
        v => serde_json::from_value(v)
            .map(|s| vec![s])
            .map_err(de::Error::custom),
    }
}

/// A document AWS returned that is not a policy document.
#[derive(Debug, thiserror::Error)]
#[error("not a policy document: {0}")]
pub struct ParseError(String);

impl PolicyDocument {
    /// A document of these statements, version 2012-10-17.
    #[must_use]
    pub fn new(statements: Vec<Statement>) -> Self {
        Self {
            version: VERSION.to_owned(),
            id: None,
            statements,
        }
    }

    /// Parses a document as AWS returns it: plain JSON, or URL-encoded JSON (`GetRole`,
    /// `GetRolePolicy`, `GetPolicyVersion`).
    ///
    /// # Errors
    /// When the text is neither valid JSON nor URL-encoded JSON of a policy document.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match serde_json::from_str(text) {
            Ok(doc) => Ok(doc),
            Err(first) => {
                let decoded = percent_decode(text).ok_or_else(|| ParseError(first.to_string()))?;
                serde_json::from_str(&decoded).map_err(|e| ParseError(e.to_string()))
            }
        }
    }

    /// The JSON text sent to AWS.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("documents always serialize"))
    }

    /// The canonical form: statements sorted and deduplicated, every list sorted and
    /// deduplicated, actions and condition keys lower-cased, `"*"` principals as
    /// `{"AWS": "*"}`, account ids as root ARNs, empty sids dropped.
    #[must_use]
    pub fn canonical(&self) -> Self {
        let statements: BTreeSet<Statement> =
            self.statements.iter().map(Statement::canonical).collect();
        Self {
            version: self.version.clone(),
            id: self.id.clone(),
            statements: statements.into_iter().collect(),
        }
    }

    /// Whether two documents mean the same thing (equal canonical forms).
    #[must_use]
    pub fn same_as(&self, other: &Self) -> bool {
        self.canonical() == other.canonical()
    }
}

impl fmt::Display for PolicyDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// Decodes `%XX` escapes (and `+` as space, as form encoding does). `None` on a malformed
/// escape (a `%` not followed by two hex digits) or invalid UTF-8: either means the text was
/// not URL-encoded JSON to begin with.
#[must_use]
pub fn percent_decode(text: &str) -> Option<String> {
    // The percent-encoding crate passes a malformed escape through as literal text; IAM never
    // sends one, so refuse it here instead of parsing something AWS did not say.
    let bytes = text.as_bytes();
    let well_formed = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'%')
        .all(|(i, _)| {
            bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        });
    if !well_formed {
        return None;
    }
    // A literal `+` is a space; an encoded one (`%2B`) is decoded after, so it stays a `+`.
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn parses_what_iam_returns() {
        let sent = PolicyDocument::new(vec![Statement::allow_principal(
            Principal::service("lambda.amazonaws.com"),
            ["sts:AssumeRole"],
        )]);
        let returned = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"]},"Action":["sts:AssumeRole"]}}"#;
        assert!(PolicyDocument::parse(returned).unwrap().same_as(&sent));
        assert!(PolicyDocument::parse(&encode(returned))
            .unwrap()
            .same_as(&sent));
        assert_eq!(
            sent.to_json(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#
        );
    }

    #[test]
    fn equivalent_shapes_compare_equal_and_real_changes_do_not() {
        let a = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true}}},{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage"},{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"kms:*","Resource":"*"}]}"#,
        )
        .unwrap();
        let b = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":["KMS:*"],"Resource":["*"]},{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sqs:SendMessage"]},{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:GetObject"],"Resource":["*"],"Condition":{"Bool":{"AWS:SecureTransport":"true"}}}]}"#,
        )
        .unwrap();
        assert!(a.same_as(&b));
        let mut c = b.clone();
        c.statements[2].resource = Some(OneOrMany::one("arn:aws:s3:::bucket/*"));
        assert!(!a.same_as(&c));
        let mut d = b;
        d.statements[0].effect = Effect::Deny;
        assert!(!a.same_as(&d));
    }

    #[test]
    fn rejects_what_is_not_a_policy() {
        assert!(PolicyDocument::parse("{}").is_err());
        assert!(PolicyDocument::parse("%ZZ").is_err());
        assert!(
            PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allw","Action":"*"}]}"#).is_err()
        );
    }

    #[test]
    fn percent_decode_refuses_malformed_escapes_and_invalid_utf8() {
        assert_eq!(percent_decode("a+b%20c%2B").as_deref(), Some("a b c+"));
        assert_eq!(
            percent_decode("%7B%22k%22%3A%C3%A9%7d").as_deref(),
            Some("{\"k\":é}")
        );
        assert_eq!(percent_decode("é plain").as_deref(), Some("é plain"));
        for malformed in ["%ZZ", "%4", "%", "ab%", "%%41", "%+F", "%é"] {
            assert_eq!(percent_decode(malformed), None, "{malformed}");
        }
        assert_eq!(percent_decode("%FF%FE"), None, "invalid UTF-8");
    }

    fn word() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9:*/_.-]{1,12}"
    }

    fn list() -> impl Strategy<Value = OneOrMany> {
        prop::collection::vec(word(), 1..4).prop_map(OneOrMany)
    }

    fn principal() -> impl Strategy<Value = Principal> {
        prop_oneof![
            Just(Principal::Any),
            prop::collection::btree_map(
                prop::sample::select(vec!["AWS", "Service", "Federated"]).prop_map(String::from),
                list(),
                1..3
            )
            .prop_map(Principal::Map),
        ]
    }

    fn statement() -> impl Strategy<Value = Statement> {
        (
            prop::option::of("[A-Za-z0-9]{1,8}"),
            prop::bool::ANY,
            prop::option::of(principal()),
            list(),
            prop::option::of(list()),
            prop::collection::btree_map(
                prop::sample::select(vec!["StringEquals", "StringLike", "Bool", "ArnLike"])
                    .prop_map(String::from),
                prop::collection::btree_map("[a-z]{1,6}:[A-Za-z]{1,8}", list(), 1..3),
                0..3,
            ),
        )
            .prop_map(
                |(sid, allow, principal, action, resource, condition)| Statement {
                    sid,
                    effect: if allow { Effect::Allow } else { Effect::Deny },
                    principal,
                    not_principal: None,
                    action: Some(action),
                    not_action: None,
                    resource,
                    not_resource: None,
                    condition,
                },
            )
    }

    fn document() -> impl Strategy<Value = PolicyDocument> {
        prop::collection::vec(statement(), 1..5).prop_map(PolicyDocument::new)
    }

    /// Rewrites a serialized document the way AWS may return it: every string turned into a
    /// one-element list or left alone, lists reversed, statements reversed.
    fn reshape(v: &Value, listify: bool) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = if k == "Version" || k == "Sid" || k == "Effect" {
                            v.clone()
                        } else if k == "Principal" && v == "*" {
                            serde_json::json!({"AWS": "*"})
                        } else {
                            reshape(v, listify)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                // Strings inside a list stay strings.
                Value::Array(
                    items
                        .iter()
                        .rev()
                        .map(|i| reshape(i, listify && !i.is_string()))
                        .collect(),
                )
            }
            Value::String(s) if listify => Value::Array(vec![Value::String(s.clone())]),
            other => other.clone(),
        }
    }

    proptest! {
        #[test]
        fn prop_round_trips_through_aws_json(doc in document(), listify in prop::bool::ANY, encoded in prop::bool::ANY) {
            let json: Value = serde_json::from_str(&doc.to_json()).unwrap();
            let aws = reshape(&json, listify).to_string();
            let text = if encoded { encode(&aws) } else { aws };
            let back = PolicyDocument::parse(&text).unwrap();
            prop_assert!(back.same_as(&doc), "{}\n{}", doc, back);
            // Serializing and parsing again is exact.
            prop_assert_eq!(PolicyDocument::parse(&doc.to_json()).unwrap(), doc);
        }

        #[test]
        fn prop_order_of_statements_and_actions_does_not_matter(doc in document(), seed in any::<u64>()) {
            let mut shuffled = doc.clone();
            let n = shuffled.statements.len();
            shuffled.statements.rotate_left(usize::try_from(seed % n as u64).unwrap());
            for s in &mut shuffled.statements {
                if let Some(a) = &mut s.action {
                    a.0.reverse();
                    a.0.push(a.0[0].to_ascii_uppercase());
                }
            }
            prop_assert!(shuffled.same_as(&doc));
        }

        #[test]
        fn prop_a_changed_resource_is_a_difference(doc in document(), extra in "arn:aws:s3:::[a-z]{3,10}") {
            let mut changed = doc.clone();
            let s = &mut changed.statements[0];
            let mut r = s.resource.clone().unwrap_or_default();
            prop_assume!(!r.0.contains(&extra));
            r.0.push(extra);
            s.resource = Some(r);
            prop_assert!(!changed.same_as(&doc));
        }
    }
}
