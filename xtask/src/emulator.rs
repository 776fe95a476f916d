//! `emulator start|stop|status|reset|faults|log|time-scale`: the local AWS emulator in the
//! background, for `--local` deploys and for poking at by hand.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use ironbark_testkit::{Emulator, EmulatorControl, EmulatorOptions, FaultRule, Venv};

use crate::flags::{EmulatorAction, EmulatorArgs, FaultArgs};

fn control() -> anyhow::Result<EmulatorControl> {
    Emulator::running()
        .map(|s| EmulatorControl::new(&s.url))
        .ok_or_else(|| anyhow!("the emulator is not running: `cargo xtask emulator start`"))
}

fn parse_scale(scale: &str) -> anyhow::Result<f64> {
    match scale {
        "instant" => Ok(0.0),
        s => s
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .ok_or_else(|| anyhow!("time scale `{s}`: expected `instant` or a factor >= 0")),
    }
}

pub fn run(args: &EmulatorArgs) -> anyhow::Result<ExitCode> {
    match &args.action {
        EmulatorAction::Start { port, time_scale } => {
            if let Some(scale) = time_scale {
                parse_scale(scale)?;
            }
            if let Some(state) = Emulator::running() {
                println!("already running at {} (pid {})", state.url, state.pid);
                return Ok(ExitCode::SUCCESS);
            }
            let venv = Venv::ensure()?;
            let state = Emulator::start_detached(
                &venv,
                &EmulatorOptions {
                    port: *port,
                    time_scale: time_scale.clone(),
                },
            )?;
            println!(
                "emulator running at {} (pid {}, log {})",
                state.url,
                state.pid,
                state.log.display()
            );
        }
        EmulatorAction::Stop => match Emulator::stop_detached()? {
            Some(state) => println!("stopped the emulator at {} (pid {})", state.url, state.pid),
            None => println!("the emulator was not running"),
        },
        EmulatorAction::Status => match Emulator::running() {
            Some(state) => {
                let health = EmulatorControl::new(&state.url).health()?;
                println!(
                    "running at {} (pid {}), time scale {}, moto {}",
                    state.url, state.pid, health["time_scale"], health["moto"]
                );
            }
            None => {
                println!("not running");
                return Ok(ExitCode::from(1));
            }
        },
        EmulatorAction::Reset => {
            let c = control()?;
            c.reset()?;
            c.clear_faults()?;
            c.reset_log()?;
            println!("reset: no resources, no fault rules, empty log");
        }
        EmulatorAction::Faults(f) => faults(&control()?, f)?,
        EmulatorAction::Log { summary, reset } => {
            let c = control()?;
            if *summary {
                let s = c.log_summary()?;
                println!(
                    "{} requests: {} reads, {} writes, {} faults injected",
                    s.total, s.reads, s.writes, s.faults
                );
                for (op, o) in &s.by_operation {
                    println!(
                        "  {op:50} {:>5} {:5} {}",
                        o.count,
                        o.class,
                        if o.faults > 0 {
                            format!("{} faults", o.faults)
                        } else {
                            String::new()
                        }
                    );
                }
            } else {
                for e in c.log()? {
                    println!(
                        "{:>6} {:.3} {:8} {:40} {:5} {} {}",
                        e.seq,
                        e.time,
                        e.service,
                        e.operation,
                        e.class,
                        e.status,
                        e.fault.unwrap_or_default()
                    );
                }
            }
            if *reset {
                c.reset_log()?;
            }
        }
        EmulatorAction::TimeScale { scale } => {
            let value = parse_scale(scale)?;
            control()?.set_time_scale(value)?;
            println!("time scale set to {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn faults(c: &EmulatorControl, f: &FaultArgs) -> anyhow::Result<()> {
    if f.clear {
        c.clear_faults()?;
        println!("fault rules cleared");
        return Ok(());
    }
    let Some(service) = &f.service else {
        println!("{}", serde_json::to_string_pretty(&c.faults()?)?);
        return Ok(());
    };
    for (name, rate) in [("--throttle", f.throttle), ("--error-rate", f.error_rate)] {
        if !(0.0..=1.0).contains(&rate) {
            bail!("{name} {rate}: expected a share between 0 and 1");
        }
    }
    let rule = FaultRule {
        service: service.clone(),
        operation: f.operation.clone(),
        throttle: f.throttle,
        error_rate: f.error_rate,
        error_status: f.error_status,
        latency_ms: f.latency_ms,
        count: f.count,
    };
    c.set_fault(&rule)?;
    println!("fault rule set: {}", serde_json::to_string(&rule)?);
    Ok(())
}
