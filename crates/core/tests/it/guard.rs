//! The plan-mode write guard with real clients against the emulator.

use ironbark_core::guard::is_plan_mode_write;
use ironbark_core::Mode;

use crate::{control, emulator_context};

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn plan_mode_rejects_writes_before_they_are_sent() {
    let (ctx, key) = emulator_context("guard_rejects", Mode::Plan).await;
    let s3 = ctx.s3();
    let bucket = ctx.physical_name("guard-probe", &ironbark_core::naming::NameRule::S3_BUCKET);

    // Reads go through in plan mode.
    s3.list_buckets()
        .send()
        .await
        .expect("a read is allowed in plan mode");

    // A write is refused by the guard, with an error that says so.
    let err = s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect_err("a write must be refused in plan mode");
    assert!(is_plan_mode_write(&err), "not a guard error: {err:?}");
    let chain = format!("{:?}", err);
    assert!(chain.contains("CreateBucket"), "{chain}");

    // The emulator never saw it: its log for this access key holds only the read.
    let summary = control().log_summary_for(&key).unwrap();
    assert_eq!(
        summary.writes,
        0,
        "writes reached the emulator: {:?}",
        summary.write_operations()
    );
    assert!(
        summary.by_operation.contains_key("s3:ListBuckets"),
        "{summary:?}"
    );
    // The recorder saw the attempt as a call but made no HTTP attempt for it.
    let recorded = ctx.recorder().summary();
    assert_eq!(
        recorded.by_operation["S3:CreateBucket"].attempts, 0,
        "{recorded:?}"
    );

    // Switching the same context (and the same client) to apply lets the write through.
    ctx.set_mode(Mode::Apply);
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("apply mode allows writes");
    let summary = control().log_summary_for(&key).unwrap();
    assert_eq!(summary.write_operations(), ["s3:CreateBucket"]);
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
}
