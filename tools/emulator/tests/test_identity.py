"""The identity patch: Cognito updates keep creation-only settings; OIDC audiences."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_update_user_pool_keeps_username_attributes(emu: Any) -> None:
    idp = emu.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]
    idp.update_user_pool(UserPoolId=pool["Id"], MfaConfiguration="OFF",
                         Policies={"PasswordPolicy": {"MinimumLength": 12}})
    got = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert got["UsernameAttributes"] == ["email"]
    assert got["Policies"]["PasswordPolicy"]["MinimumLength"] == 12


def test_oidc_provider_audiences(emu: Any) -> None:
    iam = emu.client("iam")
    arn = iam.create_open_id_connect_provider(
        Url="https://oidc.eks.us-east-1.amazonaws.com/id/TESTAUD", ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])["OpenIDConnectProviderArn"]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="other")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="other")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == [
        "sts.amazonaws.com", "other"]
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["other"]
    with pytest.raises(ClientError) as err:
        iam.add_client_id_to_open_id_connect_provider(
            OpenIDConnectProviderArn=arn.replace("TESTAUD", "MISSING"), ClientID="x")
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"
