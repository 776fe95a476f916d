//! The deploy lock against the emulator's S3 (conditional writes with If-None-Match/If-Match).
//! Every test runs its context in plan mode: the lock is the one writer exempt from the guard.

use std::sync::Arc;
use std::time::Duration;

use ironbark_core::account::check_account;
use ironbark_core::lock::{self, DeployLock, LockError, LockIdentity, LockOptions};
use ironbark_core::report::CollectingReporter;
use ironbark_core::{Context, Event, Mode};

use crate::control;

const ACCOUNT: &str = "123456789012";

async fn context(test: &str, reporter: Option<Arc<CollectingReporter>>) -> (Context, String) {
    let key = ironbark_testkit::unique_access_key(test);
    let mut builder = Context::builder(format!("it-lock-{}", test.replace('_', "-")), "prod")
        .region("us-east-1")
        .endpoint_url(ironbark_testkit::emulator_url())
        .static_credentials(key.clone(), "testing")
        .mode(Mode::Plan);
    if let Some(r) = reporter {
        builder = builder.reporter(r);
    }
    (builder.build().await, key)
}

fn someone(host: &str, pid: u32) -> LockOptions {
    let mut opts = LockOptions::new(LockIdentity {
        owner: format!("arn:aws:iam::{ACCOUNT}:user/{host}"),
        host: host.to_owned(),
        pid,
        command: "deploy --env prod".to_owned(),
    });
    opts.poll = Duration::from_millis(100);
    opts
}

fn s3(ctx: &Context) -> aws_sdk_s3::Client {
    // A plain client (no guard in the way of the checks below; the test's context is in plan
    // mode).
    let conf = aws_sdk_s3::config::Builder::from(ctx.sdk_config())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn etag_of(ctx: &Context) -> Option<String> {
    let out = s3(ctx)
        .head_object()
        .bucket(lock::bootstrap_bucket(ACCOUNT, "us-east-1"))
        .key(lock::lock_key(ctx.stack(), ctx.env()))
        .send()
        .await
        .ok()?;
    out.e_tag().map(str::to_owned)
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn the_lock_is_exclusive_names_its_holder_and_is_released() {
    let (ctx, key) = context("exclusive", None).await;
    assert_eq!(check_account(&ctx, None).await.unwrap(), ACCOUNT);

    let a = DeployLock::acquire(&ctx, ACCOUNT, &someone("laptop-ann", 11))
        .await
        .expect("a free lock is taken");
    let (bucket, key_) = a.location();
    assert_eq!(bucket, "ironbark-bootstrap-123456789012-us-east-1");
    assert_eq!(key_, "locks/it-lock-exclusive/prod.json");

    // The bootstrap bucket is private and encrypted.
    let client = s3(&ctx);
    let pab = client
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc = client.get_bucket_encryption().bucket(bucket).send().await;
    let algorithm = enc
        .unwrap()
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .sse_algorithm()
        .clone();
    assert_eq!(algorithm.as_str(), "aws:kms");

    // Somebody else is refused, with the holder named.
    let err = DeployLock::acquire(&ctx, ACCOUNT, &someone("ci-runner-7", 22))
        .await
        .expect_err("a held lock is not taken");
    match &err {
        LockError::Held { holder, .. } => {
            assert_eq!(holder.holder.host, "laptop-ann");
            assert_eq!(holder.holder.pid, 11);
        }
        other => panic!("expected Held, got {other:?}"),
    }
    let msg = err.to_string();
    for part in [
        "it-lock-exclusive",
        "laptop-ann",
        "pid 11",
        "deploy --env prod",
    ] {
        assert!(msg.contains(part), "{msg}");
    }
    let observed = lock::holder(&ctx, ACCOUNT).await.unwrap().unwrap();
    assert_eq!(observed.record.as_ref().unwrap().holder.host, "laptop-ann");

    // Released: the object is gone and the next run gets it.
    assert!(a.release().await.unwrap());
    assert_eq!(etag_of(&ctx).await, None);
    let b = DeployLock::acquire(&ctx, ACCOUNT, &someone("ci-runner-7", 22))
        .await
        .expect("a released lock is free");
    assert!(b.release().await.unwrap());

    // The lock's calls bypass the context's recorder (they are not stack resources), and the
    // only writes in the emulator's log for this key are the lock's own.
    let recorded = ctx.recorder().summary();
    assert!(
        recorded
            .by_operation
            .keys()
            .all(|op| op.starts_with("STS:")),
        "{recorded:?}"
    );
    let writes = control().log_summary_for(&key).unwrap();
    for op in writes.write_operations() {
        assert!(
            [
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:CreateBucket",
                "s3:PutBucketTagging",
                "s3:PutPublicAccessBlock",
                "s3:PutBucketEncryption",
            ]
            .contains(&op),
            "unexpected write {op}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn of_eight_concurrent_runs_exactly_one_gets_the_lock() {
    let (ctx, _) = context("race", None).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8u32 {
        let ctx = ctx.clone();
        set.spawn(async move {
            DeployLock::acquire(&ctx, ACCOUNT, &someone(&format!("runner-{i}"), 100 + i)).await
        });
    }
    let results = set.join_all().await;
    let (won, lost): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(won.len(), 1, "{lost:?}");
    let winner = won.into_iter().next().unwrap().unwrap();
    let host = winner.record().holder.host.clone();
    for err in lost {
        match err.unwrap_err() {
            LockError::Held { holder, .. } => assert_eq!(holder.holder.host, host),
            other => panic!("expected Held, got {other:?}"),
        }
    }
    assert!(winner.release().await.unwrap());
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn a_dead_process_of_this_host_is_taken_over_and_the_old_holder_stops() {
    let reporter = Arc::new(CollectingReporter::default());
    let (ctx, _) = context("dead_pid", Some(reporter.clone())).await;
    // A pid that existed and is gone.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let me = LockIdentity::current("arn:aws:iam::123456789012:user/me", "deploy --env prod");

    // "A" records the dead pid of this host but is in fact still beating.
    let mut a_opts = someone(&me.host, dead);
    a_opts.heartbeat = Duration::from_millis(200);
    let a = DeployLock::acquire(&ctx, ACCOUNT, &a_opts).await.unwrap();
    let before = etag_of(&ctx).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let beaten = etag_of(&ctx).await.unwrap();
    assert_ne!(before, beaten, "the heartbeat rewrites the lock object");

    // This process takes it over at once (no waiting for staleness) and says whose it was.
    let mut b_opts = LockOptions::new(me);
    b_opts.heartbeat = Duration::from_secs(3600);
    let b = DeployLock::acquire(&ctx, ACCOUNT, &b_opts).await.unwrap();
    let warned = reporter.events().into_iter().any(|e| {
        matches!(e, Event::Warning { message, .. }
            if message.contains("took over") && message.contains(&format!("pid {dead}")) && message.contains("no longer runs"))
    });
    assert!(warned, "{:?}", reporter.events());

    // A's next heartbeat finds it lost, naming the new holder; A cannot release B's lock.
    let lost = tokio::time::timeout(Duration::from_secs(10), a.lost())
        .await
        .expect("the old holder learns it lost the lock");
    let msg = lost.to_string();
    assert!(
        msg.contains("taken over by") && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(!a.release().await.unwrap(), "A must not delete B's lock");
    assert!(etag_of(&ctx).await.is_some(), "B's lock is still there");
    assert!(b.release().await.unwrap());
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn a_lock_without_heartbeat_is_taken_over_when_stale() {
    let reporter = Arc::new(CollectingReporter::default());
    let (ctx, _) = context("stale", Some(reporter.clone())).await;
    let mut crashed = someone("crashed-runner", 5);
    crashed.heartbeat = Duration::from_secs(3600); // never beats again: a crashed run
    let a = DeployLock::acquire(&ctx, ACCOUNT, &crashed).await.unwrap();

    let mut b_opts = someone("laptop-bob", 6);
    b_opts.stale_after = Duration::from_secs(2);
    let held = DeployLock::acquire(&ctx, ACCOUNT, &b_opts).await;
    assert!(matches!(held, Err(LockError::Held { .. })), "{held:?}");
    // S3's Last-Modified has one-second resolution: wait past stale_after plus that.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let b = DeployLock::acquire(&ctx, ACCOUNT, &b_opts)
        .await
        .expect("a stale lock is taken over");
    assert!(reporter.events().into_iter().any(|e| matches!(e,
        Event::Warning { message, .. } if message.contains("crashed-runner") && message.contains("no heartbeat"))));
    assert!(!a.release().await.unwrap());
    assert!(b.release().await.unwrap());
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn a_waiting_run_gets_the_lock_when_the_holder_releases_it() {
    let reporter = Arc::new(CollectingReporter::default());
    let (ctx, _) = context("wait", Some(reporter.clone())).await;
    let a = DeployLock::acquire(&ctx, ACCOUNT, &someone("laptop-ann", 1))
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        a.release().await.unwrap()
    });
    let mut b_opts = someone("ci-runner-2", 2);
    b_opts.wait = Duration::from_secs(20);
    let b = DeployLock::acquire(&ctx, ACCOUNT, &b_opts)
        .await
        .expect("the lock is taken once released");
    assert!(release.await.unwrap());
    let events = reporter.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Waiting { status, .. } if status.contains("laptop-ann"))),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(Event::Done { resource, .. }) if resource == lock::LOCK_RESOURCE),
        "{events:?}"
    );
    assert!(b.release().await.unwrap());
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn force_unlock_evicts_a_live_holder_which_then_stops() {
    let (ctx, _) = context("unlock", None).await;
    let mut opts = someone("stuck-runner", 9);
    opts.heartbeat = Duration::from_millis(200);
    let a = DeployLock::acquire(&ctx, ACCOUNT, &opts).await.unwrap();
    let observed = lock::holder(&ctx, ACCOUNT).await.unwrap().unwrap();
    assert!(lock::force_unlock(&ctx, ACCOUNT, &observed).await.unwrap());
    let lost = tokio::time::timeout(Duration::from_secs(10), a.lost())
        .await
        .expect("the evicted holder learns it");
    assert!(lost.to_string().contains("deleted"), "{lost}");
    assert!(lock::holder(&ctx, ACCOUNT).await.unwrap().is_none());
    // Unlocking what is gone is a no-op, and so is the evicted holder's release.
    assert!(lock::force_unlock(&ctx, ACCOUNT, &observed).await.unwrap());
    a.release().await.unwrap();
    assert!(lock::holder(&ctx, ACCOUNT).await.unwrap().is_none());
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn a_run_without_the_lock_removes_only_a_dead_process_of_this_hosts_lock() {
    let reporter = Arc::new(CollectingReporter::default());
    let (ctx, _) = context("dead_cleanup", Some(reporter.clone())).await;
    let me = LockIdentity::current("arn:aws:iam::123456789012:user/me", "plan --env prod");
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();

    // Nothing to remove when there is no lock (nor bootstrap bucket yet).
    assert_eq!(
        lock::remove_dead_holder(&ctx, ACCOUNT, &me).await.unwrap(),
        None
    );

    // A live process of this host, and any process of another host: left alone.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    for (host, pid) in [
        (me.host.clone(), sleeper.id()),
        ("ci-runner-3".into(), dead),
    ] {
        let mut opts = someone(&host, pid);
        opts.heartbeat = Duration::from_secs(3600);
        let held = DeployLock::acquire(&ctx, ACCOUNT, &opts).await.unwrap();
        let before = etag_of(&ctx).await;
        assert_eq!(
            lock::remove_dead_holder(&ctx, ACCOUNT, &me).await.unwrap(),
            None,
            "{host} pid {pid}"
        );
        assert_eq!(etag_of(&ctx).await, before, "{host} pid {pid}: untouched");
        assert!(held.release().await.unwrap());
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(
        !reporter
            .events()
            .iter()
            .any(|e| matches!(e, Event::Warning { .. })),
        "{:?}",
        reporter.events()
    );

    // A run of this host that died holding the lock (it never beats again): removed, with a
    // warning naming it.
    let mut opts = someone(&me.host, dead);
    opts.heartbeat = Duration::from_secs(3600);
    let killed = DeployLock::acquire(&ctx, ACCOUNT, &opts).await.unwrap();
    let removed = lock::remove_dead_holder(&ctx, ACCOUNT, &me)
        .await
        .unwrap()
        .expect("the dead run's lock is removed");
    assert_eq!(removed.holder.pid, dead);
    assert!(etag_of(&ctx).await.is_none(), "the lock object is gone");
    let warned = reporter.events().into_iter().any(|e| {
        matches!(e, Event::Warning { message, .. }
            if message.contains("removed the deploy lock") && message.contains(&format!("pid {dead}")) && message.contains("no longer runs"))
    });
    assert!(warned, "{:?}", reporter.events());
    // Again: nothing left to remove.
    assert_eq!(
        lock::remove_dead_holder(&ctx, ACCOUNT, &me).await.unwrap(),
        None
    );
    drop(killed);
}
