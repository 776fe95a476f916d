//! Saved CloudWatch Logs Insights queries (seed 002), filed in the console under
//! `<stack>/<env>/`. Query definitions have no tags and no unique names in AWS: Ironbark finds
//! its own by their deterministic name, updates one in place by id, and deletes duplicates an
//! interrupted run may have left.

use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use std::collections::BTreeMap;

use ironbark_core::reconcile::{self, AwsError, Destroy, Diff, Resource, Status};
use ironbark_core::{Context, Tags};

use crate::error::ObservabilityError;

const KIND: &str = "Logs Insights query";

/// A desired saved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    /// Logical id (`observability/query/errors`).
    pub logical_id: String,
    /// Short name; the query is `<stack>/<env>/<name>`.
    pub name: String,
    /// The log groups it runs over (full names), sorted.
    pub log_groups: Vec<String>,
    /// The query text.
    pub query: String,
}

/// A query definition as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedQuery {
    /// Its id.
    pub id: String,
    /// Its log groups, sorted.
    pub log_groups: Vec<String>,
    /// Its text.
    pub query: String,
}

/// What [`ensure_query`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct QueryOutcome {
    /// The query's name.
    pub name: String,
    /// The change.
    pub change: ResourceChange,
}

/// The query's name: `<stack>/<env>/<name>`.
#[must_use]
pub fn name_of(ctx: &Context, name: &str) -> String {
    ctx.physical_name(name, &NameRule::LOG_GROUP)
}

/// What differs for a saved query, given every definition of its name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryDiff {
    /// The definition to update in place (`None`: create one).
    pub update_id: Option<String>,
    /// Its log groups or text differ (or it does not exist): one put.
    pub put: bool,
    /// Further definitions of the name, left by a retried create: deleted.
    pub extra_ids: Vec<String>,
    fields: Vec<FieldDiff>,
}

impl Diff for QueryDiff {
    fn is_empty(&self) -> bool {
        !self.put && self.extra_ids.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        self.fields.clone()
    }
}

/// The diff for a saved query, given every definition of its name. Pure.
#[must_use]
pub fn diff(spec: &QuerySpec, observed: &[ObservedQuery]) -> QueryDiff {
    let Some(first) = observed.first() else {
        return QueryDiff {
            put: true,
            fields: vec![
                FieldDiff::set("log_groups", spec.log_groups.join(",")),
                FieldDiff::set("query", &spec.query),
            ],
            ..QueryDiff::default()
        };
    };
    let mut fields = Vec::new();
    if first.log_groups != spec.log_groups {
        fields.push(FieldDiff::new(
            "log_groups",
            Some(first.log_groups.join(",")),
            Some(spec.log_groups.join(",")),
        ));
    }
    if first.query != spec.query {
        fields.push(FieldDiff::new(
            "query",
            Some(&first.query),
            Some(&spec.query),
        ));
    }
    let put = !fields.is_empty();
    if observed.len() > 1 {
        fields.push(FieldDiff::new("copies", Some(observed.len()), Some(1)));
    }
    QueryDiff {
        update_id: Some(first.id.clone()),
        put,
        extra_ids: observed.iter().skip(1).map(|q| q.id.clone()).collect(),
        fields,
    }
}

/// The change for a saved query, given every definition of its name. Pure.
#[must_use]
pub fn decide(spec: &QuerySpec, observed: &[ObservedQuery]) -> Change {
    reconcile::change_of(!observed.is_empty(), &diff(spec, observed), &Status::Ready)
}

/// Saved queries cannot be tagged and have no unique names: the name is the identity.
impl Resource for QuerySpec {
    type Observed = Vec<ObservedQuery>;
    type Diff = QueryDiff;
    type Output = String;
    type Error = ObservabilityError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "logs";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }
    fn name(&self, ctx: &Context) -> String {
        name_of(ctx, &self.name)
    }
    async fn observe(
        &self,
        ctx: &Context,
    ) -> Result<Option<Vec<ObservedQuery>>, ObservabilityError> {
        let found = find(&client(ctx), &self.name(ctx)).await?;
        Ok((!found.is_empty()).then_some(found))
    }
    fn tags<'a>(&self, _observed: &'a Vec<ObservedQuery>) -> Option<&'a BTreeMap<String, String>> {
        None
    }
    fn diff(&self, _tags: &Tags, observed: Option<&Vec<ObservedQuery>>) -> QueryDiff {
        diff(self, observed.map_or(&[][..], Vec::as_slice))
    }
    async fn apply(
        &self,
        ctx: &Context,
        _tags: &Tags,
        _observed: Option<&Vec<ObservedQuery>>,
        diff: &QueryDiff,
    ) -> Result<String, ObservabilityError> {
        let logs = client(ctx);
        let name = self.name(ctx);
        if diff.put {
            logs.put_query_definition()
                .name(&name)
                .set_query_definition_id(diff.update_id.clone())
                .set_log_group_names(Some(self.log_groups.clone()))
                .query_string(&self.query)
                .send()
                .await
                .map_err(AwsError::map("put", KIND, &name))?;
        }
        for id in &diff.extra_ids {
            delete(&logs, &name, id).await?;
        }
        Ok(name)
    }
    fn output(&self, ctx: &Context, _observed: &Vec<ObservedQuery>) -> String {
        self.name(ctx)
    }
}

impl Destroy for QuerySpec {
    async fn delete(
        &self,
        ctx: &Context,
        observed: &Vec<ObservedQuery>,
    ) -> Result<(), ObservabilityError> {
        let logs = client(ctx);
        let name = self.name(ctx);
        for q in observed {
            delete(&logs, &name, &q.id).await?;
        }
        Ok(())
    }
}

fn client(ctx: &Context) -> aws_sdk_cloudwatchlogs::Client {
    crate::log_group::client(ctx)
}

/// Every definition named exactly `name`, oldest id first.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn find(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
) -> Result<Vec<ObservedQuery>, ObservabilityError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = logs
            .describe_query_definitions()
            .query_definition_name_prefix(name)
            .set_next_token(token)
            .send()
            .await
            .map_err(AwsError::map("read", KIND, name))?;
        for q in page.query_definitions() {
            if q.name() != Some(name) {
                continue;
            }
            let mut groups = q.log_group_names().to_vec();
            groups.sort();
            out.push(ObservedQuery {
                id: q.query_definition_id().unwrap_or_default().to_owned(),
                log_groups: groups,
                query: q.query_string().unwrap_or_default().to_owned(),
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Creates the saved query, or brings its log groups and text to the spec.
///
/// # Idempotency
/// Found by its deterministic name; the first definition found is updated in place and any
/// further copies (a create whose response was lost and retried) are deleted. A converged
/// query costs one read and no write.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn ensure_query(
    ctx: &Context,
    spec: &QuerySpec,
) -> Result<QueryOutcome, ObservabilityError> {
    let c = reconcile::converge(ctx, spec).await?;
    Ok(QueryOutcome {
        name: spec.name(ctx),
        change: c.change,
    })
}

async fn delete(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
    id: &str,
) -> Result<(), ObservabilityError> {
    match logs
        .delete_query_definition()
        .query_definition_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(aws_sdk_cloudwatchlogs::operation::delete_query_definition::DeleteQueryDefinitionError::is_resource_not_found_exception) =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::new("delete", KIND, name, e).into()),
    }
}

/// Deletes every saved query named after `name` (short name) of `logical_id`.
///
/// # Idempotency
/// No definition of that name is a no-op.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn destroy_query(
    ctx: &Context,
    logical_id: &str,
    name: &str,
) -> Result<ResourceChange, ObservabilityError> {
    let spec = QuerySpec {
        logical_id: logical_id.to_owned(),
        name: name.to_owned(),
        log_groups: Vec::new(),
        query: String::new(),
    };
    reconcile::destroy(ctx, &spec).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_planned_away_and_text_changes_in_place() {
        let spec = QuerySpec {
            logical_id: "observability/query/errors".into(),
            name: "errors".into(),
            log_groups: vec!["/s/dev/api".into()],
            query: "fields @message".into(),
        };
        assert!(matches!(decide(&spec, &[]), Change::Create { .. }));
        let same = ObservedQuery {
            id: "1".into(),
            log_groups: spec.log_groups.clone(),
            query: spec.query.clone(),
        };
        assert_eq!(decide(&spec, std::slice::from_ref(&same)), Change::NoOp);
        let copy = ObservedQuery {
            id: "2".into(),
            ..same.clone()
        };
        let Change::Update { fields } = decide(&spec, &[same.clone(), copy]) else {
            panic!("an update");
        };
        assert_eq!(fields[0].field, "copies");
        let edited = ObservedQuery {
            query: "fields @timestamp".into(),
            ..same
        };
        let Change::Update { fields } = decide(&spec, &[edited]) else {
            panic!("an update");
        };
        assert_eq!(fields[0].field, "query");
    }
}
