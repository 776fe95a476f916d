//! Cognito against the emulator: pool, resource server, web and M2M clients (with the M2M
//! credential in Secrets Manager), domain, group, identity pool with its authenticated role.

use std::collections::BTreeSet;

use ironbark_core::{Change, Mode, Plan, ResourceChange};
use ironbark_identity::cognito::domain::default_prefix;
use ironbark_identity::cognito::identity_pool::{
    destroy_identity_pool, ensure_identity_pool_roles,
};
use ironbark_identity::cognito::{
    destroy_user_pool, ensure_client, ensure_domain, ensure_group, ensure_identity_pool,
    ensure_resource_server, ensure_user_pool, m2m_credentials, ClientKind, ClientSpec, GroupSpec,
    IdentityPoolSpec, Mfa, PasswordPolicy, ResourceServerSpec, SignIn, UserPoolSpec,
};
use ironbark_identity::role::{destroy_role, ensure_role, RoleSpec, Trust};
use ironbark_identity::secret::{destroy_secret, ensure_secret};
use secrecy::ExposeSecret;

use crate::Phase;

struct Specs {
    pool: UserPoolSpec,
    api: ResourceServerSpec,
    web: ClientSpec,
    m2m: ClientSpec,
    group: GroupSpec,
}

fn specs(callback: &str) -> Specs {
    let api = ResourceServerSpec {
        logical_id: "identity/cognito/api".into(),
        identifier: "https://api.ironbark.example".into(),
        name: "api".into(),
        scopes: [
            ("read".to_owned(), "read".to_owned()),
            ("write".to_owned(), "write".to_owned()),
        ]
        .into(),
    };
    Specs {
        pool: UserPoolSpec {
            logical_id: "identity/cognito/users".into(),
            password: PasswordPolicy::default(),
            mfa: Mfa::Optional,
            advanced_security: true,
            deletion_protection: true,
            sign_in: SignIn::Email,
            custom_attributes: [("tenant_id".to_owned(), "String".to_owned())].into(),
        },
        web: ClientSpec {
            logical_id: "identity/cognito/web".into(),
            kind: ClientKind::Web {
                callback_urls: [callback.to_owned()].into(),
                logout_urls: ["https://app.ironbark.example/".to_owned()].into(),
                scopes: [
                    "openid".to_owned(),
                    "email".to_owned(),
                    "profile".to_owned(),
                ]
                .into(),
            },
        },
        m2m: ClientSpec {
            logical_id: "identity/cognito/m2m".into(),
            kind: ClientKind::M2m {
                scopes: api.full_scopes().into_iter().collect::<BTreeSet<_>>(),
            },
        },
        api,
        group: GroupSpec {
            name: "admins".into(),
            description: Some("administrators".into()),
            precedence: Some(1),
            role_arn: None,
        },
    }
}

/// Runs the whole Cognito part of the identity layer; returns every change, the M2M client
/// secret (to grep for) and the pool id.
async fn converge(phase: &Phase, s: &Specs) -> (Plan, Option<String>, Option<String>) {
    let ctx = &phase.ctx;
    let mut plan = Plan::default();
    let pool = ensure_user_pool(ctx, &s.pool).await.unwrap();
    plan.push(pool.change.clone());
    let Some(pool_id) = pool.id.clone() else {
        return (plan, None, None);
    };
    plan.push(ensure_resource_server(ctx, &pool_id, &s.api).await.unwrap());
    let web = ensure_client(ctx, &pool_id, &s.web).await.unwrap();
    plan.push(web.change.clone());
    let m2m = ensure_client(ctx, &pool_id, &s.m2m).await.unwrap();
    plan.push(m2m.change.clone());
    let domain = ensure_domain(
        ctx,
        "identity/cognito/domain",
        &pool_id,
        &default_prefix(ctx),
    )
    .await
    .unwrap();
    plan.push(domain.change.clone());
    let secret = ensure_secret(
        ctx,
        &m2m_credentials(
            "identity/cognito/m2m-credentials",
            &m2m,
            &domain.token_url,
            &s.api.full_scopes(),
        ),
    )
    .await
    .unwrap();
    plan.push(secret.change.clone());
    plan.push(ensure_group(ctx, &pool_id, &s.group).await.unwrap());
    let ip = ensure_identity_pool(
        ctx,
        &IdentityPoolSpec {
            logical_id: "identity/cognito/identities".into(),
            providers: [(
                format!("cognito-idp.us-east-1.amazonaws.com/{pool_id}"),
                web.client_id.clone().unwrap(),
            )]
            .into(),
        },
    )
    .await
    .unwrap();
    plan.push(ip.change.clone());
    if let Some(ip_id) = ip.id {
        let role = ensure_role(
            ctx,
            &RoleSpec::new(
                "identity/role/authenticated",
                Trust::CognitoAuthenticated {
                    identity_pool_id: ip_id.clone(),
                },
            ),
        )
        .await
        .unwrap();
        plan.push(role.change.clone());
        if let Some(arn) = role.arn {
            plan.push(
                ensure_identity_pool_roles(ctx, "identity/cognito/identities/roles", &ip_id, &arn)
                    .await
                    .unwrap(),
            );
        }
    }
    let secret_value = m2m
        .client_secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned());
    (plan, secret_value, Some(pool_id))
}

fn changes(plan: &Plan) -> Vec<(&str, &Change)> {
    plan.resources
        .iter()
        .map(|r: &ResourceChange| (r.id.as_str(), &r.change))
        .collect()
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn cognito_create_converge_drift_destroy_without_leaking_the_client_secret() {
    let stack = "cognito";
    let s = specs("https://app.ironbark.example/callback");
    let create = Phase::with_env(stack, "prod", Mode::Apply).await;
    let (plan, client_secret, pool_id) = converge(&create, &s).await;
    let client_secret = client_secret.expect("the M2M client has a secret");
    let pool_id = pool_id.unwrap();
    assert!(
        plan.resources.iter().all(|r| r.change.is_change()),
        "{:#?}",
        changes(&plan)
    );
    assert_eq!(plan.resources.len(), 10);

    // The M2M credential is stored as seed 003's JSON.
    let sm = ironbark_core::sdk_client!(create.ctx, aws_sdk_secretsmanager);
    let name = format!(
        "{}/prod/identity/cognito/m2m-credentials",
        create.ctx.stack()
    );
    let stored: serde_json::Value = serde_json::from_str(
        &sm.get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stored["client_secret"], client_secret.as_str());
    assert_eq!(
        stored["scopes"],
        "https://api.ironbark.example/read https://api.ironbark.example/write"
    );
    assert!(stored["token_url"]
        .as_str()
        .unwrap()
        .ends_with(".auth.us-east-1.amazoncognito.com/oauth2/token"));

    // Converged: a re-run makes zero writes.
    let rerun = Phase::with_env(stack, "prod", Mode::Apply).await;
    let (again, _, _) = converge(&rerun, &s).await;
    assert!(!again.has_changes(), "{}", again.render_human());
    rerun.assert_no_writes();

    // Drift: the web client's callback URL changed by hand.
    let idp = ironbark_core::sdk_client!(create.ctx, aws_sdk_cognitoidentityprovider);
    let clients = idp
        .list_user_pool_clients()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let web_id = clients
        .user_pool_clients()
        .iter()
        .find(|c| {
            c.client_name()
                .is_some_and(|n| n.ends_with("identity-cognito-web"))
        })
        .and_then(|c| c.client_id())
        .unwrap()
        .to_owned();
    idp.update_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&web_id)
        .callback_urls("https://evil.example/callback")
        .allowed_o_auth_flows(aws_sdk_cognitoidentityprovider::types::OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .allowed_o_auth_scopes("profile")
        .allowed_o_auth_flows_user_pool_client(true)
        .logout_urls("https://app.ironbark.example/")
        .send()
        .await
        .unwrap();
    let plan_phase = Phase::with_env(stack, "prod", Mode::Plan).await;
    let (drift, _, _) = converge(&plan_phase, &s).await;
    let updated: Vec<_> = drift
        .resources
        .iter()
        .filter(|r| r.change.is_change())
        .collect();
    assert_eq!(updated.len(), 1, "{}", drift.render_human());
    assert_eq!(updated[0].id, "identity/cognito/web");
    let Change::Update { fields } = &updated[0].change else {
        panic!()
    };
    assert_eq!(fields[0].field, "callback_urls");
    assert_eq!(
        fields[0].old.as_deref(),
        Some("https://evil.example/callback")
    );
    assert_eq!(
        fields[0].new.as_deref(),
        Some("https://app.ironbark.example/callback")
    );
    plan_phase.assert_no_writes();
    let fix = Phase::with_env(stack, "prod", Mode::Apply).await;
    let _ = converge(&fix, &s).await;
    let check = Phase::with_env(stack, "prod", Mode::Plan).await;
    assert!(!converge(&check, &s).await.0.has_changes());

    // No plan, event or outcome of any phase contains the client secret.
    let mut text = String::new();
    for plan in [&plan, &again, &drift] {
        text.push_str(&plan.render_human());
        text.push_str(&plan.to_json().to_string());
    }
    for phase in [&create, &rerun, &plan_phase, &fix, &check] {
        for e in phase.events.events() {
            text.push_str(&serde_json::to_string(&e).unwrap());
            text.push_str(&format!("{e:?}"));
        }
    }
    assert!(text.contains("identity/cognito/m2m-credentials"));
    assert!(
        !text.contains(&client_secret),
        "the M2M client secret leaked"
    );

    // Destroy: deletion protection (prod) refuses until allowed.
    let destroy = Phase::with_env(stack, "prod", Mode::Apply).await;
    let err = destroy_user_pool(&destroy.ctx, &s.pool.logical_id, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("deletion-protected"), "{err}");
    assert!(!err.to_string().contains(&client_secret));
    destroy_identity_pool(&destroy.ctx, "identity/cognito/identities")
        .await
        .unwrap();
    destroy_role(&destroy.ctx, "identity/role/authenticated")
        .await
        .unwrap();
    destroy_secret(&destroy.ctx, "identity/cognito/m2m-credentials", 7)
        .await
        .unwrap();
    let gone = destroy_user_pool(&destroy.ctx, &s.pool.logical_id, true)
        .await
        .unwrap();
    assert_eq!(gone.change, Change::Delete);
    assert!(idp
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .is_err());
    assert_eq!(
        destroy_user_pool(&destroy.ctx, &s.pool.logical_id, true)
            .await
            .unwrap()
            .change,
        Change::NoOp
    );
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn pool_left_by_a_crash_before_its_mfa_is_adopted_not_duplicated() {
    let phase = Phase::new("cognito-crash", Mode::Apply).await;
    let s = specs("https://app.ironbark.example/callback");
    let mut pool_spec = s.pool.clone();
    pool_spec.deletion_protection = false;
    // What a run killed right after CreateUserPool leaves: the named, tagged pool, MFA off.
    let idp = ironbark_core::sdk_client!(phase.ctx, aws_sdk_cognitoidentityprovider);
    let name = phase.ctx.physical_name(
        &pool_spec.logical_id,
        &ironbark_core::naming::NameRule::GENERIC,
    );
    let created = idp
        .create_user_pool()
        .pool_name(&name)
        .username_attributes(aws_sdk_cognitoidentityprovider::types::UsernameAttributeType::Email)
        .set_user_pool_tags(Some(phase.ctx.tags_for(&pool_spec.logical_id).to_map()))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    // A pool of the same name without Ironbark's tag (someone else's) is never adopted.
    let _stranger = idp
        .create_user_pool()
        .pool_name(&name)
        .send()
        .await
        .unwrap();

    let rerun = Phase::new("cognito-crash", Mode::Apply).await;
    let out = ensure_user_pool(&rerun.ctx, &pool_spec).await.unwrap();
    assert_eq!(out.id.as_deref(), created.id());
    let Change::Update { fields } = &out.change.change else {
        panic!("{:?}", out.change)
    };
    let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert!(
        names.contains(&"mfa") && names.contains(&"custom_attributes.tenant_id"),
        "{names:?}"
    );
    let log = rerun.server_log();
    assert!(
        !log.by_operation.contains_key("cognito-idp:CreateUserPool"),
        "{log:?}"
    );
    let check = Phase::new("cognito-crash", Mode::Plan).await;
    assert_eq!(
        ensure_user_pool(&check.ctx, &pool_spec)
            .await
            .unwrap()
            .change
            .change,
        Change::NoOp
    );
    destroy_user_pool(&rerun.ctx, &pool_spec.logical_id, false)
        .await
        .unwrap();
}
