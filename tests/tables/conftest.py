"""The Dask cluster the table tests publish from: tests/support/dask_cluster.py's ``client``."""

from dask_cluster import client

__all__ = ["client"]
