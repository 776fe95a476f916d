//! Renders progress events: indicatif spinners on a terminal, plain timestamped lines
//! otherwise, JSON lines with `--json`. Everything goes to stderr; stdout carries results.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ironbark_core::{Change, Event, Reporter};

/// The reporter of the CLI: an output style, and whether the run is planning (events
/// describe what would change) or applying (what changed).
#[derive(Debug)]
pub struct Progress {
    output: Output,
    planning: AtomicBool,
}

/// How progress is shown.
#[derive(Debug)]
enum Output {
    /// One spinner per resource in flight and an overall bar.
    Bars(Bars),
    /// `[  1.2s] networking/vpc: waiting (pending)` lines.
    Plain(Instant),
    /// One JSON object per event.
    Json,
}

#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Bars on a terminal, plain lines otherwise, JSON when asked.
    pub fn new(json: bool) -> Self {
        let output = if json {
            Output::Json
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} resources {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Output::Bars(Bars {
                multi,
                overall,
                bars: Mutex::default(),
            })
        } else {
            Output::Plain(Instant::now())
        };
        Self {
            output,
            planning: AtomicBool::new(true),
        }
    }

    /// From now on, events describe applied changes.
    pub fn set_applying(&self) {
        self.planning.store(false, Ordering::SeqCst);
    }

    fn planning(&self) -> bool {
        self.planning.load(Ordering::SeqCst)
    }

    /// Prints a line above the bars (or plainly).
    pub fn println(&self, line: &str) {
        match &self.output {
            Output::Bars(b) => {
                let _ = b.multi.println(line);
            }
            _ => eprintln!("{line}"),
        }
    }

    /// Clears the bars at the end of a run.
    pub fn finish(&self) {
        if let Output::Bars(b) = &self.output {
            b.overall.finish_and_clear();
            let _ = b.multi.clear();
        }
    }
}

fn describe(change: &Change, planning: bool) -> &'static str {
    match (change, planning) {
        (Change::NoOp, _) => "unchanged",
        (Change::Create { .. }, false) => "created",
        (Change::Create { .. }, true) => "to create",
        (Change::Update { .. }, false) => "updated",
        (Change::Update { .. }, true) => "to update",
        (Change::Delete, false) => "deleted",
        (Change::Delete, true) => "to delete",
        (Change::Refused { .. }, _) => "refused",
        (Change::InProgress { .. }, false) => "ready",
        (Change::InProgress { .. }, true) => "in progress",
    }
}

impl Reporter for Progress {
    fn report(&self, event: Event) {
        let planning = self.planning();
        match &self.output {
            Output::Json => {
                if let Ok(line) = serde_json::to_string(&event) {
                    eprintln!("{line}");
                }
            }
            Output::Plain(start) => {
                let t = start.elapsed().as_secs_f64();
                let line = match &event {
                    Event::Started { resource } => format!("{resource}: started"),
                    Event::Waiting { resource, status } => {
                        format!("{resource}: waiting ({status})")
                    }
                    Event::Done { resource, change } => {
                        format!("{resource}: {}", describe(change, planning))
                    }
                    Event::Failed { resource, error } => format!("{resource}: failed: {error}"),
                    Event::Warning {
                        resource: Some(r),
                        message,
                    } => format!("{r}: warning: {message}"),
                    Event::Warning {
                        resource: None,
                        message,
                    } => format!("warning: {message}"),
                };
                eprintln!("[{t:>6.1}s] {line}");
            }
            Output::Bars(b) => b.report(event, planning),
        }
    }
}

impl Bars {
    fn report(&self, event: Event, planning: bool) {
        let mut bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match event {
            Event::Started { resource } => {
                let bar = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(resource.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.overall.inc_length(1);
                bars.insert(resource, bar);
            }
            Event::Waiting { resource, status } => {
                if let Some(bar) = bars.get(&resource) {
                    bar.set_message(format!("waiting ({status})"));
                }
            }
            Event::Done { resource, change } => {
                if let Some(bar) = bars.remove(&resource) {
                    bar.finish_and_clear();
                }
                if change.is_change() {
                    let _ = self.multi.println(format!(
                        "{} {resource} {}",
                        change.symbol(),
                        describe(&change, planning)
                    ));
                }
                self.overall.inc(1);
            }
            Event::Failed { resource, error } => {
                if let Some(bar) = bars.remove(&resource) {
                    bar.abandon_with_message(format!("failed: {error}"));
                }
                self.overall.inc(1);
            }
            Event::Warning { resource, message } => {
                let _ = self.multi.println(format!(
                    "warning: {}{message}",
                    resource.map(|r| format!("{r}: ")).unwrap_or_default()
                ));
            }
        }
    }
}
