//! The emulator's fidelity as a plain Rust SDK client sees it (issue 3): the SDK's own NAT
//! waiter observes `pending` first, a ClientToken makes a retried create idempotent, and
//! injected throttling is retried by the SDK and shows in the emulator's log.

use std::time::Duration;

use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::types::NatGatewayState;
use ironbark_testkit::FaultRule;

/// A plain SDK client (no Ironbark interceptors) against the emulator.
async fn plain_client(key: &str, attempts: u32) -> aws_sdk_ec2::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(ironbark_testkit::emulator_url())
        .credentials_provider(aws_credential_types::Credentials::new(
            key, "testing", None, None, "test",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .load()
        .await;
    aws_sdk_ec2::Client::new(&conf)
}

async fn subnet_and_eip(ec2: &aws_sdk_ec2::Client) -> (String, String, String) {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.9.0.0/24")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_owned();
    let eip = ec2
        .allocate_address()
        .send()
        .await
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_owned();
    (vpc, subnet, eip)
}

/// The emulator's NAT create lasts `nat_create` (90 s) times the time scale it runs at.
fn nat_create_window() -> Duration {
    let health = ironbark_testkit::EmulatorControl::new(&ironbark_testkit::emulator_url())
        .health()
        .expect("the emulator answers");
    let scale = health["time_scale"]
        .as_f64()
        .expect("health names the time scale");
    assert!(scale > 0.0, "this test needs a non-instant time scale");
    Duration::from_secs_f64(90.0 * scale)
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn sdk_nat_waiter_sees_pending_then_available() {
    let ec2 = plain_client(&ironbark_testkit::unique_access_key("waiter"), 3).await;
    let (_, subnet, eip) = subnet_and_eip(&ec2).await;
    let window = nat_create_window();
    // The transition starts when the emulator handles the create, so a describe answered
    // within `window` of sending the create must see `pending`. On a loaded machine the
    // describe can come later than that; such a try proves nothing and is made again
    // (with a fresh gateway), up to 5 times.
    let mut conclusive = None;
    for _ in 0..5 {
        let sent = std::time::Instant::now();
        let id = ec2
            .create_nat_gateway()
            .subnet_id(&subnet)
            .allocation_id(&eip)
            .send()
            .await
            .unwrap()
            .nat_gateway()
            .unwrap()
            .nat_gateway_id()
            .unwrap()
            .to_owned();
        let first = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(&id)
            .send()
            .await
            .unwrap();
        if sent.elapsed() < window {
            assert_eq!(
                first.nat_gateways()[0].state(),
                Some(&NatGatewayState::Pending),
                "the emulator reports pending first"
            );
            conclusive = Some(id);
            break;
        }
    }
    let id = conclusive.expect("in 5 tries, a describe came back within the NAT create window");
    let waited = ec2
        .wait_until_nat_gateway_available()
        .nat_gateway_ids(&id)
        .wait(Duration::from_secs(60))
        .await
        .unwrap();
    let done = waited.into_result().unwrap();
    assert_eq!(
        done.nat_gateways()[0].state(),
        Some(&NatGatewayState::Available)
    );
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn client_token_makes_a_retried_create_return_the_same_resource() {
    let ec2 = plain_client(&ironbark_testkit::unique_access_key("token"), 3).await;
    let (_, subnet, eip) = subnet_and_eip(&ec2).await;
    let create = |token: &str, subnet: &str| {
        ec2.create_nat_gateway()
            .subnet_id(subnet)
            .allocation_id(&eip)
            .client_token(token)
            .send()
    };
    let a = create("ib-token-1", &subnet)
        .await
        .unwrap()
        .nat_gateway()
        .unwrap()
        .nat_gateway_id()
        .unwrap()
        .to_owned();
    let b = create("ib-token-1", &subnet)
        .await
        .unwrap()
        .nat_gateway()
        .unwrap()
        .nat_gateway_id()
        .unwrap()
        .to_owned();
    assert_eq!(a, b, "same token, same parameters: the same NAT gateway");
    let all = ec2
        .describe_nat_gateways()
        .filter(
            aws_sdk_ec2::types::Filter::builder()
                .name("subnet-id")
                .values(&subnet)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(all.nat_gateways().len(), 1);
    let (_, other_subnet, _) = subnet_and_eip(&ec2).await;
    let err = create("ib-token-1", &other_subnet).await.unwrap_err();
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("IdempotentParameterMismatch")
    );
}

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn throttled_ec2_is_retried_by_the_sdk_and_logged() {
    let key = ironbark_testkit::unique_access_key("throttle");
    let control = ironbark_testkit::EmulatorControl::new(&ironbark_testkit::emulator_url());
    // One operation no other test uses, so concurrent tests are not throttled.
    control
        .set_fault(&FaultRule {
            service: "ec2".into(),
            operation: Some("DescribeRegions".into()),
            throttle: 0.3,
            ..FaultRule::default()
        })
        .unwrap();
    let ec2 = plain_client(&key, 10).await;
    for _ in 0..40 {
        ec2.describe_regions()
            .send()
            .await
            .expect("the SDK retries throttling until it succeeds");
    }
    control.clear_faults().unwrap();
    let log = control.log_summary_for(&key).unwrap();
    let regions = &log.by_operation["ec2:DescribeRegions"];
    assert!(
        regions.faults > 0,
        "30% throttling over 40 calls injected nothing: {log:?}"
    );
    assert_eq!(
        regions.count,
        40 + regions.faults,
        "every throttled attempt was retried once more"
    );
    let entries = control.log().unwrap();
    assert!(entries
        .iter()
        .any(|e| e.access_key.as_deref() == Some(key.as_str())
            && e.fault.as_deref() == Some("throttle")
            && e.status == 503));
}
