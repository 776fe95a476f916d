//! `ensure_key` against the emulator: create, converge, rotation drift, crash recovery, destroy.

use ironbark_core::{Change, Mode};
use ironbark_identity::kms::{alias_name, destroy_key, ensure_key, KeySpec};

use crate::Phase;

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn key_create_converge_drift_destroy() {
    let stack = "kms-lifecycle";
    let spec = KeySpec::new("main", ["logs.us-east-1.amazonaws.com".to_owned()]);
    let create = Phase::new(stack, Mode::Apply).await;
    let created = ensure_key(&create.ctx, &spec).await.unwrap();
    assert!(matches!(created.change.change, Change::Create { .. }));
    assert_eq!(
        created.alias,
        format!("alias/{}-dev-main", create.ctx.stack())
    );
    let key_id = created.key_id.clone().unwrap();
    let kms = ironbark_core::sdk_client!(create.ctx, aws_sdk_kms);
    assert!(kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled());

    let rerun = Phase::new(stack, Mode::Apply).await;
    let again = ensure_key(&rerun.ctx, &spec).await.unwrap();
    assert_eq!(again.change.change, Change::NoOp);
    assert_eq!(again.key_id.as_deref(), Some(key_id.as_str()));
    rerun.assert_no_writes();

    // Drift: rotation disabled and the policy replaced out of band.
    kms.disable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let plan = Phase::new(stack, Mode::Plan).await;
    let planned = ensure_key(&plan.ctx, &spec).await.unwrap();
    let Change::Update { fields } = &planned.change.change else {
        panic!("{:?}", planned.change)
    };
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].field, "rotation");
    assert_eq!(
        (fields[0].old.as_deref(), fields[0].new.as_deref()),
        (Some("false"), Some("true"))
    );
    plan.assert_no_writes();
    let fix = Phase::new(stack, Mode::Apply).await;
    assert!(matches!(
        ensure_key(&fix.ctx, &spec).await.unwrap().change.change,
        Change::Update { .. }
    ));
    assert!(kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled());

    // Destroy schedules deletion (never immediate) and removes the alias; a later ensure
    // refuses to revive or replace silently... it creates a fresh key, the old one stays
    // pending deletion and recoverable.
    let destroy = Phase::new(stack, Mode::Apply).await;
    let gone = destroy_key(&destroy.ctx, "main", 7).await.unwrap();
    assert_eq!(gone.change, Change::Delete);
    let meta = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state().unwrap().as_str(), "PendingDeletion");
    assert!(kms
        .describe_key()
        .key_id(alias_name(&destroy.ctx, "main"))
        .send()
        .await
        .is_err());
    assert_eq!(
        destroy_key(&destroy.ctx, "main", 7).await.unwrap().change,
        Change::NoOp
    );
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn key_left_without_alias_by_a_crash_is_adopted() {
    let stack = "kms-crash";
    let spec = KeySpec::new("data", Vec::new());
    let first = Phase::new(stack, Mode::Apply).await;
    let created = ensure_key(&first.ctx, &spec).await.unwrap();
    let kms = ironbark_core::sdk_client!(first.ctx, aws_sdk_kms);
    // Simulate a crash between CreateKey and CreateAlias.
    kms.delete_alias()
        .alias_name(&created.alias)
        .send()
        .await
        .unwrap();
    let second = Phase::new(stack, Mode::Apply).await;
    let adopted = ensure_key(&second.ctx, &spec).await.unwrap();
    assert_eq!(adopted.key_id, created.key_id, "a second key was created");
    let Change::Update { fields } = &adopted.change.change else {
        panic!("{:?}", adopted.change)
    };
    assert_eq!(fields[0].field, "alias");
    let log = second.server_log();
    assert_eq!(log.write_operations(), ["kms:CreateAlias"], "{log:?}");
    destroy_key(&second.ctx, "data", 7).await.unwrap();
}
