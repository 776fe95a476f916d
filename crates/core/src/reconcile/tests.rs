//! The driver tested with a fake resource kept in memory: no emulator, no AWS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::guard::Mode;
use crate::report::CollectingReporter;

#[derive(Debug, Clone, PartialEq)]
struct Obs {
    size: u32,
    tags: BTreeMap<String, String>,
    /// Statuses still to be seen, one per observe, then `ready`.
    status: Vec<String>,
}

#[derive(Default)]
struct Store {
    thing: Option<Obs>,
    writes: Vec<String>,
}

struct Fake {
    size: u32,
    store: Arc<Mutex<Store>>,
    waits: bool,
    stateful: bool,
}

#[derive(Debug)]
struct FakeDiff {
    size: Option<(Option<u32>, u32)>,
    tags: crate::tags::TagDiff,
    refused: bool,
}

impl Diff for FakeDiff {
    fn is_empty(&self) -> bool {
        self.size.is_none() && self.tags.is_empty()
    }
    fn fields(&self) -> Vec<FieldDiff> {
        self.size
            .iter()
            .map(|(old, new)| FieldDiff::new("size", *old, Some(*new)))
            .collect()
    }
    fn refusal(&self) -> Option<(String, String)> {
        self.refused.then(|| {
            (
                "size".to_owned(),
                "shrinking needs a replacement".to_owned(),
            )
        })
    }
}

impl Resource for Fake {
    type Observed = Obs;
    type Diff = FakeDiff;
    type Output = String;
    type Error = ResourceError;
    const KIND: &'static str = "thing";
    const SERVICE: &'static str = "fake";

    fn logical_id(&self) -> &str {
        "test/thing"
    }
    fn name(&self, _ctx: &Context) -> String {
        "t-dev-thing".into()
    }
    async fn observe(&self, _ctx: &Context) -> Result<Option<Obs>, ResourceError> {
        let mut store = self.store.lock().unwrap();
        let current = store.thing.clone();
        if let Some(t) = store.thing.as_mut() {
            if !t.status.is_empty() {
                t.status.remove(0);
            }
        }
        Ok(current)
    }
    fn tags<'a>(&self, observed: &'a Obs) -> Option<&'a BTreeMap<String, String>> {
        Some(&observed.tags)
    }
    fn status(&self, observed: &Obs) -> Status {
        match observed.status.first().map(String::as_str) {
            None => Status::Ready,
            Some("failed") => Status::Failed("failed".into()),
            Some(s) => Status::Pending(s.to_owned()),
        }
    }
    fn wait_timeout(&self) -> Option<Duration> {
        self.waits.then_some(Duration::from_secs(30))
    }
    fn diff(&self, tags: &Tags, observed: Option<&Obs>) -> FakeDiff {
        let size = match observed {
            Some(o) if o.size == self.size => None,
            o => Some((o.map(|o| o.size), self.size)),
        };
        FakeDiff {
            refused: self.stateful && observed.is_some_and(|o| o.size > self.size),
            size,
            tags: observed.map_or_else(Default::default, |o| {
                tags.diff(o.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            }),
        }
    }
    async fn apply(
        &self,
        _ctx: &Context,
        tags: &Tags,
        observed: Option<&Obs>,
        diff: &FakeDiff,
    ) -> Result<String, ResourceError> {
        let mut store = self.store.lock().unwrap();
        if observed.is_none() {
            store.writes.push("create".into());
            store.thing = Some(Obs {
                size: self.size,
                tags: tags.as_map().clone(),
                status: if self.waits {
                    vec!["creating".into(), "creating".into()]
                } else {
                    Vec::new()
                },
            });
        } else if let Some((_, new)) = diff.size {
            store.writes.push(format!("resize {new}"));
            if let Some(t) = store.thing.as_mut() {
                t.size = new;
            }
        }
        Ok("thing-1".into())
    }
    fn output(&self, _ctx: &Context, _observed: &Obs) -> String {
        "thing-1".into()
    }
}

impl Destroy for Fake {
    async fn delete(&self, _ctx: &Context, _observed: &Obs) -> Result<(), ResourceError> {
        let mut store = self.store.lock().unwrap();
        store.writes.push("delete".into());
        store.thing = None;
        Ok(())
    }
}

async fn ctx(mode: Mode) -> (Context, Arc<CollectingReporter>) {
    let reporter = Arc::new(CollectingReporter::default());
    let ctx = Context::builder("t", "dev")
        .endpoint_url("http://127.0.0.1:9")
        .tags(Tags::standard("p", "dev", "o", "c", "t"))
        .reporter(reporter.clone())
        .mode(mode)
        .build()
        .await;
    (ctx, reporter)
}

fn fake(size: u32) -> (Fake, Arc<Mutex<Store>>) {
    let store = Arc::new(Mutex::new(Store::default()));
    (
        Fake {
            size,
            store: store.clone(),
            waits: false,
            stateful: false,
        },
        store,
    )
}

fn kinds(reporter: &CollectingReporter) -> Vec<String> {
    reporter
        .events()
        .iter()
        .map(|e| match e {
            Event::Started { .. } => "started".to_owned(),
            Event::Waiting { status, .. } => format!("waiting {status}"),
            Event::Done { change, .. } => format!("done {}", change.symbol()),
            Event::Failed { .. } => "failed".to_owned(),
            Event::Warning { .. } => "warning".to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn plan_mode_plans_a_create_and_writes_nothing() {
    let (ctx, reporter) = ctx(Mode::Plan).await;
    let (r, store) = fake(3);
    let c = converge(&ctx, &r).await.unwrap();
    assert!(matches!(c.change.change, Change::Create { .. }));
    assert_eq!(c.change.physical_id.as_deref(), Some("t-dev-thing"));
    assert_eq!(c.output, Known::AfterApply);
    assert!(store.lock().unwrap().writes.is_empty());
    assert_eq!(kinds(&reporter), ["started", "done +"]);
}

#[tokio::test]
async fn apply_creates_then_a_rerun_is_a_no_op_with_zero_writes() {
    let (ctx, _) = ctx(Mode::Apply).await;
    let (r, store) = fake(3);
    let c = converge(&ctx, &r).await.unwrap();
    assert!(matches!(c.change.change, Change::Create { .. }));
    assert_eq!(c.output, Known::Value("thing-1".into()));
    let again = converge(&ctx, &r).await.unwrap();
    assert_eq!(again.change.change, Change::NoOp);
    assert_eq!(again.output, Known::Value("thing-1".into()));
    assert_eq!(store.lock().unwrap().writes, ["create"]);
}

#[tokio::test]
async fn drift_is_planned_as_the_field_and_applied_as_exactly_that_write() {
    let (ctx, _) = ctx(Mode::Apply).await;
    let (r, store) = fake(3);
    let _ = converge(&ctx, &r).await.unwrap();
    let bigger = Fake {
        size: 5,
        store: store.clone(),
        waits: false,
        stateful: false,
    };
    let c = converge(&ctx, &bigger).await.unwrap();
    assert_eq!(
        c.change.change,
        Change::Update {
            fields: vec![FieldDiff::new("size", Some(3), Some(5))]
        }
    );
    assert_eq!(store.lock().unwrap().writes, ["create", "resize 5"]);
}

#[tokio::test]
async fn a_foreign_resource_of_our_name_is_refused_and_reported_failed() {
    let (ctx, reporter) = ctx(Mode::Apply).await;
    let (r, store) = fake(3);
    store.lock().unwrap().thing = Some(Obs {
        size: 3,
        tags: BTreeMap::from([("ironbark:stack".into(), "other".into())]),
        status: Vec::new(),
    });
    let err = converge(&ctx, &r).await.unwrap_err();
    assert!(
        err.to_string().contains("never adopts it implicitly"),
        "{err}"
    );
    assert!(store.lock().unwrap().writes.is_empty());
    assert_eq!(kinds(&reporter), ["started", "failed"]);
}

#[tokio::test]
async fn a_refusal_is_planned_in_plan_mode_and_never_applied() {
    let (plan_ctx, _) = ctx(Mode::Plan).await;
    let (r, store) = fake(5);
    let (apply_ctx, _) = ctx(Mode::Apply).await;
    let _ = converge(&apply_ctx, &r).await.unwrap();
    let smaller = Fake {
        size: 2,
        store: store.clone(),
        waits: false,
        stateful: true,
    };
    let planned = converge(&plan_ctx, &smaller).await.unwrap();
    assert!(
        matches!(&planned.change.change, Change::Refused { field, .. } if field == "size"),
        "{:?}",
        planned.change
    );
    let err = converge(&apply_ctx, &smaller).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("size: shrinking needs a replacement"),
        "{err}"
    );
    assert_eq!(store.lock().unwrap().writes, ["create"]);
}

#[tokio::test]
async fn a_create_waits_until_ready_reporting_each_status() {
    let (ctx, reporter) = ctx(Mode::Apply).await;
    let (mut r, store) = fake(3);
    r.waits = true;
    let c = converge(&ctx, &r).await.unwrap();
    assert!(matches!(c.change.change, Change::Create { .. }));
    assert_eq!(kinds(&reporter), ["started", "waiting creating", "done +"]);
    assert!(store
        .lock()
        .unwrap()
        .thing
        .as_ref()
        .unwrap()
        .status
        .is_empty());
}

#[tokio::test]
async fn an_interrupted_wait_is_in_progress_in_a_plan_and_resumed_by_apply() {
    let (plan_ctx, _) = ctx(Mode::Plan).await;
    let (mut r, store) = fake(3);
    r.waits = true;
    // What a run killed after its create call leaves: the resource, still creating.
    store.lock().unwrap().thing = Some(Obs {
        size: 3,
        tags: plan_ctx.tags_for("test/thing").as_map().clone(),
        status: vec!["creating".into(), "creating".into(), "creating".into()],
    });
    let planned = converge(&plan_ctx, &r).await.unwrap();
    assert_eq!(
        planned.change.change,
        Change::InProgress {
            status: "creating".into()
        }
    );
    let (apply_ctx, reporter) = ctx(Mode::Apply).await;
    let applied = converge(&apply_ctx, &r).await.unwrap();
    assert!(matches!(applied.change.change, Change::InProgress { .. }));
    assert_eq!(applied.output, Known::Value("thing-1".into()));
    assert!(kinds(&reporter).contains(&"waiting creating".to_owned()));
    assert!(store.lock().unwrap().writes.is_empty(), "never re-created");
    let after = converge(&plan_ctx, &r).await.unwrap();
    assert_eq!(after.change.change, Change::NoOp);
}

#[tokio::test]
async fn a_failed_status_is_refused_naming_it() {
    let (ctx, _) = ctx(Mode::Plan).await;
    let (mut r, store) = fake(3);
    r.waits = true;
    store.lock().unwrap().thing = Some(Obs {
        size: 3,
        tags: ctx.tags_for("test/thing").as_map().clone(),
        status: vec!["failed".into()],
    });
    let c = converge(&ctx, &r).await.unwrap();
    assert!(
        matches!(&c.change.change, Change::Refused { field, reason } if field == "status" && reason.contains("`failed`")),
        "{:?}",
        c.change
    );
}

impl Batch for Fake {
    async fn observe_all(
        ctx: &Context,
        resources: &[Self],
    ) -> Result<Vec<Option<Obs>>, ResourceError> {
        let mut out = Vec::new();
        for r in resources {
            out.push(r.observe(ctx).await?);
        }
        Ok(out)
    }
}

#[tokio::test]
async fn converge_all_reads_once_per_batch_and_keeps_the_order() {
    let (ctx, reporter) = ctx(Mode::Apply).await;
    let (a, store) = fake(1);
    let b = Fake {
        size: 1,
        store: store.clone(),
        waits: false,
        stateful: false,
    };
    let all = converge_all(&ctx, &[a, b]).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        kinds(&reporter).iter().filter(|k| *k == "started").count(),
        2
    );
}

#[tokio::test]
async fn destroy_deletes_ours_once_and_leaves_the_absent_alone() {
    let (ctx, _) = ctx(Mode::Apply).await;
    let (r, store) = fake(3);
    let _ = converge(&ctx, &r).await.unwrap();
    assert_eq!(destroy(&ctx, &r).await.unwrap().change, Change::Delete);
    assert_eq!(destroy(&ctx, &r).await.unwrap().change, Change::NoOp);
    assert_eq!(store.lock().unwrap().writes, ["create", "delete"]);
}

#[tokio::test]
async fn destroy_never_deletes_a_foreign_resource() {
    let (ctx, _) = ctx(Mode::Apply).await;
    let (r, store) = fake(3);
    store.lock().unwrap().thing = Some(Obs {
        size: 3,
        tags: BTreeMap::new(),
        status: Vec::new(),
    });
    assert_eq!(destroy(&ctx, &r).await.unwrap().change, Change::NoOp);
    assert!(store.lock().unwrap().writes.is_empty());
}

#[test]
fn change_of_is_create_update_noop_in_progress_or_refused() {
    let empty: Vec<FieldDiff> = Vec::new();
    let one = vec![FieldDiff::set("size", 1)];
    assert!(matches!(
        change_of(false, &one, &Status::Ready),
        Change::Create { .. }
    ));
    assert!(matches!(
        change_of(true, &one, &Status::Ready),
        Change::Update { .. }
    ));
    assert_eq!(change_of(true, &empty, &Status::Ready), Change::NoOp);
    assert_eq!(
        change_of(true, &empty, &Status::Pending("modifying".into())),
        Change::InProgress {
            status: "modifying".into()
        }
    );
    // A pending field change is an update: apply waits for the status first.
    assert!(matches!(
        change_of(true, &one, &Status::Pending("modifying".into())),
        Change::Update { .. }
    ));
}
