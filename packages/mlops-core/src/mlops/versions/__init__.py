"""The life of a version on a store (internal): writing it under the claim protocol, reading it back,
resuming, deduplicating, listing, tagging, republishing, measuring, signing and removing it.

This layer knows stores and the on-disk format (:mod:`mlops.store`, :mod:`mlops.metadata`), never
datasets, models or plugins: those build on it.
"""
