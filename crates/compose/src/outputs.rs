//! What layers hand each other, typed: each layer publishes one struct (its ids, ARNs and
//! names, each a [`Known`] value, so "is this a real id yet" is a type question and not a
//! prefix check), and dependents read it with [`crate::Outputs::of`]. The `layer.key ->
//! value` strings stay for printing outputs to people and machines.

use std::collections::BTreeMap;

use ironbark_core::Known;

/// Reads `key` of a layer's rendered outputs as a value known now or only after apply.
fn known(values: &BTreeMap<String, String>, key: &str) -> Known<String> {
    Known::parse(values.get(key).map(String::as_str))
}

/// What the networking layer hands its dependents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkingOutputs {
    /// The VPC.
    pub vpc_id: Known<String>,
    /// Each tier's subnets, one per AZ in AZ order.
    pub subnets: BTreeMap<String, Vec<Known<String>>>,
    /// Each security group by its name in the stack file.
    pub security_groups: BTreeMap<String, Known<String>>,
}

impl NetworkingOutputs {
    /// From the networking crate's outputs (`vpc_id`, `subnets.<tier>`,
    /// `security_group.<name>`): the one place that reads them.
    #[must_use]
    pub fn from_values(values: &BTreeMap<String, String>) -> Self {
        let mut out = Self {
            vpc_id: known(values, "vpc_id"),
            ..Self::default()
        };
        for (key, value) in values {
            if let Some(tier) = key.strip_prefix("subnets.") {
                let ids = value.split(',').map(|id| Known::parse(Some(id))).collect();
                out.subnets.insert(tier.to_owned(), ids);
            } else if let Some(name) = key.strip_prefix("security_group.") {
                out.security_groups
                    .insert(name.to_owned(), Known::parse(Some(value)));
            }
        }
        out
    }

    /// The subnets of `tier`, once every one of them exists.
    #[must_use]
    pub fn subnet_ids(&self, tier: &str) -> Known<Vec<String>> {
        self.subnets
            .get(tier)
            .filter(|ids| !ids.is_empty())
            .and_then(|ids| ids.iter().map(|id| id.value().cloned()).collect())
            .into()
    }

    /// The security group `name`.
    #[must_use]
    pub fn security_group(&self, name: &str) -> Known<String> {
        self.security_groups.get(name).cloned().unwrap_or_default()
    }
}

/// What the identity layer hands its dependents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityOutputs {
    /// The stack's KMS key, which encrypts log groups, topics, secrets and databases.
    pub kms_key_arn: Known<String>,
    /// The role VPC flow logs deliver with, when networking wants one.
    pub flow_logs_role_arn: Known<String>,
}

impl IdentityOutputs {
    /// From the identity layer's outputs (`kms_key_arn`, `flow_logs_role_arn`).
    #[must_use]
    pub fn from_values(values: &BTreeMap<String, String>) -> Self {
        Self {
            kms_key_arn: known(values, "kms_key_arn"),
            flow_logs_role_arn: known(values, "flow_logs_role_arn"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbark_core::KNOWN_AFTER_APPLY;

    #[test]
    fn placeholders_are_after_apply_and_ids_are_values() {
        let values = BTreeMap::from([
            ("vpc_id".to_owned(), "vpc-1".to_owned()),
            ("subnets.private".to_owned(), "subnet-a,subnet-b".to_owned()),
            (
                "subnets.database".to_owned(),
                format!("subnet-c,{KNOWN_AFTER_APPLY}"),
            ),
            (
                "security_group.app".to_owned(),
                KNOWN_AFTER_APPLY.to_owned(),
            ),
            ("security_group.db".to_owned(), "sg-1".to_owned()),
        ]);
        let net = NetworkingOutputs::from_values(&values);
        assert_eq!(net.vpc_id, Known::Value("vpc-1".into()));
        assert_eq!(
            net.subnet_ids("private"),
            Known::Value(vec!["subnet-a".into(), "subnet-b".into()])
        );
        assert_eq!(net.subnet_ids("database"), Known::AfterApply);
        assert_eq!(net.subnet_ids("nope"), Known::AfterApply);
        assert_eq!(net.security_group("app"), Known::AfterApply);
        assert_eq!(net.security_group("db"), Known::Value("sg-1".into()));
        let id = IdentityOutputs::from_values(&BTreeMap::new());
        assert!(!id.kms_key_arn.is_known());
    }
}
