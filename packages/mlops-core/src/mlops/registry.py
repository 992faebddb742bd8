"""Kept for code written against the original layout (the first README taught ``mlops.registry``):
listing versions now lives in :mod:`mlops.versions.listing`, opening and lineage in
:mod:`mlops.model.lineage`. New code imports these names from :mod:`mlops`."""

from mlops.model.lineage import models_trained_on, open_version
from mlops.versions.listing import VersionInfo, latest, list_versions, scan_root, version_info

__all__ = ["VersionInfo", "latest", "list_versions", "models_trained_on", "open_version", "scan_root", "version_info"]
