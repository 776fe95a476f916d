//! The executor: which layers (domain crates) a stack has, what each needs from the others,
//! and running them concurrently as soon as their dependencies are done (deploy), or in
//! reverse order (destroy). Outputs of one layer reach the next as plain values through
//! [`Outputs`] (DESIGN invariant 1: domain crates never call each other).

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ironbark_core::config::StackConfig;
use ironbark_core::{Context, Plan};
use tokio::task::JoinSet;

/// A layer's typed outputs, as the executor keeps them.
type Typed = Arc<dyn Any + Send + Sync>;

/// What a layer publishes early: its name, rendered outputs and typed outputs.
type Early = (&'static str, BTreeMap<String, String>, Option<Typed>);

/// Outputs of a run: each layer's typed outputs (read with [`Outputs::of`]), and every value
/// rendered as `layer.key -> value` for people and machines (ids, ARNs, endpoints; never
/// secret values).
#[derive(Clone, Default)]
pub struct Outputs {
    values: BTreeMap<String, String>,
    typed: BTreeMap<&'static str, Typed>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(&self.values).finish()
    }
}

impl Outputs {
    /// One rendered value (`networking.vpc_id`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Every rendered value, `layer.key -> value`.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// The typed outputs of type `T` that a layer published ([`crate::outputs`]).
    pub fn of<T: Any>(&self) -> Option<&T> {
        self.typed.values().find_map(|t| t.downcast_ref::<T>())
    }

    fn add(&mut self, layer: &'static str, values: BTreeMap<String, String>, typed: Option<Typed>) {
        self.values
            .extend(values.into_iter().map(|(k, v)| (format!("{layer}.{k}"), v)));
        if let Some(t) = typed {
            self.typed.insert(layer, t);
        }
    }
}

/// What a run does to every layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Observe and converge (plan mode when the context is in plan mode).
    Converge,
    /// Tear down.
    Destroy {
        /// Delete protected (stateful, deletion-protected) resources too.
        allow_protected: bool,
    },
}

/// What one layer returns.
#[derive(Default)]
pub struct LayerResult {
    /// Its changes.
    pub plan: Plan,
    /// Its outputs rendered for people, keys without the layer prefix.
    pub outputs: BTreeMap<String, String>,
    /// Its typed outputs for dependents (see [`crate::outputs`]), if it has any.
    pub typed: Option<Arc<dyn Any + Send + Sync>>,
}

impl LayerResult {
    /// A result with `plan` and rendered `outputs`, and no typed outputs.
    pub fn new(plan: Plan, outputs: BTreeMap<String, String>) -> Self {
        Self {
            plan,
            outputs,
            typed: None,
        }
    }

    /// These results with `typed` as the layer's typed outputs.
    #[must_use]
    pub fn with_typed<T: Any + Send + Sync>(mut self, typed: T) -> Self {
        self.typed = Some(Arc::new(typed));
        self
    }
}

/// Why a layer failed: the domain crate's error (or a [`StepError`]), boxed.
pub type LayerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The future a layer returns.
pub type LayerFuture = Pin<Box<dyn Future<Output = Result<LayerResult, LayerError>> + Send>>;

/// A layer's own failure: what it was doing, and why (a domain error), or a refusal.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct StepError {
    /// What failed or what is refused, and what to do.
    pub what: String,
    /// The underlying error, when there is one.
    #[source]
    pub source: Option<LayerError>,
}

impl StepError {
    /// A failure with no underlying error (a refusal).
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            source: None,
        }
    }

    /// `what` failed because of `source`.
    pub fn caused(what: impl Into<String>, source: impl Into<LayerError>) -> Self {
        Self {
            what: what.into(),
            source: Some(source.into()),
        }
    }
}

/// Why a run of the composition failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// A layer failed; layers depending on it did not start.
    #[error("layer {layer} failed")]
    Layer {
        /// The layer.
        layer: &'static str,
        /// Its error.
        #[source]
        source: LayerError,
    },
    /// A layer's task panicked.
    #[error("a layer task panicked: {0}")]
    Panicked(String),
    /// Layers that depend on each other.
    #[error("dependency cycle among layers: {0}")]
    Cycle(String),
}

/// Lets a running layer hand its dependents what they need before it finishes: networking
/// publishes its subnets and security groups as soon as they exist, so the database starts
/// while NAT gateways are still becoming available (DESIGN invariant 8). Publishing is
/// optional; a dependent starts when its dependency has published or finished, whichever is
/// first. Destroy ignores it (teardown order is whole layers).
#[derive(Clone)]
pub struct Publisher {
    name: &'static str,
    tx: Option<tokio::sync::mpsc::UnboundedSender<Early>>,
}

impl Publisher {
    /// A publisher that goes nowhere (a layer run outside the executor).
    #[allow(dead_code)] // for layers run on their own (tests, tools)
    pub fn none(name: &'static str) -> Self {
        Self { name, tx: None }
    }

    /// Publishes `outputs` (keys without the layer prefix) to the layers waiting for this one.
    pub fn publish(&self, outputs: BTreeMap<String, String>) {
        self.send(outputs, None);
    }

    /// Publishes `outputs` and the layer's typed outputs.
    pub fn publish_typed<T: Any + Send + Sync>(&self, outputs: BTreeMap<String, String>, typed: T) {
        self.send(outputs, Some(Arc::new(typed)));
    }

    fn send(&self, outputs: BTreeMap<String, String>, typed: Option<Typed>) {
        if let Some(tx) = &self.tx {
            // The executor outlives every layer; a closed channel only means it has stopped.
            let _ = tx.send((self.name, outputs, typed));
        }
    }
}

/// One domain layer of the composition.
pub trait Layer: Send + Sync {
    /// Its name (`networking`); outputs are prefixed with it.
    fn name(&self) -> &'static str;
    /// The layers whose outputs it needs.
    fn depends_on(&self) -> &'static [&'static str];
    /// Runs the layer with the outputs of the layers it depends on; `publish` hands early
    /// outputs to dependents.
    fn run(&self, ctx: Context, inputs: Outputs, action: Action, publish: Publisher)
        -> LayerFuture;
}

/// The layers of a stack, from its configuration. Domain crates register here as their
/// `ensure_*` functions land; a layer whose section says `enabled = false` is left out.
pub fn layers(cfg: &StackConfig) -> Vec<Arc<dyn Layer>> {
    crate::layers::all(cfg)
}

/// The dependency edges among `layers` (`(from, to)`: `to` needs `from`).
pub fn edges(layers: &[Arc<dyn Layer>]) -> Vec<(&'static str, &'static str)> {
    let names: BTreeSet<&str> = layers.iter().map(|l| l.name()).collect();
    layers
        .iter()
        .flat_map(|l| {
            l.depends_on()
                .iter()
                .filter(|d| names.contains(**d))
                .map(move |d| (*d, l.name()))
        })
        .collect()
}

/// Runs every layer, each as soon as what it depends on is done (for destroy: as soon as
/// everything depending on it is gone), concurrently otherwise. Stops starting new layers at
/// the first failure and returns it after the running ones finish.
pub async fn execute(
    ctx: &Context,
    layers: Vec<Arc<dyn Layer>>,
    action: Action,
) -> Result<(Plan, Outputs), ComposeError> {
    let names: BTreeSet<&'static str> = layers.iter().map(|l| l.name()).collect();
    // For each layer, the layers that must finish before it starts.
    let before: BTreeMap<&'static str, BTreeSet<&'static str>> = layers
        .iter()
        .map(|l| {
            let set = match action {
                Action::Converge => l
                    .depends_on()
                    .iter()
                    .copied()
                    .filter(|d| names.contains(d))
                    .collect(),
                Action::Destroy { .. } => layers
                    .iter()
                    .filter(|o| o.depends_on().contains(&l.name()))
                    .map(|o| o.name())
                    .collect(),
            };
            (l.name(), set)
        })
        .collect();
    let mut pending: BTreeMap<&'static str, Arc<dyn Layer>> =
        layers.into_iter().map(|l| (l.name(), l)).collect();
    let mut finished: BTreeSet<&'static str> = BTreeSet::new();
    let mut published: BTreeSet<&'static str> = BTreeSet::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut outputs = Outputs::default();
    let mut plan = Plan::default();
    let mut running = JoinSet::new();
    let mut failure: Option<ComposeError> = None;
    loop {
        if failure.is_none() {
            let ready: Vec<&'static str> = pending
                .keys()
                .copied()
                .filter(|n| {
                    before[n]
                        .iter()
                        .all(|d| finished.contains(d) || published.contains(d))
                })
                .collect();
            for name in ready {
                let Some(layer) = pending.remove(name) else {
                    continue;
                };
                let publisher = Publisher {
                    name,
                    tx: matches!(action, Action::Converge).then(|| tx.clone()),
                };
                let fut = layer.run(ctx.clone(), outputs.clone(), action, publisher);
                running.spawn(async move { (name, fut.await) });
            }
        }
        if running.is_empty() {
            break;
        }
        let joined = tokio::select! {
            Some((name, early, typed)) = rx.recv() => {
                outputs.add(name, early, typed);
                published.insert(name);
                continue;
            }
            joined = running.join_next() => joined,
        };
        let Some(joined) = joined else {
            break;
        };
        let (name, result) = joined.map_err(|e| ComposeError::Panicked(e.to_string()))?;
        match result {
            Ok(r) => {
                plan.extend(r.plan);
                outputs.add(name, r.outputs, r.typed);
                finished.insert(name);
            }
            Err(source) if failure.is_none() => {
                failure = Some(ComposeError::Layer {
                    layer: name,
                    source,
                });
            }
            Err(e) => eprintln!(
                "error: layer {name} also failed: {}",
                ironbark_core::reconcile::render(e.as_ref())
            ),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if !pending.is_empty() {
        return Err(ComposeError::Cycle(
            pending.keys().copied().collect::<Vec<_>>().join(", "),
        ));
    }
    Ok((plan, outputs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    struct Fake {
        name: &'static str,
        deps: &'static [&'static str],
        log: Arc<Mutex<Vec<String>>>,
        fail: bool,
        early: bool,
    }

    impl Layer for Fake {
        fn name(&self) -> &'static str {
            self.name
        }
        fn depends_on(&self) -> &'static [&'static str] {
            self.deps
        }
        fn run(
            &self,
            _ctx: Context,
            inputs: Outputs,
            _action: Action,
            publish: Publisher,
        ) -> LayerFuture {
            let (name, log, fail, early) = (self.name, self.log.clone(), self.fail, self.early);
            Box::pin(async move {
                log.lock()
                    .unwrap()
                    .push(format!("start {name} seeing {}", inputs.values().len()));
                if early {
                    publish.publish([("early".to_owned(), name.to_owned())].into());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                log.lock().unwrap().push(format!("end {name}"));
                if fail {
                    return Err("boom".into());
                }
                Ok(
                    LayerResult::new(Plan::default(), [("id".to_owned(), name.to_owned())].into())
                        .with_typed(name),
                )
            })
        }
    }

    fn fake(
        name: &'static str,
        deps: &'static [&'static str],
        log: &Arc<Mutex<Vec<String>>>,
    ) -> Arc<dyn Layer> {
        Arc::new(Fake {
            name,
            deps,
            log: log.clone(),
            fail: false,
            early: false,
        })
    }

    async fn ctx() -> Context {
        Context::builder("t", "dev")
            .endpoint_url("http://127.0.0.1:9")
            .build()
            .await
    }

    #[tokio::test]
    async fn converge_runs_dependencies_first_and_independents_together() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let layers = vec![
            fake("database", &["networking", "identity"], &log),
            fake("networking", &[], &log),
            fake("identity", &[], &log),
        ];
        let (_, outputs) = execute(&ctx().await, layers, Action::Converge)
            .await
            .unwrap();
        let log = log.lock().unwrap().clone();
        // identity and networking start before either ends; database starts after both end.
        assert!(log[..2].iter().all(|l| l.starts_with("start")), "{log:?}");
        assert_eq!(log[4], "start database seeing 2");
        assert_eq!(outputs.get("database.id"), Some("database"));
        assert_eq!(outputs.get("networking.id"), Some("networking"));
    }

    #[tokio::test]
    async fn an_early_publish_starts_dependents_before_the_layer_ends() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let layers: Vec<Arc<dyn Layer>> = vec![
            Arc::new(Fake {
                name: "networking",
                deps: &[],
                log: log.clone(),
                fail: false,
                early: true,
            }),
            fake("database", &["networking"], &log),
        ];
        let (_, outputs) = execute(&ctx().await, layers, Action::Converge)
            .await
            .unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log[..2],
            ["start networking seeing 0", "start database seeing 1"],
            "{log:?}"
        );
        assert_eq!(outputs.get("networking.early"), Some("networking"));
        assert_eq!(outputs.get("networking.id"), Some("networking"));
    }

    #[tokio::test]
    async fn destroy_runs_in_reverse() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let layers = vec![
            fake("networking", &[], &log),
            fake("database", &["networking"], &log),
        ];
        execute(
            &ctx().await,
            layers,
            Action::Destroy {
                allow_protected: false,
            },
        )
        .await
        .unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(log[0], "start database seeing 0");
        assert_eq!(log[2], "start networking seeing 1");
    }

    #[tokio::test]
    async fn a_failure_stops_dependents_and_is_returned() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let layers: Vec<Arc<dyn Layer>> = vec![
            Arc::new(Fake {
                name: "networking",
                deps: &[],
                log: log.clone(),
                fail: true,
                early: false,
            }),
            fake("database", &["networking"], &log),
        ];
        let err = execute(&ctx().await, layers, Action::Converge)
            .await
            .unwrap_err();
        assert!(ironbark_core::reconcile::render(&err).contains("layer networking failed: boom"));
        assert!(!log.lock().unwrap().iter().any(|l| l.contains("database")));
    }

    #[tokio::test]
    async fn cycles_are_reported() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let layers = vec![fake("a", &["b"], &log), fake("b", &["a"], &log)];
        let err = execute(&ctx().await, layers, Action::Converge)
            .await
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("dependency cycle among layers: a, b"));
    }
}
