//! The identity layer: the stack's KMS key, then (when enabled) Cognito: user pool, resource
//! server, web and M2M clients, hosted domain, the M2M credential in Secrets Manager, groups,
//! and an identity pool whose authenticated users assume a role. Outputs are ids and ARNs,
//! never secret values.

use ironbark_core::config::{IdentityConfig, StackConfig};
use ironbark_core::{Change, Context, FieldDiff, Plan, ResourceChange};
use ironbark_identity::cognito::domain::default_prefix;
use ironbark_identity::cognito::identity_pool::{
    destroy_identity_pool, ensure_identity_pool_roles,
};
use ironbark_identity::cognito::{
    destroy_user_pool, ensure_client, ensure_domain, ensure_group, ensure_identity_pool,
    ensure_resource_server, ensure_user_pool, m2m_credentials, ClientKind, ClientSpec, GroupSpec,
    IdentityPoolSpec, Mfa, PasswordPolicy, ResourceServerSpec, SignIn, UserPoolSpec,
};
use ironbark_identity::document::{PolicyDocument, Statement};
use ironbark_identity::kms::{destroy_key, ensure_key, KeySpec};
use ironbark_identity::role::{destroy_role, ensure_role, RoleSpec, ServicePrincipal, Trust};
use ironbark_identity::secret::{destroy_secret, ensure_secret};

use crate::{
    Action, IdentityOutputs, Layer, LayerError, LayerFuture, LayerResult, Outputs, Publisher,
    StepError,
};

const POOL: &str = "identity/cognito/users";
const API: &str = "identity/cognito/api";
const WEB: &str = "identity/cognito/web";
const M2M: &str = "identity/cognito/m2m";
const M2M_SECRET: &str = "identity/cognito/m2m-credentials";
const DOMAIN: &str = "identity/cognito/domain";
const IDENTITIES: &str = "identity/cognito/identities";
const AUTH_ROLE: &str = "identity/role/authenticated";
/// The identity pool's role mapping (which role authenticated identities get).
const IDENTITY_ROLES: &str = "identity/cognito/identities/roles";
const KEY: &str = "main";
const FLOW_LOGS_ROLE: &str = "identity/role/vpc-flow-logs";

/// The identity layer of a stack.
pub struct Identity {
    /// The identity section.
    pub cfg: IdentityConfig,
    /// Whether the networking layer wants a role for VPC flow logs.
    pub flow_logs: bool,
}

impl Identity {
    /// The layer for `cfg`.
    pub fn new(cfg: &StackConfig) -> Self {
        Self {
            cfg: cfg.identity.clone(),
            flow_logs: cfg.networking.enabled && cfg.networking.flow_logs,
        }
    }
}

impl Layer for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    fn run(
        &self,
        ctx: Context,
        _inputs: Outputs,
        action: Action,
        _publish: Publisher,
    ) -> LayerFuture {
        let (cfg, flow_logs) = (self.cfg.clone(), self.flow_logs);
        Box::pin(async move {
            match action {
                Action::Converge => {
                    let mut r = converge(&ctx, &cfg).await?;
                    if flow_logs {
                        let role = ensure_role(&ctx, &flow_logs_role()).await?;
                        r.plan.push(role.change);
                        if let Some(arn) = role.arn {
                            r.outputs.insert("flow_logs_role_arn".into(), arn);
                        }
                    }
                    let typed = IdentityOutputs::from_values(&r.outputs);
                    Ok(r.with_typed(typed))
                }
                Action::Destroy { allow_protected } => destroy(&ctx, &cfg, allow_protected).await,
            }
        })
    }
}

/// The role VPC flow logs assume to write to CloudWatch Logs (what AWS documents for
/// flow logs publishing to a log group).
fn flow_logs_role() -> RoleSpec {
    RoleSpec::for_services(FLOW_LOGS_ROLE, [ServicePrincipal::VpcFlowLogs]).with_inline(
        "write-flow-logs",
        PolicyDocument::new(vec![Statement::allow(
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
            ],
            ["*"],
        )]),
    )
}

fn key_spec(ctx: &Context) -> KeySpec {
    let mut spec = KeySpec::new(
        KEY,
        [
            format!("logs.{}.amazonaws.com", ctx.region()),
            "secretsmanager.amazonaws.com".to_owned(),
            // CloudWatch alarms publish to the alert topic, which this key encrypts.
            "cloudwatch.amazonaws.com".to_owned(),
        ],
    );
    spec.description = format!("{} {} main key", ctx.stack(), ctx.env());
    spec
}

fn specs(cfg: &IdentityConfig) -> (UserPoolSpec, ResourceServerSpec, ClientSpec, ClientSpec) {
    let c = &cfg.cognito;
    let pool = UserPoolSpec {
        logical_id: POOL.into(),
        password: PasswordPolicy {
            min_length: i32::from(c.password_min_length),
            ..PasswordPolicy::default()
        },
        mfa: match c.mfa.as_str() {
            "on" => Mfa::On,
            "optional" => Mfa::Optional,
            _ => Mfa::Off,
        },
        advanced_security: c.advanced_security,
        deletion_protection: c.deletion_protection,
        sign_in: if c.sign_in == "username" {
            SignIn::Username
        } else {
            SignIn::Email
        },
        custom_attributes: [("tenant_id".to_owned(), "String".to_owned())].into(),
    };
    let api = ResourceServerSpec {
        logical_id: API.into(),
        identifier: c.api_identifier.clone(),
        name: "api".into(),
        scopes: c
            .scopes
            .iter()
            .map(|s| (s.clone(), format!("{s} access")))
            .collect(),
    };
    let web = ClientSpec {
        logical_id: WEB.into(),
        kind: ClientKind::Web {
            callback_urls: c.callback_urls.iter().cloned().collect(),
            logout_urls: c.logout_urls.iter().cloned().collect(),
            scopes: ["openid", "email", "profile"].map(String::from).into(),
        },
    };
    let m2m = ClientSpec {
        logical_id: M2M.into(),
        kind: ClientKind::M2m {
            scopes: api.full_scopes().into_iter().collect(),
        },
    };
    (pool, api, web, m2m)
}

/// A resource that cannot be observed yet because what it belongs to does not exist (plan
/// mode before the first deploy): it will be created.
fn pending(id: &str, kind: &str) -> ResourceChange {
    ResourceChange {
        id: id.to_owned(),
        kind: kind.to_owned(),
        physical_id: None,
        change: Change::Create { fields: Vec::new() },
    }
}

/// The identity pool's role mapping, when the pool or its role is yet to be created (plan
/// mode): apply sets it once both exist, as an update of the new pool's (empty) mapping, so the
/// plan counts it as apply will.
fn pending_roles() -> ResourceChange {
    ResourceChange {
        id: IDENTITY_ROLES.to_owned(),
        kind: "identity pool roles".to_owned(),
        physical_id: None,
        change: Change::Update {
            fields: vec![FieldDiff::set(
                "roles.authenticated",
                ironbark_core::KNOWN_AFTER_APPLY,
            )],
        },
    }
}

async fn converge(ctx: &Context, cfg: &IdentityConfig) -> Result<LayerResult, LayerError> {
    let mut r = LayerResult::default();
    let (pool_spec, api, web_spec, m2m_spec) = specs(cfg);
    // The key and the user pool do not depend on each other: converge them together.
    let key_spec = key_spec(ctx);
    let (key, pool) = tokio::join!(ensure_key(ctx, &key_spec), async {
        if cfg.cognito.enabled {
            ensure_user_pool(ctx, &pool_spec).await.map(Some)
        } else {
            Ok(None)
        }
    });
    let key = key?;
    r.plan.push(key.change.clone());
    r.outputs.insert("kms_alias".into(), key.alias.clone());
    if let Some(arn) = &key.arn {
        r.outputs.insert("kms_key_arn".into(), arn.clone());
    }
    let Some(pool) = pool? else {
        return Ok(r);
    };
    r.plan.push(pool.change.clone());
    let Some(pool_id) = pool.id.clone() else {
        for (id, kind) in [
            (API, "resource server"),
            (WEB, "app client"),
            (M2M, "app client"),
            (DOMAIN, "user pool domain"),
            (M2M_SECRET, "secret"),
            (IDENTITIES, "identity pool"),
            (AUTH_ROLE, "role"),
        ] {
            r.plan.push(pending(id, kind));
        }
        r.plan.push(pending_roles());
        for group in &cfg.cognito.groups {
            r.plan.push(pending(
                &format!("identity/cognito/group/{group}"),
                "user pool group",
            ));
        }
        return Ok(r);
    };
    r.outputs.insert("user_pool_id".into(), pool_id.clone());
    if let Some(arn) = &pool.arn {
        r.outputs.insert("user_pool_arn".into(), arn.clone());
    }
    r.plan
        .push(ensure_resource_server(ctx, &pool_id, &api).await?);
    let web = ensure_client(ctx, &pool_id, &web_spec).await?;
    r.plan.push(web.change.clone());
    let m2m = ensure_client(ctx, &pool_id, &m2m_spec).await?;
    r.plan.push(m2m.change.clone());
    let domain = ensure_domain(ctx, DOMAIN, &pool_id, &default_prefix(ctx)).await?;
    r.plan.push(domain.change.clone());
    r.outputs
        .insert("token_url".into(), domain.token_url.clone());
    let mut secret_spec = m2m_credentials(M2M_SECRET, &m2m, &domain.token_url, &api.full_scopes());
    secret_spec.description =
        Some("M2M client credential (client_id, client_secret, token_url, scopes)".into());
    secret_spec.kms_key_id.clone_from(&key.arn);
    let secret = ensure_secret(ctx, &secret_spec).await?;
    r.plan.push(secret.change.clone());
    if let Some(arn) = secret.arn {
        r.outputs.insert("m2m_secret_arn".into(), arn);
    }
    for (i, group) in cfg.cognito.groups.iter().enumerate() {
        let spec = GroupSpec {
            name: group.clone(),
            description: None,
            precedence: i32::try_from(i + 1).ok(),
            role_arn: None,
        };
        r.plan.push(ensure_group(ctx, &pool_id, &spec).await?);
    }
    for (name, id) in [
        ("web_client_id", &web.client_id),
        ("m2m_client_id", &m2m.client_id),
    ] {
        if let Some(id) = id {
            r.outputs.insert(name.into(), id.clone());
        }
    }
    let Some(web_id) = web.client_id.clone() else {
        r.plan.push(pending(IDENTITIES, "identity pool"));
        r.plan.push(pending(AUTH_ROLE, "role"));
        r.plan.push(pending_roles());
        return Ok(r);
    };
    let ip = ensure_identity_pool(
        ctx,
        &IdentityPoolSpec {
            logical_id: IDENTITIES.into(),
            providers: [(
                format!("cognito-idp.{}.amazonaws.com/{pool_id}", ctx.region()),
                web_id,
            )]
            .into(),
        },
    )
    .await?;
    r.plan.push(ip.change.clone());
    let Some(ip_id) = ip.id else {
        r.plan.push(pending(AUTH_ROLE, "role"));
        r.plan.push(pending_roles());
        return Ok(r);
    };
    r.outputs.insert("identity_pool_id".into(), ip_id.clone());
    let role = ensure_role(
        ctx,
        &RoleSpec::new(
            AUTH_ROLE,
            Trust::CognitoAuthenticated {
                identity_pool_id: ip_id.clone(),
            },
        ),
    )
    .await?;
    r.plan.push(role.change.clone());
    match role.arn {
        Some(arn) => {
            r.plan
                .push(ensure_identity_pool_roles(ctx, IDENTITY_ROLES, &ip_id, &arn).await?);
            r.outputs.insert("authenticated_role_arn".into(), arn);
        }
        None => r.plan.push(pending_roles()),
    }
    Ok(r)
}

async fn destroy(
    ctx: &Context,
    cfg: &IdentityConfig,
    allow_protected: bool,
) -> Result<LayerResult, LayerError> {
    let mut plan = Plan::default();
    plan.push(destroy_identity_pool(ctx, IDENTITIES).await?);
    plan.push(destroy_role(ctx, AUTH_ROLE).await?);
    plan.push(destroy_role(ctx, FLOW_LOGS_ROLE).await?);
    let recovery = i64::from(cfg.secret_recovery_days);
    plan.push(destroy_secret(ctx, M2M_SECRET, recovery).await?);
    // The pool goes with its clients, resource server, groups and domain. A protected pool is
    // refused (and left alone) unless --allow-protected.
    let pool = {
        let plan_ctx_refusal = destroy_user_pool(ctx, POOL, allow_protected).await;
        match plan_ctx_refusal {
            Ok(change) => change,
            Err(e) if e.refusal().is_some() => ResourceChange {
                id: POOL.into(),
                kind: "user pool".into(),
                physical_id: None,
                change: Change::Refused {
                    field: "deletion_protection".into(),
                    reason: e.refusal().unwrap_or_default().to_owned(),
                },
            },
            Err(e) => return Err(StepError::caused("failed to destroy the user pool", e).into()),
        }
    };
    let refused = matches!(pool.change, Change::Refused { .. });
    plan.push(pool);
    plan.push(destroy_key(ctx, KEY, i32::from(cfg.kms_deletion_window_days)).await?);
    if refused && ctx.is_apply() {
        return Err(StepError::new("the user pool is deletion-protected and was kept: destroy again with --allow-protected to delete it and its users").into());
    }
    Ok(LayerResult::new(plan, Default::default()))
}
