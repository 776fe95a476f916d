//! The SNS topic alarms notify, encrypted with the stack's KMS key (`CKV_AWS_26`), with its
//! subscriptions declared in the stack file: a deploy never leaves an alarm topic nobody is
//! subscribed to (seed README), and subscriptions removed from the file are removed.

use std::collections::BTreeMap;

use aws_sdk_sns::types::Tag;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::reconcile::{self, AwsError, Destroy, Diff, Resource, Status};
use ironbark_core::tags::TagDiff;
use ironbark_core::{Context, Tags};

use crate::error::ObservabilityError;

const KIND: &str = "SNS topic";
/// What SNS reports instead of an ARN for a subscription its endpoint has not confirmed.
const PENDING: &str = "PendingConfirmation";

/// One subscription: a protocol (`email`, `https`, `sqs`, `lambda`) and its endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subscription {
    /// The protocol.
    pub protocol: String,
    /// The address, URL or ARN.
    pub endpoint: String,
}

impl Subscription {
    fn label(&self) -> String {
        format!("{}:{}", self.protocol, self.endpoint)
    }
}

/// The desired topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Logical id (`observability/topic/alerts`).
    pub logical_id: String,
    /// Short name (`alerts`); the topic is `<stack>-<env>-<name>`.
    pub name: String,
    /// The KMS key (ARN) that encrypts the topic. Its policy must let
    /// `cloudwatch.amazonaws.com` use it, or alarms cannot publish.
    pub kms_key_arn: Option<String>,
    /// The subscriptions.
    pub subscriptions: Vec<Subscription>,
}

/// A subscription as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSubscription {
    /// Protocol and endpoint.
    pub subscription: Subscription,
    /// Its ARN; `None` while the endpoint has not confirmed it.
    pub arn: Option<String>,
}

/// A topic as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTopic {
    /// Its ARN.
    pub arn: String,
    /// The KMS key it is encrypted with.
    pub kms_key_arn: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Its subscriptions.
    pub subscriptions: Vec<ObservedSubscription>,
}

/// What [`ensure_topic`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct TopicOutcome {
    /// The topic's ARN (a placeholder in plan mode when it does not exist yet).
    pub arn: Option<String>,
    /// Subscriptions waiting for their endpoint to confirm (an email's link not yet clicked).
    pub pending_confirmation: usize,
    /// The change.
    pub change: ResourceChange,
}

/// The topic's name: `<stack>-<env>-<name>`.
#[must_use]
pub fn name_of(ctx: &Context, name: &str) -> String {
    ctx.physical_name(name, &NameRule::SNS_TOPIC)
}

/// What must change in the subscriptions: (to add, to remove). A pending subscription cannot
/// be removed (SNS has no ARN for it; it lapses after three days), so it is not planned.
#[must_use]
pub fn subscription_changes(
    spec: &TopicSpec,
    observed: &[ObservedSubscription],
) -> (Vec<Subscription>, Vec<ObservedSubscription>) {
    let add = spec
        .subscriptions
        .iter()
        .filter(|s| !observed.iter().any(|o| &o.subscription == *s))
        .cloned()
        .collect();
    let remove = observed
        .iter()
        .filter(|o| o.arn.is_some() && !spec.subscriptions.contains(&o.subscription))
        .cloned()
        .collect();
    (add, remove)
}

/// What differs for a topic; [`TopicSpec::apply`] acts on exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicDiff {
    /// The topic does not exist.
    pub create: bool,
    /// The KMS key to set (`Some(None)`: stop encrypting).
    pub kms_key: Option<Option<String>>,
    /// Subscriptions to make.
    pub subscribe: Vec<Subscription>,
    /// Subscription ARNs to remove.
    pub unsubscribe: Vec<String>,
    /// Tags to set and remove.
    pub tags: TagDiff,
    fields: Vec<FieldDiff>,
}

impl Diff for TopicDiff {
    fn is_empty(&self) -> bool {
        !self.create
            && self.kms_key.is_none()
            && self.subscribe.is_empty()
            && self.unsubscribe.is_empty()
            && self.tags.is_empty()
    }

    fn fields(&self) -> Vec<FieldDiff> {
        self.fields.clone()
    }
}

/// The diff for a topic. Pure.
#[must_use]
pub fn diff(spec: &TopicSpec, tags: &Tags, observed: Option<&ObservedTopic>) -> TopicDiff {
    let kms = spec.kms_key_arn.as_deref().unwrap_or("none");
    let Some(obs) = observed else {
        let mut subs: Vec<String> = spec.subscriptions.iter().map(Subscription::label).collect();
        subs.sort();
        return TopicDiff {
            create: true,
            subscribe: spec.subscriptions.clone(),
            fields: vec![
                FieldDiff::set("kms_key", kms),
                FieldDiff::set("subscriptions", subs.join(",")),
            ],
            ..TopicDiff::default()
        };
    };
    let mut d = TopicDiff::default();
    if obs.kms_key_arn != spec.kms_key_arn {
        d.kms_key = Some(spec.kms_key_arn.clone());
        d.fields.push(FieldDiff::new(
            "kms_key",
            Some(obs.kms_key_arn.as_deref().unwrap_or("none")),
            Some(kms),
        ));
    }
    let (add, remove) = subscription_changes(spec, &obs.subscriptions);
    for s in add {
        d.fields.push(FieldDiff::new(
            format!("subscription.{}", s.label()),
            None::<String>,
            Some("subscribed"),
        ));
        d.subscribe.push(s);
    }
    for o in remove {
        d.fields.push(FieldDiff::new(
            format!("subscription.{}", o.subscription.label()),
            Some("subscribed"),
            None::<String>,
        ));
        d.unsubscribe.extend(o.arn);
    }
    d.fields.extend(tags.field_diffs(&obs.tags));
    d.tags = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    d
}

/// The change for a topic. Pure.
#[must_use]
pub fn decide(spec: &TopicSpec, tags: &Tags, observed: Option<&ObservedTopic>) -> Change {
    reconcile::change_of(
        observed.is_some(),
        &diff(spec, tags, observed),
        &Status::Ready,
    )
}

/// A topic's ARN and how many of its desired subscriptions wait for confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicOutput {
    /// The ARN.
    pub arn: String,
    /// Desired subscriptions still pending confirmation.
    pub pending_confirmation: usize,
}

fn pending_of(spec: &TopicSpec, obs: &ObservedTopic) -> usize {
    obs.subscriptions
        .iter()
        .filter(|s| s.arn.is_none() && spec.subscriptions.contains(&s.subscription))
        .count()
}

impl Resource for TopicSpec {
    type Observed = ObservedTopic;
    type Diff = TopicDiff;
    type Output = TopicOutput;
    type Error = ObservabilityError;
    const KIND: &'static str = KIND;
    const SERVICE: &'static str = "sns";

    fn logical_id(&self) -> &str {
        &self.logical_id
    }
    fn name(&self, ctx: &Context) -> String {
        name_of(ctx, &self.name)
    }
    async fn observe(&self, ctx: &Context) -> Result<Option<ObservedTopic>, ObservabilityError> {
        find(&client(ctx), &self.name(ctx)).await
    }
    fn tags<'a>(&self, observed: &'a ObservedTopic) -> Option<&'a BTreeMap<String, String>> {
        Some(&observed.tags)
    }
    fn diff(&self, tags: &Tags, observed: Option<&ObservedTopic>) -> TopicDiff {
        diff(self, tags, observed)
    }
    async fn apply(
        &self,
        ctx: &Context,
        tags: &Tags,
        observed: Option<&ObservedTopic>,
        diff: &TopicDiff,
    ) -> Result<TopicOutput, ObservabilityError> {
        let sns = client(ctx);
        let name = self.name(ctx);
        let (arn, pending) = match observed {
            Some(obs) => (obs.arn.clone(), pending_of(self, obs)),
            None => (create(&sns, &name, self, tags).await?, 0),
        };
        let new_pending = write(&sns, &name, &arn, diff).await?;
        Ok(TopicOutput {
            arn,
            pending_confirmation: pending + new_pending,
        })
    }
    fn output(&self, _ctx: &Context, observed: &ObservedTopic) -> TopicOutput {
        TopicOutput {
            arn: observed.arn.clone(),
            pending_confirmation: pending_of(self, observed),
        }
    }
}

impl Destroy for TopicSpec {
    async fn delete(
        &self,
        ctx: &Context,
        observed: &ObservedTopic,
    ) -> Result<(), ObservabilityError> {
        client(ctx)
            .delete_topic()
            .topic_arn(&observed.arn)
            .send()
            .await
            .map_err(AwsError::map("delete", KIND, &self.name(ctx)))?;
        Ok(())
    }
}

/// Creates the topic with its tags and key (`CreateTopic` of an existing name with the same
/// attributes returns it); returns its ARN.
async fn create(
    sns: &aws_sdk_sns::Client,
    name: &str,
    spec: &TopicSpec,
    tags: &Tags,
) -> Result<String, ObservabilityError> {
    let mut create = sns.create_topic().name(name).set_tags(Some(sns_tags(tags)));
    if let Some(key) = &spec.kms_key_arn {
        create = create.attributes("KmsMasterKeyId", key);
    }
    let out = create
        .send()
        .await
        .map_err(AwsError::map("create", KIND, name))?;
    out.topic_arn()
        .map(str::to_owned)
        .ok_or_else(|| ObservabilityError::Missing {
            kind: KIND,
            name: name.to_owned(),
            what: "topic ARN",
        })
}

pub(crate) fn client(ctx: &Context) -> aws_sdk_sns::Client {
    ironbark_core::sdk_client!(ctx, aws_sdk_sns)
}

/// Reads the topic `name`, or `None` when it does not exist.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn find(
    sns: &aws_sdk_sns::Client,
    name: &str,
) -> Result<Option<ObservedTopic>, ObservabilityError> {
    let topics: Vec<_> = sns
        .list_topics()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list", KIND, name))?;
    let suffix = format!(":{name}");
    let Some(arn) = topics
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|a| a.ends_with(&suffix))
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .map_err(AwsError::map("read", KIND, name))?;
    let tags = sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(AwsError::map("read the tags of", KIND, name))?;
    let subs: Vec<_> = sns
        .list_subscriptions_by_topic()
        .topic_arn(&arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::map("list the subscriptions of", KIND, name))?;
    Ok(Some(ObservedTopic {
        kms_key_arn: attrs
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .filter(|k| !k.is_empty())
            .cloned(),
        tags: tags
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        subscriptions: subs
            .iter()
            .map(|s| ObservedSubscription {
                subscription: Subscription {
                    protocol: s.protocol().unwrap_or_default().to_owned(),
                    endpoint: s.endpoint().unwrap_or_default().to_owned(),
                },
                arn: s
                    .subscription_arn()
                    .filter(|a| *a != PENDING && a.starts_with("arn:"))
                    .map(str::to_owned),
            })
            .collect(),
        arn,
    }))
}

fn sns_tags(tags: &Tags) -> Vec<Tag> {
    tags.to_sdk(|k, v| Tag::builder().key(k).value(v).build())
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

/// Creates the topic, or brings its encryption, subscriptions and tags to the spec.
///
/// # Idempotency
/// Found by its deterministic name. `CreateTopic` with the same name and attributes returns
/// the existing topic, so an interrupted create is harmless; a subscription already present
/// (confirmed or pending) is not made again. A converged topic costs four reads and no write.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails, [`ObservabilityError::Refused`] for a topic
/// of that name tagged for something else.
pub async fn ensure_topic(
    ctx: &Context,
    spec: &TopicSpec,
) -> Result<TopicOutcome, ObservabilityError> {
    let c = reconcile::converge(ctx, spec).await?;
    let out = c.output.into_value();
    Ok(TopicOutcome {
        arn: out.as_ref().map(|o| o.arn.clone()),
        pending_confirmation: out.map_or(0, |o| o.pending_confirmation),
        change: c.change,
    })
}

/// Makes the calls `diff` says on the topic `arn`; returns how many new subscriptions wait
/// for confirmation.
async fn write(
    sns: &aws_sdk_sns::Client,
    name: &str,
    arn: &str,
    diff: &TopicDiff,
) -> Result<usize, ObservabilityError> {
    if let Some(key) = &diff.kms_key {
        sns.set_topic_attributes()
            .topic_arn(arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(key.clone().unwrap_or_default())
            .send()
            .await
            .map_err(AwsError::map("encrypt", KIND, name))?;
    }
    let mut pending = 0;
    for s in &diff.subscribe {
        let out = sns
            .subscribe()
            .topic_arn(arn)
            .protocol(&s.protocol)
            .endpoint(&s.endpoint)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(AwsError::map("subscribe to", KIND, name))?;
        if out.subscription_arn().is_none_or(|a| a == PENDING) {
            pending += 1;
        }
    }
    for sub in &diff.unsubscribe {
        sns.unsubscribe()
            .subscription_arn(sub)
            .send()
            .await
            .map_err(AwsError::map("unsubscribe from", KIND, name))?;
    }
    if !diff.tags.set.is_empty() {
        sns.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(sns_tags(&diff.tags.to_set())))
            .send()
            .await
            .map_err(AwsError::map("tag", KIND, name))?;
    }
    if !diff.tags.remove.is_empty() {
        sns.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(diff.tags.remove.clone()))
            .send()
            .await
            .map_err(AwsError::map("untag", KIND, name))?;
    }
    Ok(pending)
}

/// Deletes the topic `name` (short name) of `logical_id`; SNS removes its subscriptions.
///
/// # Idempotency
/// An absent topic is a no-op; a topic tagged for something else is left alone.
///
/// # Errors
/// [`ObservabilityError::Aws`] when a call fails.
pub async fn destroy_topic(
    ctx: &Context,
    logical_id: &str,
    name: &str,
) -> Result<ResourceChange, ObservabilityError> {
    let spec = TopicSpec {
        logical_id: logical_id.to_owned(),
        name: name.to_owned(),
        kms_key_arn: None,
        subscriptions: Vec::new(),
    };
    reconcile::destroy(ctx, &spec).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(endpoint: &str) -> Subscription {
        Subscription {
            protocol: "email".into(),
            endpoint: endpoint.into(),
        }
    }

    #[test]
    fn subscriptions_are_added_and_removed_but_pending_ones_are_left_to_lapse() {
        let spec = TopicSpec {
            logical_id: "observability/topic/alerts".into(),
            name: "alerts".into(),
            kms_key_arn: None,
            subscriptions: vec![sub("a@x.io"), sub("b@x.io")],
        };
        let observed = vec![
            ObservedSubscription {
                subscription: sub("a@x.io"),
                arn: Some("arn:aws:sns:us-east-1:1:t:1".into()),
            },
            ObservedSubscription {
                subscription: sub("old@x.io"),
                arn: Some("arn:aws:sns:us-east-1:1:t:2".into()),
            },
            ObservedSubscription {
                subscription: sub("typo@x.io"),
                arn: None,
            },
        ];
        let (add, remove) = subscription_changes(&spec, &observed);
        assert_eq!(add, vec![sub("b@x.io")]);
        assert_eq!(remove.len(), 1);
        assert_eq!(remove[0].subscription, sub("old@x.io"));
        let tags = Tags::standard("p", "dev", "o", "c", "s").with_id(&spec.logical_id);
        let obs = ObservedTopic {
            arn: "arn:aws:sns:us-east-1:1:t".into(),
            kms_key_arn: None,
            tags: tags.as_map().clone(),
            subscriptions: observed,
        };
        let Change::Update { fields } = decide(&spec, &tags, Some(&obs)) else {
            panic!("an update");
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            ["subscription.email:b@x.io", "subscription.email:old@x.io"]
        );
    }
}
