"""Signed versions: keys, the ``mlops.sig`` signature format, trust policies and pickle inspection.

Nothing here imports ``cryptography`` until a key is generated, loaded or used, so ``import mlops``
(and importing this package) stays light; mlops-core's ``signing`` extra brings it in.
"""
