"""ACM: DNS-validated certificates go PENDING_VALIDATION -> ISSUED on the emulator clock.

AWS behaviour restored (approximately): an Amazon-issued certificate stays
``PENDING_VALIDATION`` until validated, then becomes ``ISSUED``.  moto flips
it after ``MOTO_ACM_VALIDATION_WAIT`` (60 s) of wall time; here the wait is
``acm_validate`` (60 s) x the emulator's time scale, so ``instant`` issues at
once and 0.01 issues after 0.6 s.

https://docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html
https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator import clock
from ironbark_emulator.patches._util import wrap_method


def _check(original: Any, self: Any) -> None:
    from moto import settings

    settings.ACM_VALIDATION_WAIT = clock.scaled("acm_validate")  # type: ignore[assignment]
    original(self)


def apply() -> None:
    """Make the validation wait follow the time scale."""
    from moto.acm.models import CertBundle

    wrap_method(CertBundle, "check", _check)
