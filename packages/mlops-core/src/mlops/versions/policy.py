"""The trust policy in force for a read: ``trusted_keys=[...]``, or ``MLOPS_TRUSTED_KEYS``, or none.

Shared by opening versions (:mod:`mlops.versions.published`) and reading aliases
(:mod:`mlops.versions.aliases`); the trust package is imported only when a policy is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from mlops.trust.policy import TrustPolicy

TrustedKeys = Union[Sequence[str | os.PathLike[str]], "TrustPolicy", None]
"""Public key files to trust (or a policy already made); ``None``: ``MLOPS_TRUSTED_KEYS``, if set
(set to an empty or blank value, it raises :class:`~mlops.errors.TrustPolicyError`)."""


def trust_policy(trusted_keys: TrustedKeys) -> TrustPolicy | None:
    """The trust policy in force for ``trusted_keys`` (see :mod:`mlops.trust.policy`); the trust
    package is imported only when a policy is asked for."""
    if trusted_keys is None and "MLOPS_TRUSTED_KEYS" not in os.environ:
        return None  # set but blank is refused by make_policy, never read as "no policy"
    from mlops.trust.policy import TrustPolicy
    from mlops.trust.policy import trust_policy as make_policy

    return trusted_keys if isinstance(trusted_keys, TrustPolicy) else make_policy(trusted_keys)
