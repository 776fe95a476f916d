//! `bench`: a fresh deploy, a converged re-deploy and a destroy of one profile against a fresh
//! emulator at a chosen time scale. Wall time is measured here; API calls come from the
//! emulator's own request log (filtered to this run's access key), so retries and every client
//! are counted.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use ironbark_core::config::LoadOptions;
use ironbark_core::{Context, Event, Mode, Reporter, Tags};
use ironbark_testkit::{target_dir, Emulator, EmulatorOptions, LogSummary, Venv};
use serde::Serialize;

use crate::flags::{BenchArgs, Global};
use crate::validate::stack_file;
use ironbark_compose::{self as compose, Action};

#[derive(Debug, Serialize)]
struct Phase {
    phase: &'static str,
    wall_seconds: f64,
    reads: u64,
    writes: u64,
    resources_changed: usize,
    /// The longest single wait of the phase: from a resource's first `waiting` event to its
    /// `done` (the AWS-side status transition, not Ironbark's work).
    longest_wait: Option<Wait>,
}

#[derive(Debug, Clone, Serialize)]
struct Wait {
    resource: String,
    seconds: f64,
}

/// Times each resource's wait: first `waiting` event to `done`.
#[derive(Debug, Default)]
struct WaitClock {
    started: Mutex<BTreeMap<String, Instant>>,
    waits: Mutex<Vec<Wait>>,
}

impl WaitClock {
    /// The longest wait recorded since the last call, and forgets them all.
    fn take_longest(&self) -> Option<Wait> {
        self.started.lock().map(|mut s| s.clear()).ok();
        let mut waits = self.waits.lock().ok()?;
        let longest = waits
            .iter()
            .max_by(|a, b| a.seconds.total_cmp(&b.seconds))
            .cloned();
        waits.clear();
        longest
    }
}

impl Reporter for WaitClock {
    fn report(&self, event: Event) {
        match event {
            Event::Waiting { resource, .. } => {
                if let Ok(mut s) = self.started.lock() {
                    s.entry(resource).or_insert_with(Instant::now);
                }
            }
            Event::Done { resource, .. } => {
                let start = self
                    .started
                    .lock()
                    .ok()
                    .and_then(|mut s| s.remove(&resource));
                if let (Some(start), Ok(mut waits)) = (start, self.waits.lock()) {
                    waits.push(Wait {
                        resource,
                        seconds: start.elapsed().as_secs_f64(),
                    });
                }
            }
            _ => {}
        }
    }
}

fn phase(
    name: &'static str,
    start: Instant,
    log: &LogSummary,
    changed: usize,
    longest_wait: Option<Wait>,
) -> Phase {
    Phase {
        phase: name,
        wall_seconds: start.elapsed().as_secs_f64(),
        reads: log.reads,
        writes: log.writes,
        resources_changed: changed,
        longest_wait,
    }
}

/// What a converged plan costs: its reads per managed resource, and how many round trips of
/// latency its wall time grows by when every call takes `latency_ms` longer (the length of
/// its critical path in sequential calls: against AWS, that and not CPU is what a plan costs).
#[derive(Debug, Serialize)]
struct PlanCost {
    resources: usize,
    reads: u64,
    writes: u64,
    reads_per_resource: f64,
    wall_seconds: f64,
    wall_seconds_with_latency: f64,
    latency_ms: u64,
    round_trips: f64,
}

async fn converged_plan(
    ctx: &Context,
    cfg: &ironbark_core::config::StackConfig,
    control: &ironbark_testkit::EmulatorControl,
    key: &str,
    latency_ms: u64,
) -> anyhow::Result<PlanCost> {
    ctx.set_mode(Mode::Plan);
    let timed = || async {
        control.reset_log()?;
        let start = Instant::now();
        let (plan, _) = compose::execute(ctx, compose::layers(cfg), Action::Converge)
            .await
            .context("bench: converged plan")?;
        anyhow::Ok((
            plan,
            start.elapsed().as_secs_f64(),
            control.log_summary_for(key)?,
        ))
    };
    let (plan, wall, log) = timed().await?;
    // The same plan with every service that answered it slowed down.
    let services: std::collections::BTreeSet<&str> = log
        .by_operation
        .keys()
        .filter_map(|op| op.split(':').next())
        .collect();
    for service in &services {
        control.set_fault(&ironbark_testkit::FaultRule {
            service: (*service).to_owned(),
            latency_ms,
            error_status: 500,
            ..ironbark_testkit::FaultRule::default()
        })?;
    }
    let slow = timed().await;
    control.clear_faults()?;
    ctx.set_mode(Mode::Apply);
    let (_, wall_slow, _) = slow?;
    let resources = plan.resources.len();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    Ok(PlanCost {
        resources,
        reads: log.reads,
        writes: log.writes,
        reads_per_resource: log.reads as f64 / resources.max(1) as f64,
        wall_seconds: wall,
        wall_seconds_with_latency: wall_slow,
        latency_ms,
        round_trips: (wall_slow - wall) / (latency_ms.max(1) as f64 / 1000.0),
    })
}

pub async fn run(global: &Global, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let file = stack_file(global)?;
    let mut opts = LoadOptions::new(&file, global.env.clone());
    opts.use_env = false;
    for set in &global.set {
        let (key, value) = set.split_once('=').context("--set expects KEY=VALUE")?;
        opts = opts.set(key.trim(), value.trim());
    }
    let cfg = ironbark_core::config::load(&opts)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .config;
    let venv = Venv::ensure()?;
    let emulator = Emulator::start(
        &venv,
        &EmulatorOptions {
            port: None,
            time_scale: Some(args.time_scale.clone()),
        },
    )?;
    let control = emulator.control();
    let key = ironbark_testkit::unique_access_key("bench");
    let clock = Arc::new(WaitClock::default());
    let ctx = Context::builder(cfg.stack.clone(), global.env.clone())
        .region(cfg.region.clone())
        .tags(Tags::standard(
            &cfg.project,
            &global.env,
            &cfg.owner,
            &cfg.cost_center,
            &cfg.stack,
        ))
        .endpoint_url(&emulator.url)
        .static_credentials(key.clone(), "testing")
        .reporter(clock.clone())
        .mode(Mode::Apply)
        .build()
        .await;
    let mut phases = Vec::new();
    let mut plan_cost = None;
    for (name, action) in [
        ("fresh deploy", Action::Converge),
        ("converged re-deploy", Action::Converge),
        (
            "destroy",
            Action::Destroy {
                allow_protected: true,
            },
        ),
    ] {
        if name == "destroy" {
            plan_cost = Some(converged_plan(&ctx, &cfg, &control, &key, args.latency_ms).await?);
        }
        control.reset_log()?;
        let start = Instant::now();
        let (plan, _) = compose::execute(&ctx, compose::layers(&cfg), action)
            .await
            .with_context(|| format!("bench phase {name}"))?;
        let changed = plan
            .resources
            .iter()
            .filter(|r| r.change.is_change())
            .count();
        phases.push(phase(
            name,
            start,
            &control.log_summary_for(&key)?,
            changed,
            clock.take_longest(),
        ));
    }
    emulator.stop();
    let plan_cost = plan_cost.context("the converged plan was not measured")?;

    println!(
        "profile {} of {}, emulator time scale {}",
        global.env,
        file.display(),
        args.time_scale
    );
    println!(
        "{:22} {:>10} {:>7} {:>7} {:>9}  longest single wait",
        "phase", "wall (s)", "reads", "writes", "changed"
    );
    for p in &phases {
        let wait = p.longest_wait.as_ref().map_or_else(
            || "-".to_owned(),
            |w| {
                format!(
                    "{:.1} s ({}), wall/wait {:.2}",
                    w.seconds,
                    w.resource,
                    p.wall_seconds / w.seconds.max(0.001)
                )
            },
        );
        println!(
            "{:22} {:>10.2} {:>7} {:>7} {:>9}  {wait}",
            p.phase, p.wall_seconds, p.reads, p.writes, p.resources_changed
        );
    }
    println!(
        "converged plan: {} resources, {} reads ({:.2} per resource), {} writes; {:.2} s, {:.2} s with {} ms added to every call: a critical path of {:.1} sequential round trips",
        plan_cost.resources,
        plan_cost.reads,
        plan_cost.reads_per_resource,
        plan_cost.writes,
        plan_cost.wall_seconds,
        plan_cost.wall_seconds_with_latency,
        plan_cost.latency_ms,
        plan_cost.round_trips
    );
    let out = args.out.clone().unwrap_or_else(|| {
        target_dir()
            .join("ironbark-bench")
            .join(format!("deploy-{}.json", global.env))
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::json!({ "profile": global.env, "time_scale": args.time_scale, "phases": phases, "converged_plan": plan_cost });
    std::fs::write(&out, serde_json::to_string_pretty(&json)?)?;
    println!("results written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
