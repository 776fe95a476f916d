//! `ensure_role` against the emulator: create, converge, drift, destroy.

use ironbark_core::{Change, Mode};
use ironbark_identity::document::{PolicyDocument, Statement};
use ironbark_identity::role::{destroy_role, ensure_role, RoleSpec, ServicePrincipal, Trust};

use crate::Phase;

fn spec(managed_arn: &str) -> RoleSpec {
    let mut spec = RoleSpec::for_services(
        "identity/role/api",
        [ServicePrincipal::Lambda, ServicePrincipal::EcsTasks],
    )
    .with_inline(
        "read-media",
        PolicyDocument::new(vec![Statement::allow(
            ["s3:GetObject", "s3:ListBucket"],
            ["arn:aws:s3:::media", "arn:aws:s3:::media/*"],
        )]),
    )
    .with_inline(
        "queue",
        PolicyDocument::new(vec![Statement::allow(["sqs:SendMessage"], ["*"])]),
    )
    .with_managed(managed_arn);
    spec.instance_profile = true;
    spec.description = Some("api tasks".into());
    spec
}

async fn managed_policy(phase: &Phase, name: &str) -> String {
    let iam = ironbark_core::sdk_client!(phase.ctx, aws_sdk_iam);
    let created = iam
        .create_policy()
        .policy_name(name)
        .policy_document(
            PolicyDocument::new(vec![Statement::allow(["logs:PutLogEvents"], ["*"])]).to_json(),
        )
        .send()
        .await;
    match created {
        Ok(out) => out.policy.unwrap().arn.unwrap(),
        // Left by an earlier run against the same emulator.
        Err(e) if ironbark_identity::is_entity_already_exists(&e) => {
            format!("arn:aws:iam::123456789012:policy/{name}")
        }
        Err(e) => panic!("{e:?}"),
    }
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn role_create_converge_drift_destroy() {
    let stack = "role-lifecycle";
    let setup = Phase::new(stack, Mode::Apply).await;
    let managed = managed_policy(&setup, &format!("{}-logs", setup.ctx.stack())).await;
    let spec = spec(&managed);

    // Create.
    let created = ensure_role(&setup.ctx, &spec).await.unwrap();
    assert!(matches!(created.change.change, Change::Create { .. }));
    let arn = created.arn.clone().unwrap();
    assert!(arn.ends_with(&format!(":role/{}", created.name)), "{arn}");
    assert!(created.name.ends_with("-dev-identity-role-api"));
    assert!(created.instance_profile_arn.is_some());

    // Re-run: nothing to do, zero writes in the emulator's own log.
    let rerun = Phase::new(stack, Mode::Apply).await;
    let again = ensure_role(&rerun.ctx, &spec).await.unwrap();
    assert_eq!(again.change.change, Change::NoOp);
    assert_eq!(again.arn.as_deref(), Some(arn.as_str()));
    rerun.assert_no_writes();

    // Drift out of band: an inline policy edited, another added, a tag changed.
    let iam = ironbark_core::sdk_client!(setup.ctx, aws_sdk_iam);
    let name = &created.name;
    iam.put_role_policy()
        .role_name(name)
        .policy_name("read-media")
        .policy_document(PolicyDocument::new(vec![Statement::allow(["s3:*"], ["*"])]).to_json())
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(name)
        .policy_name("by-hand")
        .policy_document(PolicyDocument::new(vec![Statement::allow(["iam:*"], ["*"])]).to_json())
        .send()
        .await
        .unwrap();
    iam.detach_role_policy()
        .role_name(name)
        .policy_arn(&managed)
        .send()
        .await
        .unwrap();

    // Plan reports exactly the drifted fields and writes nothing.
    let plan = Phase::new(stack, Mode::Plan).await;
    let planned = ensure_role(&plan.ctx, &spec).await.unwrap();
    let Change::Update { fields } = &planned.change.change else {
        panic!("expected an update, got {:?}", planned.change);
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        names,
        [
            "inline_policy.read-media",
            "inline_policy.by-hand",
            &format!("managed_policy.{managed}")
        ]
    );
    assert!(fields[0].old.as_deref().unwrap().contains("s3:*"));
    assert_eq!(fields[1].new, None);
    plan.assert_no_writes();

    // Apply fixes it; a further plan is clean.
    let fix = Phase::new(stack, Mode::Apply).await;
    let fixed = ensure_role(&fix.ctx, &spec).await.unwrap();
    assert!(matches!(fixed.change.change, Change::Update { .. }));
    let check = Phase::new(stack, Mode::Plan).await;
    assert_eq!(
        ensure_role(&check.ctx, &spec).await.unwrap().change.change,
        Change::NoOp
    );

    // Destroy removes role, policies and instance profile; a second destroy is a no-op.
    let destroy = Phase::new(stack, Mode::Apply).await;
    let gone = destroy_role(&destroy.ctx, &spec.logical_id).await.unwrap();
    assert_eq!(gone.change, Change::Delete);
    assert!(iam.get_role().role_name(name).send().await.is_err());
    assert!(iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .is_err());
    assert_eq!(
        destroy_role(&destroy.ctx, &spec.logical_id)
            .await
            .unwrap()
            .change,
        Change::NoOp
    );
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn irsa_role_trusts_the_service_account() {
    let phase = Phase::new("role-irsa", Mode::Apply).await;
    let provider =
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/IRSA1";
    let spec = RoleSpec::new(
        "compute/irsa/llm-gateway",
        Trust::Irsa {
            provider_arn: provider.into(),
            namespace: "default".into(),
            service_account: "llm-gateway-sa".into(),
        },
    );
    let out = ensure_role(&phase.ctx, &spec).await.unwrap();
    let iam = ironbark_core::sdk_client!(phase.ctx, aws_sdk_iam);
    let role = iam
        .get_role()
        .role_name(&out.name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = PolicyDocument::parse(role.assume_role_policy_document().unwrap()).unwrap();
    assert!(trust.same_as(&spec.trust.document()));
    assert!(trust
        .to_json()
        .contains("system:serviceaccount:default:llm-gateway-sa"));
    let rerun = Phase::new("role-irsa", Mode::Apply).await;
    assert_eq!(
        ensure_role(&rerun.ctx, &spec).await.unwrap().change.change,
        Change::NoOp
    );
    rerun.assert_no_writes();
    destroy_role(&phase.ctx, &spec.logical_id).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn boundary_and_instance_profile_are_reconciled() {
    let stack = "role-boundary";
    let setup = Phase::new(stack, Mode::Apply).await;
    let boundary = managed_policy(&setup, &format!("{}-boundary", setup.ctx.stack())).await;
    let mut spec = RoleSpec::for_services("identity/role/bastion", [ServicePrincipal::Ec2]);
    spec.instance_profile = true;
    spec.permissions_boundary = Some(boundary.clone());
    spec.max_session_duration = Some(7200);
    let created = ensure_role(&setup.ctx, &spec).await.unwrap();
    let iam = ironbark_core::sdk_client!(setup.ctx, aws_sdk_iam);
    let role = iam
        .get_role()
        .role_name(&created.name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundary.as_str())
    );
    let rerun = Phase::new(stack, Mode::Apply).await;
    assert_eq!(
        ensure_role(&rerun.ctx, &spec).await.unwrap().change.change,
        Change::NoOp
    );
    rerun.assert_no_writes();

    // Out of band: the boundary removed and the role taken out of its instance profile.
    iam.delete_role_permissions_boundary()
        .role_name(&created.name)
        .send()
        .await
        .unwrap();
    iam.remove_role_from_instance_profile()
        .instance_profile_name(&created.name)
        .role_name(&created.name)
        .send()
        .await
        .unwrap();
    let plan = Phase::new(stack, Mode::Plan).await;
    let Change::Update { fields } = ensure_role(&plan.ctx, &spec).await.unwrap().change.change
    else {
        panic!()
    };
    let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["permissions_boundary", "instance_profile"]);
    plan.assert_no_writes();
    let fix = Phase::new(stack, Mode::Apply).await;
    let _ = ensure_role(&fix.ctx, &spec).await.unwrap();
    let check = Phase::new(stack, Mode::Plan).await;
    assert_eq!(
        ensure_role(&check.ctx, &spec).await.unwrap().change.change,
        Change::NoOp
    );
    destroy_role(&fix.ctx, &spec.logical_id).await.unwrap();
}
