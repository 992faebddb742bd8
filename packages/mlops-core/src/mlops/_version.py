"""The version of mlops-core: written here once (setuptools and the noxfile read it from this file)."""

__version__ = "0.1.0"
