//! Read/write classification of AWS operation names, shared by the plan-mode guard and the
//! request recorder.

use serde::{Deserialize, Serialize};

/// Whether an AWS operation only reads state or may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationClass {
    /// The operation reads state only (`Describe*`, `Get*`, `List*`, ...).
    Read,
    /// The operation may change state. Anything not known to be a read is a write.
    Write,
}

/// Name prefixes of operations that never change state, across the AWS services Ironbark uses.
const READ_PREFIXES: &[&str] = &[
    "Describe", "Get", "List", "Head", "Lookup", "Search", "Check", "BatchGet", "Scan", "Query",
    "Select", "Validate", "Preview", "Estimate", "Simulate", "Test",
];

/// Classifies an operation by its AWS name (`DescribeVpcs`, `CreateBucket`, ...).
///
/// Unknown names are writes: the guard built on this refuses rather than lets a write through.
/// `TestInvokeMethod`, `SimulatePrincipalPolicy` and the like are reads although they sound
/// active; the list is deliberately prefix-based so new read operations are covered without a
/// code change.
#[must_use]
pub fn classify(operation: &str) -> OperationClass {
    let is_read = READ_PREFIXES.iter().any(|prefix| {
        operation
            .strip_prefix(prefix)
            // `Get` must be followed by an upper-case letter: `Getaway` is not a read.
            .is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
            })
    });
    if is_read {
        OperationClass::Read
    } else {
        OperationClass::Write
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_told_apart() {
        for read in [
            "DescribeVpcs",
            "GetCallerIdentity",
            "ListBuckets",
            "HeadBucket",
            "Query",
            "BatchGetItem",
        ] {
            assert_eq!(classify(read), OperationClass::Read, "{read}");
        }
        for write in [
            "CreateVpc",
            "PutObject",
            "DeleteBucket",
            "AuthorizeSecurityGroupIngress",
            "Getaway",
            "ExecuteStatement",
            "",
        ] {
            assert_eq!(classify(write), OperationClass::Write, "{write}");
        }
    }
}
