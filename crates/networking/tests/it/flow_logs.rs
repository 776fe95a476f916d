//! Flow logs: log group with retention and the VPC's flow log; created, converged, drift in
//! retention repaired, destroyed with the VPC.

use ironbark_core::plan::Change;
use ironbark_core::Mode;
use ironbark_networking::flow_logs;

use crate::{profile, writes_between, Harness};

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn flow_logs_create_converge_drift_destroy() {
    let h = Harness::new("flow_logs").await;
    let cfg = profile("dev");
    let net = ironbark_networking::ensure_networking(&h.ctx, &cfg.networking, cfg.az_count)
        .await
        .unwrap();
    let vpc = net.outputs["vpc_id"].clone();
    let role = "arn:aws:iam::123456789012:role/flow-logs";

    let group = flow_logs::ensure_log_group(&h.ctx, 14).await.unwrap();
    let log = flow_logs::ensure_flow_log(&h.ctx, Some(&vpc), Some(role))
        .await
        .unwrap();
    assert!(matches!(group.change.change, Change::Create { .. }));
    assert!(
        log.id.as_deref().is_some_and(|id| id.starts_with("fl-")),
        "{log:?}"
    );
    let observed = flow_logs::observe(&h.ctx)
        .await
        .unwrap()
        .expect("the flow log exists");
    assert_eq!(
        (
            observed.log_group.as_str(),
            observed.role_arn.as_str(),
            observed.traffic.as_str()
        ),
        (group.id.as_deref().unwrap(), role, "ALL")
    );

    // Converged: no writes.
    let before = h.requests();
    assert_eq!(
        flow_logs::ensure_log_group(&h.ctx, 14)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    assert_eq!(
        flow_logs::ensure_flow_log(&h.ctx, Some(&vpc), Some(role))
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    assert_eq!(writes_between(&before, &h.requests()), Default::default());

    // Retention changed out of band: planned as a field diff, repaired.
    let logs = ironbark_core::sdk_client!(h.ctx, aws_sdk_cloudwatchlogs);
    logs.put_retention_policy()
        .log_group_name(group.id.as_deref().unwrap())
        .retention_in_days(3)
        .send()
        .await
        .unwrap();
    h.ctx.set_mode(Mode::Plan);
    let planned = flow_logs::ensure_log_group(&h.ctx, 14)
        .await
        .unwrap()
        .change
        .change;
    assert!(
        matches!(&planned, Change::Update { fields } if fields[0].field == "retention_days" && fields[0].old.as_deref() == Some("3")),
        "{planned:?}"
    );
    h.ctx.set_mode(Mode::Apply);
    let _ = flow_logs::ensure_log_group(&h.ctx, 14).await.unwrap();
    assert_eq!(
        flow_logs::ensure_log_group(&h.ctx, 14)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );

    // Destroy removes the flow log and the log group with the rest.
    ironbark_networking::destroy_networking(&h.ctx)
        .await
        .unwrap();
    assert!(flow_logs::observe(&h.ctx).await.unwrap().is_none());
    let left = logs
        .describe_log_groups()
        .log_group_name_prefix(group.id.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert!(left.log_groups().is_empty());
    assert_eq!(h.census().await, (0, 0, 0, 0));
}
