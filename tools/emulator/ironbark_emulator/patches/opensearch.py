"""OpenSearch Service: domains process for a while after create / update.

AWS behaviour restored: a new domain reports ``Created: false``,
``Processing: true`` and no endpoint until it is ready (~20 min); a config
update sets ``Processing: true`` again until the blue/green change finishes; a
deleted domain is still described (``Deleted: true``, ``Processing: true``) for
~10 min before DescribeDomain returns ResourceNotFoundException.
moto 5.2.5: ``Processing`` is always false and ``Created`` true at once, so
waiting logic is never exercised.

https://docs.aws.amazon.com/opensearch-service/latest/APIReference/API_DomainStatus.html
https://docs.aws.amazon.com/opensearch-service/latest/developerguide/managedomains-configuration-changes.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator import clock
from ironbark_emulator.patches._util import wrap_method


def _begin(domain: Any, creating: bool) -> None:
    if clock.get_time_scale() <= 0:
        return
    t = clock.start("processing", "done", "opensearch_process")
    domain.__dict__["_ib_processing"] = t
    if creating:
        domain.__dict__["_ib_creating"] = t


def _create_domain(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    domain = original(self, *args, **kwargs)
    _begin(domain, creating=True)
    return domain


def _update_domain_config(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    domain = original(self, *args, **kwargs)
    _begin(domain, creating=False)
    return domain


def _to_dict(original: Any, self: Any) -> dict[str, Any]:
    dct = original(self)
    proc = self.__dict__.get("_ib_processing")
    creating = self.__dict__.get("_ib_creating")
    if proc is not None and not proc.done():
        dct["Processing"] = True
    if creating is not None and not creating.done():
        dct["Created"] = False
        dct.pop("Endpoint", None)
        dct.pop("Endpoints", None)
    return dct


def apply() -> None:
    """Install the wrappers."""
    from moto.opensearch.models import OpenSearchDomain, OpenSearchServiceBackend

    wrap_method(OpenSearchServiceBackend, "create_domain", _create_domain)
    wrap_method(OpenSearchServiceBackend, "update_domain_config", _update_domain_config)
    wrap_method(OpenSearchDomain, "to_dict", _to_dict)
    apply_delete()


def _delete_domain(original: Any, self: Any, domain_name: str) -> Any:
    """Deleted domains stay visible (Deleted: true, Processing: true) for a while."""
    _purge(self)
    domain = original(self, domain_name)
    if clock.get_time_scale() > 0:
        domain.__dict__["_ib_deleting"] = clock.start("deleting", "gone", "opensearch_delete")
        self.domains[domain_name] = domain
    return domain


def _purge(backend: Any) -> None:
    for name, domain in list(backend.domains.items()):
        t = domain.__dict__.get("_ib_deleting")
        if t is not None and t.done():
            backend.domains.pop(name, None)


def _purged(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    _purge(self)
    return original(self, *args, **kwargs)


def apply_delete() -> None:
    """Install the deletion lifecycle."""
    from moto.opensearch.models import OpenSearchServiceBackend

    wrap_method(OpenSearchServiceBackend, "delete_domain", _delete_domain)
    for name in ("describe_domain", "describe_domains", "list_domain_names", "create_domain"):
        if hasattr(OpenSearchServiceBackend, name):
            wrap_method(OpenSearchServiceBackend, name, _purged)
