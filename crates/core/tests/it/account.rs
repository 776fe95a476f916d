//! The account guard against the emulator (whose account is 123456789012).

use ironbark_core::account::check_account;
use ironbark_core::{CoreError, Mode};

use crate::emulator_context;

#[tokio::test]
#[ignore = "needs the emulator: run cargo xtask test"]
async fn account_guard_refuses_another_account() {
    let (ctx, _) = emulator_context("account_guard", Mode::Plan).await;
    let account = check_account(&ctx, None).await.unwrap();
    assert_eq!(account.len(), 12);
    assert_eq!(check_account(&ctx, Some(&account)).await.unwrap(), account);
    match check_account(&ctx, Some("999999999999")).await {
        Err(CoreError::AccountMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, "999999999999");
            assert_eq!(actual, account);
        }
        other => panic!("expected an account mismatch, got {other:?}"),
    }
}
