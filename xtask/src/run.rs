//! `plan`, `deploy`, `destroy` and `outputs`: load the configuration, build the context (the
//! emulator with `--local`), check the account guard, run the composition.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use ironbark_core::account::Caller;
use ironbark_core::config::{DatabaseConfig, Loaded};
use ironbark_core::lock::{self, DeployLock, LockIdentity, LockOptions};
use ironbark_core::{Context, Mode, Plan, Tags};
use ironbark_testkit::{Emulator, EmulatorOptions, Venv};

use crate::flags::{DestroyArgs, Global};
use crate::render::Progress;
use crate::validate;
use ironbark_compose::{self as compose, Action, Outputs};

/// The emulator's URL, starting it in the background when it is not running.
pub fn local_endpoint() -> anyhow::Result<String> {
    if let Some(state) = Emulator::running() {
        return Ok(state.url);
    }
    eprintln!("ironbark: starting the local emulator");
    let venv = Venv::ensure()?;
    let state = Emulator::start_detached(
        &venv,
        &EmulatorOptions {
            port: None,
            time_scale: Some("0.01".into()),
        },
    )?;
    eprintln!(
        "ironbark: emulator running at {} (stop it with `cargo xtask emulator stop`)",
        state.url
    );
    Ok(state.url)
}

struct Session {
    loaded: Loaded,
    ctx: Context,
    progress: Arc<Progress>,
    local: bool,
    caller: Caller,
}

async fn session(global: &Global) -> anyhow::Result<Session> {
    let loaded = validate::load(global)?;
    let cfg = &loaded.config;
    let progress = Arc::new(Progress::new(global.json));
    let mut builder = Context::builder(cfg.stack.clone(), loaded.profile.clone())
        .region(cfg.region.clone())
        .tags(Tags::standard(
            &cfg.project,
            &loaded.profile,
            &cfg.owner,
            &cfg.cost_center,
            &cfg.stack,
        ))
        .reporter(progress.clone())
        .mode(Mode::Plan);
    let endpoint = if global.local {
        Some(local_endpoint()?)
    } else {
        global.endpoint_url.clone()
    };
    let local = endpoint.is_some();
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    let ctx = builder.build().await;
    let caller = ironbark_core::account::check_caller(&ctx, cfg.account_id.as_deref())
        .await
        .context("account guard")?;
    let account = &caller.account;
    progress.println(&format!(
        "ironbark: stack {} profile {} in account {account} ({}){}",
        cfg.stack,
        loaded.profile,
        ctx.region(),
        if local { ", local emulator" } else { "" }
    ));
    Ok(Session {
        loaded,
        ctx,
        progress,
        local,
        caller,
    })
}

fn lock_options(global: &Global, s: &Session, command: &str) -> LockOptions {
    let stale_after = Duration::from_secs(global.lock_stale_after);
    let mut opts = LockOptions::new(LockIdentity::current(
        s.caller.arn.clone(),
        format!("{command} --env {}", s.loaded.profile),
    ));
    opts.stale_after = stale_after;
    opts.heartbeat = (stale_after / 10).min(Duration::from_secs(30));
    opts.wait = Duration::from_secs(global.lock_timeout);
    opts.poll = opts
        .heartbeat
        .clamp(Duration::from_millis(100), Duration::from_secs(5));
    opts
}

/// SIGINT (Ctrl-C) and SIGTERM (a cancelled CI job), caught from the moment this is made.
struct Interrupts {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves at the next signal, naming it.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn next(s: Option<&mut tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(self.int.as_mut()) => "SIGINT",
                () = next(self.term.as_mut()) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Runs `body` holding the deploy lock of the session's stack and env (DESIGN invariant 12):
/// stops it when the lock is lost or at Ctrl-C/SIGTERM (the in-flight calls are dropped;
/// every resource is found again by the next run), and releases the lock however it ends.
/// Only SIGKILL or a crash leaves the lock behind, for the next run to take over.
async fn locked<T>(
    global: &Global,
    s: &Session,
    command: &str,
    body: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let mut interrupts = Interrupts::new();
    let opts = lock_options(global, s, command);
    let lock = tokio::select! {
        lock = DeployLock::acquire(&s.ctx, &s.caller.account, &opts) => lock?,
        signal = interrupts.recv() => bail!("interrupted by {signal} while taking the deploy lock: nothing applied"),
    };
    let result = tokio::select! {
        result = body => result,
        lost = lock.lost() => Err(lost.into()),
        signal = interrupts.recv() => Err(anyhow::anyhow!(
            "interrupted by {signal}: stopped, lock released. Everything done so far is kept \
             (found again by tag and name); re-run to finish"
        )),
    };
    match lock.release().await {
        Ok(true) => {}
        Ok(false) => s.progress.println(
            "warning: the deploy lock was taken over before this run released it; left alone",
        ),
        Err(e) => s.progress.println(&format!(
            "warning: could not release the deploy lock ({e}); others take it over after {} s",
            global.lock_stale_after
        )),
    }
    result
}

fn print_plan(global: &Global, plan: &Plan) {
    if global.json {
        println!("{}", plan.to_json());
    } else {
        print!("{}", plan.render_human());
    }
}

fn print_outputs(global: &Global, outputs: &Outputs, s: &Session) {
    let mut all = outputs.values().clone();
    all.insert("stack".into(), s.loaded.config.stack.clone());
    all.insert("env".into(), s.loaded.profile.clone());
    all.insert("region".into(), s.ctx.region().to_owned());
    if global.json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    } else {
        println!("Outputs:");
        let width = all.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &all {
            println!("  {k:width$}  {v}");
        }
    }
}

/// Asks on the terminal. The answer is read on a thread of its own, so a Ctrl-C at the prompt
/// reaches the deploy lock's signal handling (which releases the lock) instead of waiting for
/// Enter.
async fn confirm(global: &Global, s: &Session, what: &str) -> anyhow::Result<bool> {
    if global.yes || s.local {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("{what} needs confirmation and stdin is not a terminal: pass --yes");
    }
    eprint!(
        "{what} stack {} profile {}? Only 'yes' is accepted: ",
        s.loaded.config.stack, s.loaded.profile
    );
    std::io::stderr().flush()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map(|_| answer);
        let _ = tx.send(read);
    });
    let answer = rx.await.context("reading the answer")??;
    Ok(answer.trim() == "yes")
}

/// For a run that takes no lock: removes the deploy lock a process of this host left when it
/// died holding it (SIGKILL, a crash), with a warning naming it (reported by the lock), so it
/// does not outlive that run and make every later plan warn. Failing to look is a warning.
async fn remove_dead_lock(s: &Session, command: &str) {
    let me = LockIdentity::current(
        s.caller.arn.clone(),
        format!("{command} --env {}", s.loaded.profile),
    );
    if let Err(e) = lock::remove_dead_holder(&s.ctx, &s.caller.account, &me).await {
        s.progress.println(&format!(
            "warning: could not check the deploy lock for a dead run's: {e}"
        ));
    }
}

pub async fn plan(global: &Global) -> anyhow::Result<ExitCode> {
    let s = session(global).await?;
    remove_dead_lock(&s, "plan").await;
    // plan takes no lock, but says when a deploy or destroy is running (one read).
    if let Ok(Some(observed)) = lock::holder(&s.ctx, &s.caller.account).await {
        if let Some(record) = observed.record {
            s.progress.println(&format!(
                "warning: {record} holds the deploy lock (last heartbeat {} s ago): this plan may change under it",
                observed.age.as_secs()
            ));
        }
    }
    let layers = compose::layers(&s.loaded.config);
    let (plan, _) = compose::execute(&s.ctx, layers, Action::Converge).await?;
    s.progress.finish();
    print_plan(global, &plan);
    Ok(if plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// deploy: a first look without the lock; a converged stack (or a refused plan) ends there,
/// with zero writes (DESIGN invariant 6). Otherwise the lock is taken and the stack observed
/// again under it, so what is shown, confirmed and applied cannot be raced by another run.
pub async fn deploy(global: &Global) -> anyhow::Result<ExitCode> {
    let s = session(global).await?;
    let (plan, outputs) =
        compose::execute(&s.ctx, compose::layers(&s.loaded.config), Action::Converge).await?;
    s.progress.finish();
    if plan.has_refusals() || !plan.has_changes() {
        // No lock is taken: a dead run's lock would otherwise stay behind.
        remove_dead_lock(&s, "deploy").await;
        print_plan(global, &plan);
        if plan.has_refusals() {
            bail!("the plan has refused changes (marked !): nothing was applied");
        }
        print_outputs(global, &outputs, &s);
        return Ok(ExitCode::SUCCESS);
    }
    locked(global, &s, "deploy", deploy_locked(global, &s)).await
}

async fn deploy_locked(global: &Global, s: &Session) -> anyhow::Result<ExitCode> {
    let (plan, outputs) =
        compose::execute(&s.ctx, compose::layers(&s.loaded.config), Action::Converge).await?;
    s.progress.finish();
    print_plan(global, &plan);
    if plan.has_refusals() {
        bail!("the plan has refused changes (marked !): nothing was applied");
    }
    if !plan.has_changes() {
        print_outputs(global, &outputs, s);
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(global, s, "Deploy").await? {
        eprintln!("Nothing applied.");
        return Ok(ExitCode::from(1));
    }
    s.ctx.set_mode(Mode::Apply);
    s.progress.set_applying();
    let (applied, outputs) =
        compose::execute(&s.ctx, compose::layers(&s.loaded.config), Action::Converge).await?;
    s.progress.finish();
    let summary = applied.summary();
    eprintln!(
        "Applied: {} created, {} updated, {} deleted, {} waited for ({} API calls, {} writes).",
        summary.create,
        summary.update,
        summary.delete,
        summary.in_progress,
        s.ctx.recorder().summary().reads + s.ctx.recorder().summary().writes,
        s.ctx.recorder().summary().writes
    );
    let differences = plan_differences(&plan, &applied);
    if !differences.is_empty() {
        eprintln!(
            "The apply differs from the plan for {} resource(s) (AWS changed meanwhile, or a plan-mode guess was wrong): {}.",
            differences.len(),
            differences.join("; ")
        );
    }
    print_outputs(global, &outputs, s);
    Ok(ExitCode::SUCCESS)
}

/// What a change was, in words (`create`, `update`, ...).
fn change_word(change: &ironbark_core::Change) -> &'static str {
    use ironbark_core::Change;
    match change {
        Change::NoOp => "no change",
        Change::Create { .. } => "create",
        Change::Update { .. } => "update",
        Change::Delete => "delete",
        Change::Refused { .. } => "refused",
        Change::InProgress { .. } => "wait",
    }
}

/// The resources whose applied change is not the planned one, or that only one of the two has
/// (`networking/vpc: planned create, applied no change`), in the plan's order then the
/// apply's. Empty when the apply did what was confirmed.
fn plan_differences(planned: &Plan, applied: &Plan) -> Vec<String> {
    let word = |plan: &Plan, id: &str| {
        plan.resources
            .iter()
            .find(|r| r.id == id)
            .map_or("nothing (not in it)", |r| change_word(&r.change))
    };
    let mut ids: Vec<&str> = planned.resources.iter().map(|r| r.id.as_str()).collect();
    for r in &applied.resources {
        if !ids.contains(&r.id.as_str()) {
            ids.push(&r.id);
        }
    }
    ids.into_iter()
        .filter_map(|id| {
            let (p, a) = (word(planned, id), word(applied, id));
            // A resource still on its way when planned may be ready by the time of the apply.
            let settled = matches!((p, a), ("wait", "no change"));
            (p != a && !settled).then(|| format!("{id}: planned {p}, applied {a}"))
        })
        .collect()
}

/// destroy: like deploy, a first look without the lock; nothing to destroy ends there.
pub async fn destroy(global: &Global, args: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let s = session(global).await?;
    let action = Action::Destroy {
        allow_protected: args.allow_protected,
    };
    let (plan, _) = compose::execute(&s.ctx, compose::layers(&s.loaded.config), action).await?;
    s.progress.finish();
    if !plan.has_changes() {
        remove_dead_lock(&s, "destroy").await;
        print_plan(global, &plan);
        return Ok(ExitCode::SUCCESS);
    }
    locked(global, &s, "destroy", destroy_locked(global, &s, args)).await
}

async fn destroy_locked(
    global: &Global,
    s: &Session,
    args: &DestroyArgs,
) -> anyhow::Result<ExitCode> {
    let action = Action::Destroy {
        allow_protected: args.allow_protected,
    };
    let (plan, _) = compose::execute(&s.ctx, compose::layers(&s.loaded.config), action).await?;
    s.progress.finish();
    print_plan(global, &plan);
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(global, s, "Destroy").await? {
        eprintln!("Nothing destroyed.");
        return Ok(ExitCode::from(1));
    }
    s.ctx.set_mode(Mode::Apply);
    s.progress.set_applying();
    let (destroyed, _) =
        compose::execute(&s.ctx, compose::layers(&s.loaded.config), action).await?;
    s.progress.finish();
    for line in kept_after_destroy(&destroyed, &s.loaded.config.database) {
        eprintln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What AWS keeps, on purpose, of the databases a destroy deleted, one line each with how to
/// remove it: the final snapshot (when `final_snapshot = true`), RDS's automated backups
/// (retained for `backup_retention_days` after the instance is gone, so a mistaken destroy can
/// still be undone) and the Redis cache's final snapshot. Not stack resources: a later destroy
/// does not find them.
fn kept_after_destroy(destroyed: &Plan, db: &DatabaseConfig) -> Vec<String> {
    use ironbark_database::stack::{CACHE, CLUSTER, INSTANCE};
    let days = db.backup_retention_days;
    destroyed
        .resources
        .iter()
        .filter(|r| matches!(r.change, ironbark_core::Change::Delete))
        .filter_map(|r| {
            let id = r.physical_id.as_deref()?;
            let snapshot = |delete: &str| {
                if db.final_snapshot {
                    format!(
                        "its final snapshot {id}-final-<unix time> (kept until deleted: `{delete} <name>`) and "
                    )
                } else {
                    String::new()
                }
            };
            Some(match r.id.as_str() {
                INSTANCE => format!(
                    "Kept: RDS instance {id} is deleted; {}its automated backups (kept {days} days, backup_retention_days). List them with `aws rds describe-db-snapshots --db-instance-identifier {id} --snapshot-type manual` and `aws rds describe-db-instance-automated-backups --db-instance-identifier {id}`; remove the backups with `aws rds delete-db-instance-automated-backup --dbi-resource-id <DbiResourceId>`.",
                    snapshot("aws rds delete-db-snapshot --db-snapshot-identifier")
                ),
                CLUSTER => format!(
                    "Kept: Aurora cluster {id} is deleted; {}its automated backups (kept {days} days, backup_retention_days). List them with `aws rds describe-db-cluster-snapshots --db-cluster-identifier {id} --snapshot-type manual` and `aws rds describe-db-cluster-automated-backups --db-cluster-identifier {id}`; remove the backups with `aws rds delete-db-cluster-automated-backup --db-cluster-resource-id <DbClusterResourceId>`.",
                    snapshot("aws rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier")
                ),
                CACHE if db.final_snapshot => format!(
                    "Kept: Redis replication group {id} is deleted; its final snapshot {id}-final-<unix time> is kept until deleted. List it with `aws elasticache describe-snapshots --replication-group-id {id}`; remove it with `aws elasticache delete-snapshot --snapshot-name <name>`."
                ),
                _ => return None,
            })
        })
        .collect()
}

pub async fn outputs(global: &Global) -> anyhow::Result<ExitCode> {
    let s = session(global).await?;
    let (_, outputs) =
        compose::execute(&s.ctx, compose::layers(&s.loaded.config), Action::Converge).await?;
    s.progress.finish();
    print_outputs(global, &outputs, &s);
    Ok(ExitCode::SUCCESS)
}

pub async fn unlock(global: &Global) -> anyhow::Result<ExitCode> {
    let s = session(global).await?;
    let Some(observed) = lock::holder(&s.ctx, &s.caller.account).await? else {
        println!(
            "No deploy lock is held for stack {} env {}.",
            s.loaded.config.stack, s.loaded.profile
        );
        return Ok(ExitCode::SUCCESS);
    };
    match &observed.record {
        Some(record) => println!(
            "The deploy lock of stack {} env {} is held by {record}; last heartbeat {} s ago.",
            s.loaded.config.stack,
            s.loaded.profile,
            observed.age.as_secs()
        ),
        None => println!("The deploy lock object is not Ironbark's JSON."),
    }
    if !confirm(global, &s, "Remove the deploy lock of").await? {
        eprintln!("Lock left in place.");
        return Ok(ExitCode::from(1));
    }
    if lock::force_unlock(&s.ctx, &s.caller.account, &observed).await? {
        println!("Removed. If that run is still alive, it stops at its next heartbeat.");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("The lock changed meanwhile (another run took it); left in place.");
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use ironbark_core::{Change, ResourceChange};

    use super::*;

    fn rc(id: &str, change: Change) -> ResourceChange {
        ResourceChange {
            id: id.into(),
            kind: "thing".into(),
            physical_id: Some(format!("phys-{}", id.replace('/', "-"))),
            change,
        }
    }

    fn plan(resources: Vec<ResourceChange>) -> Plan {
        Plan { resources }
    }

    #[test]
    fn an_apply_that_did_what_was_planned_has_no_differences() {
        let create = || Change::Create { fields: vec![] };
        let p = plan(vec![rc("a", create()), rc("b", Change::NoOp)]);
        assert!(plan_differences(&p, &p.clone()).is_empty());
    }

    #[test]
    fn differences_name_each_resource_and_both_changes() {
        let update = || Change::Update { fields: vec![] };
        let planned = plan(vec![
            rc("a", Change::Create { fields: vec![] }),
            rc("b", update()),
        ]);
        let applied = plan(vec![
            rc("a", Change::NoOp),
            rc("b", update()),
            rc("c", update()),
        ]);
        assert_eq!(
            plan_differences(&planned, &applied),
            [
                "a: planned create, applied no change",
                "c: planned nothing (not in it), applied update"
            ]
        );
    }

    fn database(final_snapshot: bool) -> DatabaseConfig {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ironbark.toml");
        let mut opts = ironbark_core::config::LoadOptions::new(file, "dev");
        opts.use_env = false;
        let mut db = ironbark_core::config::load(&opts)
            .expect("the shipped stack loads")
            .config
            .database;
        db.final_snapshot = final_snapshot;
        db
    }

    #[test]
    fn destroy_names_the_snapshots_and_backups_aws_keeps_and_how_to_remove_them() {
        use ironbark_database::stack::{CACHE, INSTANCE, SUBNET_GROUP};
        let destroyed = plan(vec![
            rc(INSTANCE, Change::Delete),
            rc(CACHE, Change::Delete),
            rc(SUBNET_GROUP, Change::Delete),
        ]);
        let lines = kept_after_destroy(&destroyed, &database(true));
        assert_eq!(lines.len(), 2, "{lines:#?}");
        let rds = &lines[0];
        for part in [
            "phys-database-instance-final-",
            "automated backups (kept 7 days",
            "aws rds delete-db-snapshot --db-snapshot-identifier",
            "aws rds delete-db-instance-automated-backup --dbi-resource-id",
            "--db-instance-identifier phys-database-instance",
        ] {
            assert!(rds.contains(part), "{part}: {rds}");
        }
        assert!(
            lines[1].contains("aws elasticache delete-snapshot"),
            "{}",
            lines[1]
        );
        // Without a final snapshot, only the automated backups remain to be named.
        let lines = kept_after_destroy(&destroyed, &database(false));
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(!lines[0].contains("delete-db-snapshot"), "{}", lines[0]);
        assert!(lines[0].contains("automated backups"), "{}", lines[0]);
        // Nothing deleted, nothing kept.
        let untouched = plan(vec![rc(INSTANCE, Change::NoOp)]);
        assert!(kept_after_destroy(&untouched, &database(true)).is_empty());
    }
}
