//! The request recorder counts what a real client does, and agrees with the emulator's log.

use ironbark_core::ops::OperationClass;
use ironbark_core::Mode;

use crate::{control, emulator_context};

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn recorder_counts_reads_and_writes_like_the_server() {
    let (ctx, key) = emulator_context("recorder_counts", Mode::Apply).await;
    let s3 = ctx.s3();
    let bucket = ctx.physical_name(
        "recorder-probe",
        &ironbark_core::naming::NameRule::S3_BUCKET,
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for i in 0..3 {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("k{i}"))
            .body(Vec::from("x").into())
            .send()
            .await
            .unwrap();
    }
    s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    s3.head_bucket().bucket(&bucket).send().await.unwrap();
    ctx.sts().get_caller_identity().send().await.unwrap();

    let recorded = ctx.recorder().summary();
    assert_eq!(recorded.writes, 4, "{recorded:?}");
    assert_eq!(recorded.reads, 3, "{recorded:?}");
    assert_eq!(recorded.by_operation["S3:PutObject"].calls, 3);
    assert_eq!(
        recorded.by_operation["S3:PutObject"].class,
        OperationClass::Write
    );
    assert_eq!(
        recorded.by_operation["STS:GetCallerIdentity"].class,
        OperationClass::Read
    );

    let server = control().log_summary_for(&key).unwrap();
    assert_eq!(
        (server.reads, server.writes),
        (recorded.reads, recorded.writes),
        "server log: {server:?}"
    );

    ctx.recorder().reset();
    assert_eq!(
        ctx.recorder().summary().reads + ctx.recorder().summary().writes,
        0
    );
    for i in 0..3 {
        s3.delete_object()
            .bucket(&bucket)
            .key(format!("k{i}"))
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
}
