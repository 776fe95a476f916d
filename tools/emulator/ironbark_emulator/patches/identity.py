"""Identity fidelity: Cognito user pool updates and IAM OIDC provider audiences.

AWS behaviours restored:

* ``UpdateUserPool`` leaves creation-only settings alone (``UsernameAttributes``,
  ``AliasAttributes``, ``UsernameConfiguration``): they cannot be changed after creation.
  moto 5.2.5 replaces the whole configuration, so a pool created with email sign-in reads
  back as username sign-in after any update.
  https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UpdateUserPool.html
* ``AddClientIDToOpenIDConnectProvider`` / ``RemoveClientIDFromOpenIDConnectProvider``
  add or remove one audience (moto: NotImplementedError, HTTP 500).  Adding an existing
  audience or removing an absent one succeeds, as in AWS.
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddClientIDToOpenIDConnectProvider.html
"""

from __future__ import annotations

import uuid
from typing import Any

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.patches._util import wrap_method

_CREATION_ONLY = ("UsernameAttributes", "AliasAttributes", "UsernameConfiguration")


def _update_extended_config(original: Any, self: Any, extended_config: dict[str, Any]) -> None:
    kept = {k: self.extended_config[k] for k in _CREATION_ONLY if k in getattr(self, "extended_config", {})}
    original(self, extended_config)
    self.extended_config.update(kept)


def _oidc_audience(ctx: hooks.Context, action: str, add: bool) -> Response:
    arn = ctx.params.get("OpenIDConnectProviderArn", "")
    client_id = ctx.params.get("ClientID", "")
    provider = ctx.backend("iam").open_id_providers.get(arn)
    if provider is None:
        return error_response("query", 404, "NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}")
    ids = list(provider.client_id_list or [])
    if add and client_id not in ids:
        ids.append(client_id)
    if not add:
        ids = [i for i in ids if i != client_id]
    provider.client_id_list = ids
    return Response.xml(200, f'<{action}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
                             f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                             f"</{action}Response>")


@hooks.before("iam", "AddClientIDToOpenIDConnectProvider")
def add_client_id(ctx: hooks.Context) -> Response:
    """Add one audience to an OIDC provider."""
    return _oidc_audience(ctx, "AddClientIDToOpenIDConnectProvider", add=True)


@hooks.before("iam", "RemoveClientIDFromOpenIDConnectProvider")
def remove_client_id(ctx: hooks.Context) -> Response:
    """Remove one audience from an OIDC provider."""
    return _oidc_audience(ctx, "RemoveClientIDFromOpenIDConnectProvider", add=False)


def apply() -> None:
    """Preserve creation-only user pool settings across updates."""
    from moto.cognitoidp.models import CognitoIdpUserPool

    wrap_method(CognitoIdpUserPool, "update_extended_config", _update_extended_config)
