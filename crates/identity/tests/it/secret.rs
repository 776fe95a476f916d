//! `ensure_secret` against the emulator: a generated value created once and never shown,
//! JSON values reconciled, destroy.

use std::collections::BTreeMap;

use ironbark_core::{Change, Mode};
use ironbark_identity::secret::{destroy_secret, ensure_secret, Generator, SecretSpec};
use secrecy::SecretString;

use crate::Phase;

async fn current_value(phase: &Phase, name: &str) -> String {
    let sm = ironbark_core::sdk_client!(phase.ctx, aws_sdk_secretsmanager);
    sm.get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap()
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn generated_secret_is_created_once_and_never_shown() {
    let stack = "secret-generated";
    let mut spec = SecretSpec::generated(
        "database/master",
        Generator {
            length: 40,
            ..Generator::default()
        },
    );
    spec.description = Some("database master password".into());
    let create = Phase::new(stack, Mode::Apply).await;
    let out = ensure_secret(&create.ctx, &spec).await.unwrap();
    assert!(matches!(out.change.change, Change::Create { .. }));
    assert_eq!(
        out.name,
        format!("{}/dev/database/master", create.ctx.stack())
    );
    let value = current_value(&create, &out.name).await;
    assert_eq!(value.chars().count(), 40);

    // Re-run: no write, the value is unchanged (never regenerated).
    let rerun = Phase::new(stack, Mode::Apply).await;
    let again = ensure_secret(&rerun.ctx, &spec).await.unwrap();
    assert_eq!(again.change.change, Change::NoOp);
    rerun.assert_no_writes();
    // The generated value is never read back either.
    assert!(!rerun
        .server_log()
        .by_operation
        .contains_key("SecretsManager:GetSecretValue"));
    assert_eq!(current_value(&rerun, &out.name).await, value);

    // Nothing Ironbark produced holds the value.
    let mut text = format!("{out:?}\n{again:?}\n{spec:?}\n");
    for phase in [&create, &rerun] {
        for event in phase.events.events() {
            text.push_str(&serde_json::to_string(&event).unwrap());
        }
    }
    text.push_str(&serde_json::to_string(&spec).unwrap());
    assert!(!text.contains(&value), "the generated value leaked");

    let destroy = Phase::new(stack, Mode::Apply).await;
    assert_eq!(
        destroy_secret(&destroy.ctx, &spec.logical_id, 7)
            .await
            .unwrap()
            .change,
        Change::Delete
    );
    assert_eq!(
        destroy_secret(&destroy.ctx, &spec.logical_id, 7)
            .await
            .unwrap()
            .change,
        Change::NoOp
    );
    // A secret scheduled for deletion is refused, never silently restored or replaced.
    let err = ensure_secret(&destroy.ctx, &spec).await.unwrap_err();
    let err_text = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(
        !err_text.contains(&value),
        "the generated value leaked into an error"
    );
    assert!(
        err.to_string()
            .contains(&format!("refusing to change secret {}", out.name)),
        "{err}"
    );
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn json_secret_drift_is_sensitive_and_fixed() {
    let stack = "secret-json";
    let fields = |secret: &str| -> BTreeMap<String, SecretString> {
        [
            ("client_id".to_owned(), SecretString::from("abc123")),
            (
                "client_secret".to_owned(),
                SecretString::from(secret.to_owned()),
            ),
        ]
        .into()
    };
    let spec = SecretSpec::json("auth/m2m", fields("first-value-9f8e"));
    let create = Phase::new(stack, Mode::Apply).await;
    let out = ensure_secret(&create.ctx, &spec).await.unwrap();
    let stored: serde_json::Value =
        serde_json::from_str(&current_value(&create, &out.name).await).unwrap();
    assert_eq!(stored["client_secret"], "first-value-9f8e");

    let rerun = Phase::new(stack, Mode::Apply).await;
    assert_eq!(
        ensure_secret(&rerun.ctx, &spec)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    rerun.assert_no_writes();

    let changed = SecretSpec::json("auth/m2m", fields("second-value-7d6c"));
    let plan = Phase::new(stack, Mode::Plan).await;
    let planned = ensure_secret(&plan.ctx, &changed).await.unwrap();
    let Change::Update { fields: diffs } = &planned.change.change else {
        panic!("{:?}", planned.change)
    };
    assert_eq!(diffs.len(), 1);
    assert!(diffs[0].sensitive && diffs[0].old.is_none() && diffs[0].new.is_none());
    plan.assert_no_writes();
    let rendered = format!("{planned:?}");
    assert!(!rendered.contains("first-value-9f8e") && !rendered.contains("second-value-7d6c"));

    let fix = Phase::new(stack, Mode::Apply).await;
    let _ = ensure_secret(&fix.ctx, &changed).await.unwrap();
    let stored: serde_json::Value =
        serde_json::from_str(&current_value(&fix, &out.name).await).unwrap();
    assert_eq!(stored["client_secret"], "second-value-7d6c");
    destroy_secret(&fix.ctx, &spec.logical_id, 7).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn plan_of_a_fresh_identity_writes_nothing() {
    use ironbark_identity::kms::{ensure_key, KeySpec};
    use ironbark_identity::role::{ensure_role, RoleSpec, ServicePrincipal};
    let plan = Phase::new("fresh-plan", Mode::Plan).await;
    let role = ensure_role(
        &plan.ctx,
        &RoleSpec::for_services("identity/role/x", [ServicePrincipal::Lambda]),
    )
    .await
    .unwrap();
    assert!(matches!(role.change.change, Change::Create { .. }) && role.arn.is_none());
    let key = ensure_key(&plan.ctx, &KeySpec::new("x", Vec::new()))
        .await
        .unwrap();
    assert!(matches!(key.change.change, Change::Create { .. }) && key.arn.is_none());
    let secret = ensure_secret(&plan.ctx, &SecretSpec::generated("x", Generator::default()))
        .await
        .unwrap();
    assert!(matches!(secret.change.change, Change::Create { .. }) && secret.arn.is_none());
    plan.assert_no_writes();
}
