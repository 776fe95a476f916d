//! The SNS topic alarms notify, encrypted with the stack's KMS key (`CKV_AWS_26`), with its
//! subscriptions declared in the stack file: a deploy never leaves an alarm topic nobody is
//! subscribed to (seed README), and subscriptions removed from the file are removed.

use std::collections::BTreeMap;

use aws_sdk_sns::types::Tag;
use ironbark_core::naming::NameRule;
use ironbark_core::plan::{Change, FieldDiff, ResourceChange};
use ironbark_core::{Context, Event, Tags};

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

/// The change for a topic. Pure.
#[must_use]
pub fn decide(spec: &TopicSpec, tags: &Tags, observed: Option<&ObservedTopic>) -> Change {
    let kms = spec.kms_key_arn.as_deref().unwrap_or("none");
    let Some(obs) = observed else {
        let mut subs: Vec<String> = spec.subscriptions.iter().map(Subscription::label).collect();
        subs.sort();
        return Change::Create {
            fields: vec![
                FieldDiff::set("kms_key", kms),
                FieldDiff::set("subscriptions", subs.join(",")),
            ],
        };
    };
    let mut fields = Vec::new();
    if obs.kms_key_arn != spec.kms_key_arn {
        fields.push(FieldDiff::new(
            "kms_key",
            Some(obs.kms_key_arn.as_deref().unwrap_or("none")),
            Some(kms),
        ));
    }
    let (add, remove) = subscription_changes(spec, &obs.subscriptions);
    for s in add {
        fields.push(FieldDiff::new(
            format!("subscription.{}", s.label()),
            None::<String>,
            Some("subscribed"),
        ));
    }
    for o in remove {
        fields.push(FieldDiff::new(
            format!("subscription.{}", o.subscription.label()),
            Some("subscribed"),
            None::<String>,
        ));
    }
    fields.extend(tags.field_diffs(&obs.tags));
    Change::update_if_any(fields)
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
        .map_err(ObservabilityError::aws("list", KIND, name))?;
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
        .map_err(ObservabilityError::aws("read", KIND, name))?;
    let tags = sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(ObservabilityError::aws("read the tags of", KIND, name))?;
    let subs: Vec<_> = sns
        .list_subscriptions_by_topic()
        .topic_arn(&arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(ObservabilityError::aws(
            "list the subscriptions of",
            KIND,
            name,
        ))?;
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
    let sns = client(ctx);
    let name = name_of(ctx, &spec.name);
    ctx.report(Event::Started {
        resource: spec.logical_id.clone(),
    });
    let _permit = ctx.permit("sns").await;
    let tags = ctx.tags_for(&spec.logical_id);
    let observed = find(&sns, &name).await?;
    if let Some(obs) = &observed {
        if !tags.marks(&obs.tags) {
            return Err(ObservabilityError::foreign(KIND, &name, &spec.logical_id));
        }
    }
    let change = decide(spec, &tags, observed.as_ref());
    let mut arn = observed.as_ref().map(|o| o.arn.clone());
    let mut pending = observed.as_ref().map_or(0, |o| {
        o.subscriptions
            .iter()
            .filter(|s| s.arn.is_none() && spec.subscriptions.contains(&s.subscription))
            .count()
    });
    if ctx.is_apply() && change.is_change() {
        let current = match observed {
            Some(obs) => obs,
            None => {
                let mut create = sns
                    .create_topic()
                    .name(&name)
                    .set_tags(Some(sns_tags(&tags)));
                if let Some(key) = &spec.kms_key_arn {
                    create = create.attributes("KmsMasterKeyId", key);
                }
                let out = create
                    .send()
                    .await
                    .map_err(ObservabilityError::aws("create", KIND, &name))?;
                let created = out.topic_arn().ok_or_else(|| ObservabilityError::Missing {
                    kind: KIND,
                    name: name.clone(),
                    what: "topic ARN",
                })?;
                ObservedTopic {
                    arn: created.to_owned(),
                    kms_key_arn: spec.kms_key_arn.clone(),
                    tags: tags.as_map().clone(),
                    subscriptions: Vec::new(),
                }
            }
        };
        pending += converge(&sns, &name, spec, &tags, &current).await?;
        arn = Some(current.arn);
    }
    ctx.report(Event::Done {
        resource: spec.logical_id.clone(),
        change: change.clone(),
    });
    Ok(TopicOutcome {
        arn,
        pending_confirmation: pending,
        change: ResourceChange {
            id: spec.logical_id.clone(),
            kind: KIND.to_owned(),
            physical_id: Some(name),
            change,
        },
    })
}

/// Makes the calls that bring `obs` to the spec; returns how many new subscriptions wait for
/// confirmation.
async fn converge(
    sns: &aws_sdk_sns::Client,
    name: &str,
    spec: &TopicSpec,
    tags: &Tags,
    obs: &ObservedTopic,
) -> Result<usize, ObservabilityError> {
    if obs.kms_key_arn != spec.kms_key_arn {
        sns.set_topic_attributes()
            .topic_arn(&obs.arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(spec.kms_key_arn.clone().unwrap_or_default())
            .send()
            .await
            .map_err(ObservabilityError::aws("encrypt", KIND, name))?;
    }
    let (add, remove) = subscription_changes(spec, &obs.subscriptions);
    let mut pending = 0;
    for s in add {
        let out = sns
            .subscribe()
            .topic_arn(&obs.arn)
            .protocol(&s.protocol)
            .endpoint(&s.endpoint)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(ObservabilityError::aws("subscribe to", KIND, name))?;
        if out.subscription_arn().is_none_or(|a| a == PENDING) {
            pending += 1;
        }
    }
    for o in remove {
        if let Some(arn) = &o.arn {
            sns.unsubscribe()
                .subscription_arn(arn)
                .send()
                .await
                .map_err(ObservabilityError::aws("unsubscribe from", KIND, name))?;
        }
    }
    let diff = tags.diff(obs.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !diff.set.is_empty() {
        let set = diff.to_set();
        sns.tag_resource()
            .resource_arn(&obs.arn)
            .set_tags(Some(sns_tags(&set)))
            .send()
            .await
            .map_err(ObservabilityError::aws("tag", KIND, name))?;
    }
    if !diff.remove.is_empty() {
        sns.untag_resource()
            .resource_arn(&obs.arn)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .map_err(ObservabilityError::aws("untag", KIND, name))?;
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
    let sns = client(ctx);
    let name = name_of(ctx, name);
    let observed = find(&sns, &name).await?;
    let change = match &observed {
        Some(obs) if ctx.tags_for(logical_id).marks(&obs.tags) => Change::Delete,
        _ => Change::NoOp,
    };
    if let (true, Some(obs)) = (ctx.is_apply() && change.is_change(), &observed) {
        sns.delete_topic()
            .topic_arn(&obs.arn)
            .send()
            .await
            .map_err(ObservabilityError::aws("delete", KIND, &name))?;
    }
    Ok(ResourceChange {
        id: logical_id.to_owned(),
        kind: KIND.to_owned(),
        physical_id: Some(name),
        change,
    })
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
