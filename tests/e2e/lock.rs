//! The deploy lock through the CLI: a deploy while another run holds the lock is refused,
//! naming that run, before anything is written; `unlock` shows and removes it; `plan` (which
//! writes nothing) is not blocked; a running deploy holds the lock and releases it; Ctrl-C or
//! SIGTERM stops a deploy and releases its lock; a deploy killed (SIGKILL) while holding it is
//! taken over at once by the next run.

use std::time::Duration;

use ironbark_core::lock::{self, DeployLock, LockIdentity, LockOptions};
use ironbark_core::Context;

use crate::{census, emulator_ctx, ironbark, ironbark_command, text};

const ACCOUNT: &str = "123456789012";

/// Starts `deploy --env dev` of `stack` in the background, progress into `log` (a pipe nobody
/// reads could fill up and stall it).
fn spawn_deploy(stack: &str, log: &std::path::Path) -> std::process::Child {
    ironbark_command(stack, &["deploy", "--env", "dev", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until the lock of `ctx`'s stack and env is held, and returns its record.
fn wait_for_lock(
    rt: &tokio::runtime::Runtime,
    ctx: &Context,
    child: &mut std::process::Child,
) -> lock::LockRecord {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(observed) = rt.block_on(lock::holder(ctx, ACCOUNT)).unwrap() {
            return observed.record.expect("an Ironbark lock record");
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the deploy ended without the lock ever being seen"
        );
        assert!(std::time::Instant::now() < deadline, "no lock appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn a_deploy_during_another_run_is_refused_naming_it_and_unlock_frees_it() {
    let stack = "e2e-lock";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = emulator_ctx(&rt, stack, "prod");
    let mut opts = LockOptions::new(LockIdentity {
        owner: format!("arn:aws:iam::{ACCOUNT}:user/ann"),
        host: "ci-runner-7".into(),
        pid: 4242,
        command: "destroy --env prod".into(),
    });
    opts.heartbeat = Duration::from_secs(3600);
    let held = rt
        .block_on(DeployLock::acquire(&ctx, ACCOUNT, &opts))
        .unwrap();

    let deploy = ironbark(stack, &["deploy", "--env", "prod", "--yes"]);
    assert_eq!(deploy.status.code(), Some(1), "{}", text(&deploy));
    let err = String::from_utf8_lossy(&deploy.stderr);
    for part in [
        "is locked",
        "ci-runner-7",
        "pid 4242",
        "destroy --env prod",
        "user/ann",
        "--lock-timeout",
    ] {
        assert!(err.contains(part), "{part}: {}", text(&deploy));
    }
    assert_eq!(rt.block_on(census(stack)), (0, 0, 0, 0), "nothing written");

    // plan writes nothing and takes no lock, but says who is deploying.
    let plan = ironbark(stack, &["plan", "--env", "prod"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let warned = String::from_utf8_lossy(&plan.stderr);
    assert!(
        warned.contains("holds the deploy lock") && warned.contains("ci-runner-7"),
        "{}",
        text(&plan)
    );

    // destroy with nothing to destroy needs no lock: it looks, finds nothing, ends.
    let destroy = ironbark(stack, &["destroy", "--env", "prod", "--yes"]);
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));

    // unlock names the holder and removes the lock.
    let unlock = ironbark(stack, &["unlock", "--env", "prod", "--yes"]);
    assert_eq!(unlock.status.code(), Some(0), "{}", text(&unlock));
    let out = String::from_utf8_lossy(&unlock.stdout);
    assert!(
        out.contains("ci-runner-7") && out.contains("Removed"),
        "{}",
        text(&unlock)
    );
    assert!(rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_none());
    let again = ironbark(stack, &["unlock", "--env", "prod", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("No deploy lock"));
    rt.block_on(held.release()).unwrap();
}

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn a_deploy_holds_the_lock_while_it_runs() {
    let stack = "e2e-lock-run";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = emulator_ctx(&rt, stack, "dev");
    let log = ironbark_testkit::target_dir().join("e2e-lock-run.stderr");
    let mut child = spawn_deploy(stack, &log);

    // The lock object appears, naming the running deploy.
    let record = wait_for_lock(&rt, &ctx, &mut child);
    assert_eq!(record.holder.pid, child.id());
    assert_eq!(record.holder.command, "deploy --env dev");
    assert_eq!((record.stack.as_str(), record.env.as_str()), (stack, "dev"));

    // Meanwhile another run is refused, naming it.
    let other = LockOptions::new(LockIdentity {
        owner: "someone-else".into(),
        host: "ci-runner-9".into(),
        pid: 1,
        command: "deploy --env dev".into(),
    });
    let refused = rt.block_on(DeployLock::acquire(&ctx, ACCOUNT, &other));
    match refused {
        Err(lock::LockError::Held { holder, .. }) => assert_eq!(holder.holder.pid, child.id()),
        other => panic!("expected the running deploy to hold the lock: {other:?}"),
    }

    // The deploy finishes and releases the lock.
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_none());

    let destroy = ironbark(
        stack,
        &["destroy", "--env", "dev", "--yes", "--allow-protected"],
    );
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
    assert!(rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_none());
}

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn a_deploy_killed_holding_the_lock_is_taken_over_at_once_by_the_next_run() {
    let stack = "e2e-lock-kill";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = emulator_ctx(&rt, stack, "dev");
    let log = ironbark_testkit::target_dir().join("e2e-lock-kill.stderr");
    let mut child = spawn_deploy(stack, &log);
    let record = wait_for_lock(&rt, &ctx, &mut child);
    let pid = child.id();
    assert_eq!(record.holder.pid, pid);
    child.kill().unwrap(); // SIGKILL while holding the lock
    child.wait().unwrap();
    assert!(
        rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_some(),
        "the killed run could not release its lock"
    );

    // No waiting for the 5-minute staleness: the process is gone from this host.
    let finish = ironbark(stack, &["deploy", "--env", "dev", "--yes"]);
    assert_eq!(finish.status.code(), Some(0), "{}", text(&finish));
    let err = String::from_utf8_lossy(&finish.stderr);
    assert!(
        err.contains("took over the lock")
            && err.contains(&format!("pid {pid}"))
            && err.contains("no longer runs on this host"),
        "{}",
        text(&finish)
    );
    assert!(rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_none());
    let plan = ironbark(stack, &["plan", "--env", "dev"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));

    // A run killed after its last change leaves its lock on a converged stack: the next plan,
    // deploy or destroy finds nothing to change and takes no lock, yet removes that one.
    for command in [
        &["plan", "--env", "dev"][..],
        &["deploy", "--env", "dev", "--yes"],
    ] {
        let dead = plant_dead_lock(&rt, &ctx);
        let out = ironbark(stack, command);
        assert_eq!(out.status.code(), Some(0), "{command:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("removed the deploy lock")
                && err.contains(&format!("pid {dead}"))
                && err.contains("no longer runs on this host")
                && !err.contains("holds the deploy lock"),
            "{command:?}: {}",
            text(&out)
        );
        assert!(
            rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_none(),
            "{command:?}: the dead run's lock is gone"
        );
    }
    let destroy = ironbark(
        stack,
        &["destroy", "--env", "dev", "--yes", "--allow-protected"],
    );
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
    let dead = plant_dead_lock(&rt, &ctx);
    let nothing = ironbark(stack, &["destroy", "--env", "dev", "--yes"]);
    assert_eq!(nothing.status.code(), Some(0), "{}", text(&nothing));
    assert!(
        String::from_utf8_lossy(&nothing.stderr).contains(&format!("pid {dead}")),
        "{}",
        text(&nothing)
    );
    assert!(rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_none());
}

/// Leaves a lock as a deploy of this host killed while holding it would: its process is gone
/// and it never beats again. Returns that process's id.
fn plant_dead_lock(rt: &tokio::runtime::Runtime, ctx: &Context) -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let mut identity = LockIdentity::current(
        format!("arn:aws:iam::{ACCOUNT}:user/killed"),
        "deploy --env dev",
    );
    identity.pid = dead;
    let mut opts = LockOptions::new(identity);
    opts.heartbeat = Duration::from_secs(3600);
    let lock = rt
        .block_on(DeployLock::acquire(ctx, ACCOUNT, &opts))
        .unwrap();
    drop(lock); // never released, and its hourly heartbeat does not come before the test ends
    dead
}

#[test]
#[ignore = "needs the emulator: run cargo xtask test"]
fn an_interrupted_deploy_releases_its_lock() {
    let stack = "e2e-lock-int";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = emulator_ctx(&rt, stack, "dev");
    for signal in ["-INT", "-TERM"] {
        let log = ironbark_testkit::target_dir().join(format!("e2e-lock-int{signal}.stderr"));
        let mut child = spawn_deploy(stack, &log);
        let record = wait_for_lock(&rt, &ctx, &mut child);
        assert_eq!(record.holder.pid, child.id());
        let sent = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        let err = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(status.code(), Some(1), "{signal}: {err}");
        assert!(
            err.contains("interrupted by SIG") && err.contains("lock released"),
            "{signal}: {err}"
        );
        assert!(
            rt.block_on(lock::holder(&ctx, ACCOUNT)).unwrap().is_none(),
            "{signal}: the lock is released"
        );
    }
    // The next run finishes the job without any takeover.
    let finish = ironbark(stack, &["deploy", "--env", "dev", "--yes"]);
    assert_eq!(finish.status.code(), Some(0), "{}", text(&finish));
    assert!(!String::from_utf8_lossy(&finish.stderr).contains("took over"));
    let destroy = ironbark(
        stack,
        &["destroy", "--env", "dev", "--yes", "--allow-protected"],
    );
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
}
