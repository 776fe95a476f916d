//! `ensure_oidc_provider` and `ensure_managed_policy` against the emulator.

use ironbark_core::{Change, Mode};
use ironbark_identity::document::{PolicyDocument, Statement};
use ironbark_identity::oidc::{destroy_oidc_provider, ensure_oidc_provider, OidcProviderSpec};
use ironbark_identity::policy::{destroy_managed_policy, ensure_managed_policy, ManagedPolicySpec};

use crate::Phase;

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn oidc_provider_create_converge_drift_destroy() {
    let stack = "oidc";
    let issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/IRONBARKOIDC1";
    let mut spec = OidcProviderSpec::for_eks("compute/eks/oidc", issuer);
    spec.thumbprints = Some(["9e99a48a9960b14926bb7f3b02e22da2b0ab7280".to_owned()].into());
    let create = Phase::new(stack, Mode::Apply).await;
    let out = ensure_oidc_provider(&create.ctx, &spec).await.unwrap();
    assert!(out
        .arn
        .ends_with(":oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/IRONBARKOIDC1"));
    let rerun = Phase::new(stack, Mode::Apply).await;
    assert_eq!(
        ensure_oidc_provider(&rerun.ctx, &spec)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    rerun.assert_no_writes();

    let iam = ironbark_core::sdk_client!(create.ctx, aws_sdk_iam);
    // Drift: an audience added by hand and the pinned thumbprint replaced.
    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&out.arn)
        .client_id("someone-else")
        .send()
        .await
        .unwrap();
    iam.update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&out.arn)
        .thumbprint_list("0".repeat(40))
        .send()
        .await
        .unwrap();
    let plan = Phase::new(stack, Mode::Plan).await;
    let Change::Update { fields } = ensure_oidc_provider(&plan.ctx, &spec)
        .await
        .unwrap()
        .change
        .change
    else {
        panic!()
    };
    let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["client_ids", "thumbprints"]);
    plan.assert_no_writes();
    let fix = Phase::new(stack, Mode::Apply).await;
    let _ = ensure_oidc_provider(&fix.ctx, &spec).await.unwrap();
    let check = Phase::new(stack, Mode::Plan).await;
    assert_eq!(
        ensure_oidc_provider(&check.ctx, &spec)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    assert_eq!(
        destroy_oidc_provider(&fix.ctx, &spec.logical_id, issuer)
            .await
            .unwrap()
            .change,
        Change::Delete
    );
    assert!(iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&out.arn)
        .send()
        .await
        .is_err());
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn managed_policy_versions_follow_the_document() {
    let stack = "managed-policy";
    let mut spec = ManagedPolicySpec {
        logical_id: "identity/policy/boundary".into(),
        description: None,
        document: PolicyDocument::new(vec![Statement::allow(
            ["s3:GetObject", "s3:ListBucket"],
            ["*"],
        )]),
    };
    let create = Phase::new(stack, Mode::Apply).await;
    let out = ensure_managed_policy(&create.ctx, &spec).await.unwrap();
    assert!(matches!(out.change.change, Change::Create { .. }));
    let rerun = Phase::new(stack, Mode::Apply).await;
    assert_eq!(
        ensure_managed_policy(&rerun.ctx, &spec)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    rerun.assert_no_writes();
    // Six changes: the five-version limit is handled by deleting the oldest.
    for i in 0..6 {
        spec.document =
            PolicyDocument::new(vec![Statement::allow([format!("s3:Action{i}")], ["*"])]);
        let phase = Phase::new(stack, Mode::Apply).await;
        let out = ensure_managed_policy(&phase.ctx, &spec).await.unwrap();
        assert!(matches!(out.change.change, Change::Update { .. }));
    }
    let check = Phase::new(stack, Mode::Plan).await;
    assert_eq!(
        ensure_managed_policy(&check.ctx, &spec)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    assert_eq!(
        destroy_managed_policy(&create.ctx, &spec.logical_id)
            .await
            .unwrap()
            .change,
        Change::Delete
    );
}
