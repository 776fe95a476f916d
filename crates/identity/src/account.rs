//! The caller's partition and account, for ARNs IAM does not return by name lookup
//! (customer managed policies, OIDC providers).

use ironbark_core::reconcile::AwsError;
use ironbark_core::Context;

use crate::error::IdentityError;

/// The partition (`aws`, `aws-cn`, `aws-us-gov`) and account id of the caller.
///
/// # Errors
/// When `sts:GetCallerIdentity` fails.
pub async fn caller(ctx: &Context) -> Result<(String, String), IdentityError> {
    let me = ctx
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(AwsError::map("read", "caller identity", "sts"))?;
    let arn = me.arn().unwrap_or("arn:aws:");
    let partition = arn.split(':').nth(1).unwrap_or("aws").to_owned();
    let account = me
        .account()
        .ok_or_else(|| IdentityError::missing("caller identity", "sts", "account"))?
        .to_owned();
    Ok((partition, account))
}
