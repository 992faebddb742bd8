"""The production end: predicting with a published model and the preprocessing stored with its
dataset (:class:`~mlops.serving.predictor.Predictor`), serving it over HTTP and exporting it.

Internal layer between the plugins and the command line; the public names are exported by :mod:`mlops`.
"""
