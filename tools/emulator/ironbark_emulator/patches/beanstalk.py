"""Elastic Beanstalk: environment lifecycle and the missing environment APIs.

AWS behaviours restored:

* ``CreateEnvironment`` returns ``Launching`` (health ``Grey``) and the
  environment becomes ``Ready``/``Green`` after ~6 min; the real
  ``SolutionStackName``, a ``PlatformArn``, ``CNAME`` / ``EndpointURL`` and an
  ``e-...`` id are reported (moto: ``"None"``, ``"TODO"``, empty strings).
  An unknown solution stack is rejected with ``InvalidParameterValue``.
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateEnvironment.html
* ``UpdateEnvironment`` (``Updating`` -> ``Ready``), ``TerminateEnvironment``
  (``Terminating`` -> gone) and ``DescribeConfigurationSettings`` (returns the
  option settings given at create/update) exist; moto raises NotImplementedError.
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_TerminateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeConfigurationSettings.html
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any
from xml.sax.saxutils import escape

from ironbark_emulator import clock, hooks, lifecycle
from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.patches._util import first_time, wrap_method

_lock = threading.Lock()
#: (account, region, app, env) -> {(namespace, option): value}
_options: dict[tuple[str, str, str, str], dict[tuple[str, str], str]] = {}


def _option_settings(params: dict[str, str]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    n = 1
    while f"OptionSettings.member.{n}.OptionName" in params:
        ns = params.get(f"OptionSettings.member.{n}.Namespace", "")
        out[(ns, params[f"OptionSettings.member.{n}.OptionName"])] = params.get(f"OptionSettings.member.{n}.Value", "")
        n += 1
    return out


def _platform_arn(region: str, stack: str) -> str:
    m = re.match(r"^64bit (.+?) v([\d.]+) running (.+)$", stack or "")
    if not m:
        return ""
    return f"arn:aws:elasticbeanstalk:{region}::platform/{m.group(3)} running on 64bit {m.group(1)}/{m.group(2)}"


def _health(self: Any) -> str:
    return "Green" if self.status == "Ready" else "Grey"


def _env_init(original: Any, self: Any, application: Any, environment_name: str, solution_stack_name: str,
              tags: dict[str, str]) -> None:
    original(self, application, environment_name, solution_stack_name, tags)
    region = application.region
    self.solution_stack_name = solution_stack_name or ""
    self.environment_id = "e-" + uuid.uuid4().hex[:10]
    self.cname = f"{environment_name}.{region}.elasticbeanstalk.com"
    self.endpoint_url = self.cname


def _stacks() -> set[str]:
    from moto.elasticbeanstalk.responses import SOLUTION_STACK_DETAILS

    return {s["SolutionStackName"] for s in SOLUTION_STACK_DETAILS}


@hooks.before("elasticbeanstalk", "CreateEnvironment")
def create_environment(ctx: hooks.Context) -> Response | None:
    """Validate the solution stack and remember the option settings."""
    stack = ctx.params.get("SolutionStackName")
    if stack and stack not in _stacks():
        return error_response("query", 400, "InvalidParameterValue", f"No Solution Stack named '{stack}' found.")
    key = (ctx.account, ctx.region, ctx.params.get("ApplicationName", ""), ctx.params.get("EnvironmentName", ""))
    ctx.scratch["options"] = (key, _option_settings(ctx.params))
    return None


@hooks.after("elasticbeanstalk", "CreateEnvironment")
def create_environment_after(ctx: hooks.Context, resp: Response) -> Response:
    """Store option settings once the environment exists."""
    if resp.status == 200 and "options" in ctx.scratch:
        key, opts = ctx.scratch["options"]
        with _lock:
            _options[key] = opts
    return resp


def _find_env(ctx: hooks.Context) -> Any | None:
    backend = ctx.backend("elasticbeanstalk")
    name = ctx.params.get("EnvironmentName")
    env_id = ctx.params.get("EnvironmentId")
    app_name = ctx.params.get("ApplicationName")
    for app in backend.applications.values():
        if app_name and app.application_name != app_name:
            continue
        for env in app.environments.values():
            if (name and env.environment_name == name) or (env_id and env.environment_id == env_id):
                return env
    return None


def _env_xml(env: Any) -> str:
    fields = [
        ("EnvironmentName", env.environment_name), ("EnvironmentId", env.environment_id),
        ("ApplicationName", env.application_name), ("SolutionStackName", env.solution_stack_name),
        ("PlatformArn", env.platform_arn), ("EndpointURL", env.endpoint_url), ("CNAME", env.cname),
        ("DateCreated", env.date_created.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        ("DateUpdated", env.date_updated.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        ("Status", env.status), ("AbortableOperationInProgress", "false"), ("Health", env.health),
        ("EnvironmentArn", env.environment_arn),
    ]
    inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields)
    inner += "<Tier><Name>WebServer</Name><Type>Standard</Type><Version>1.0</Version></Tier>"
    return inner


def _wrap(action: str, inner: str) -> Response:
    rid = str(uuid.uuid4())
    return Response.xml(200, f'<{action}Response xmlns="http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/">'
                             f"<{action}Result>{inner}</{action}Result><ResponseMetadata><RequestId>{rid}"
                             f"</RequestId></ResponseMetadata></{action}Response>")


def _missing(ctx: hooks.Context) -> Response:
    return error_response("query", 400, "InvalidParameterValue",
                          f"No Environment found for EnvironmentName = '{ctx.params.get('EnvironmentName')}'.")


@hooks.before("elasticbeanstalk", "UpdateEnvironment")
def update_environment(ctx: hooks.Context) -> Response:
    """UpdateEnvironment: Updating -> Ready; merges option settings."""
    env = _find_env(ctx)
    if env is None:
        return _missing(ctx)
    if env.status != "Ready":
        return error_response("query", 400, "InvalidParameterValue",
                              f"Environment named {env.environment_name} is in an invalid state for this operation. "
                              f"Must be Ready.")
    stack = ctx.params.get("SolutionStackName")
    if stack:
        if stack not in _stacks():
            return error_response("query", 400, "InvalidParameterValue", f"No Solution Stack named '{stack}' found.")
        env.solution_stack_name = stack
    if ctx.params.get("VersionLabel"):
        env.version_label = ctx.params["VersionLabel"]
    key = (ctx.account, ctx.region, env.application_name, env.environment_name)
    with _lock:
        _options.setdefault(key, {}).update(_option_settings(ctx.params))
    from moto.core.utils import utcnow

    env.date_updated = utcnow()
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(env, "status", "Updating", "Ready", "beanstalk_update")
    return _wrap("UpdateEnvironment", _env_xml(env))


@hooks.before("elasticbeanstalk", "TerminateEnvironment")
def terminate_environment(ctx: hooks.Context) -> Response:
    """TerminateEnvironment: Terminating, then the environment is gone."""
    env = _find_env(ctx)
    if env is None:
        return _missing(ctx)
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(env, "status", "Terminating", "Terminated", "beanstalk_terminate")
    else:
        env.application.environments.pop(env.environment_name, None)
        env.status = "Terminated"
    return _wrap("TerminateEnvironment", _env_xml(env))


def _describe_environments(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    for app in self.applications.values():
        for name, env in list(app.environments.items()):
            t = lifecycle.LazyStatus.transition(env, "status")
            if t is not None and t.after == "Terminated" and t.done():
                app.environments.pop(name, None)
    return original(self, *args, **kwargs)


@hooks.before("elasticbeanstalk", "DescribeConfigurationSettings")
def describe_configuration_settings(ctx: hooks.Context) -> Response:
    """DescribeConfigurationSettings for an environment (option settings as given)."""
    env = _find_env(ctx)
    if env is None:
        return _missing(ctx)
    key = (ctx.account, ctx.region, env.application_name, env.environment_name)
    with _lock:
        opts = dict(_options.get(key, {}))
    members = "".join(
        f"<member><Namespace>{escape(ns)}</Namespace><OptionName>{escape(name)}</OptionName>"
        f"<Value>{escape(value)}</Value></member>" for (ns, name), value in sorted(opts.items()))
    inner = (f"<ConfigurationSettings><member><SolutionStackName>{escape(env.solution_stack_name)}</SolutionStackName>"
             f"<PlatformArn>{escape(env.platform_arn)}</PlatformArn>"
             f"<ApplicationName>{escape(env.application_name)}</ApplicationName>"
             f"<EnvironmentName>{escape(env.environment_name)}</EnvironmentName>"
             f"<DeploymentStatus>deployed</DeploymentStatus>"
             f"<DateCreated>{env.date_created.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</DateCreated>"
             f"<DateUpdated>{env.date_updated.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</DateUpdated>"
             f"<OptionSettings>{members}</OptionSettings></member></ConfigurationSettings>")
    return _wrap("DescribeConfigurationSettings", inner)


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _options.clear()


def apply() -> None:
    """Install the model patches."""
    from moto.elasticbeanstalk.models import EBBackend, Environment

    lifecycle.install(Environment, "status", first_time("status", "Launching", "Ready", "beanstalk_launch", "Ready"))
    if not getattr(Environment, "_ironbark", False):
        Environment.health = property(_health, lambda self, value: None)  # type: ignore[assignment]
        Environment.platform_arn = property(  # type: ignore[assignment]
            lambda self: _platform_arn(self.region, self.solution_stack_name))
        Environment._ironbark = True  # type: ignore[attr-defined]
    wrap_method(Environment, "__init__", _env_init)
    wrap_method(EBBackend, "describe_environments", _describe_environments)
