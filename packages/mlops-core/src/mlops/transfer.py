"""Kept for code written against the original layout: :mod:`mlops.versions.republish` copies a
version to another root, :mod:`mlops.versions.tags` changes its tags. New code imports these names
from :mod:`mlops`."""

from mlops.versions.republish import SignatureDroppedWarning, republish
from mlops.versions.tags import update_tags

__all__ = ["SignatureDroppedWarning", "republish", "update_tags"]
