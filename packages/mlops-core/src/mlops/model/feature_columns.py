"""Checking a table's columns against the ones a model was trained on, before it predicts.

A model trained on a DataFrame remembers its columns (scikit-learn's ``feature_names_in_``, an
XGBoost booster's ``feature_names``, LightGBM's ``feature_name()``) but reads a table by position:
given the same columns in another order, some frameworks predict garbage without a word.
:func:`model_features` is what the serializers of those frameworks call on the features they are
given: a table with the trained columns, in the trained order, goes to the model as a pandas
DataFrame; anything else raises :class:`~mlops.errors.FeatureColumnsError` listing the missing,
extra and misplaced columns. A model trained on a plain array has no names: a table then only
needs as many columns as the model takes, and reaches it as a numeric array.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from mlops.dataset.table_arrays import column_names, is_dataframe, table_kind, table_to_numpy
from mlops.errors import FeatureColumnsError

_SELECT = {
    "pandas": "features[{names}]",
    "polars": "features.select({names})",
    "arrow": "features.select({names})",
    "dask": "features[{names}]",
}


def _shown(names: Sequence[str], limit: int = 20) -> str:
    listed = ", ".join(repr(n) for n in names[:limit])
    return listed + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_feature_columns(
    given: Sequence[str],
    expected: Sequence[str],
    *,
    model: str = "the model",
    kind: str | None = None,
) -> None:
    """Raise :class:`~mlops.errors.FeatureColumnsError` unless ``given`` is exactly ``expected``
    (the same names, in the same order); the message lists what is missing, extra, repeated or
    out of order, and how to select the columns as trained."""
    given, expected = list(given), list(expected)
    if given == expected:
        return
    missing = [n for n in expected if n not in set(given)]
    extra = [n for n in given if n not in set(expected)]
    repeated = [n for n, count in Counter(given).items() if count > 1]
    problems = []
    if missing:
        problems.append(f"missing {_shown(missing)}")
    if extra:
        problems.append(f"extra {_shown(extra)}")
    if repeated:
        problems.append(f"repeated {_shown(repeated)}")
    if not problems:
        moved = [f"{n!r} is column {given.index(n)}, trained as {i}" for i, n in enumerate(expected) if given[i] != n]
        problems.append(f"in another order ({'; '.join(moved[:5])}{'...' if len(moved) > 5 else ''})")
    select = _SELECT.get(kind or "", "features[{names}]").format(
        names=repr(expected) if len(expected) <= 8 else "names"
    )
    raise FeatureColumnsError(
        f"{model} was trained on {len(expected)} columns ({_shown(expected)}) and the features given have "
        f"{len(given)}: {', '.join(problems)}. Pass the columns it was trained on, in that order: {select}"
        + ("" if len(expected) <= 8 else " with names = model.feature_names_in_ (or the booster's feature names)"),
        expected=expected,
        given=given,
        missing=missing,
        extra=extra,
    )


def model_features(
    features: Any,
    feature_names: Sequence[str] | None,
    n_features: int | None = None,
    *,
    model: str = "the model",
    normalize: Callable[[str], str] | None = None,
) -> Any:
    """``features`` as the model should get them, checked against what it was trained on.

    Anything but a DataFrame or an Arrow table (numpy arrays, sparse matrices...) is returned as
    it is. A table (pandas, polars, Arrow, or dask, which is computed) must have exactly the
    columns ``feature_names`` in that order when the model was trained on named columns, and then
    comes back as a pandas DataFrame (column types kept, so categorical columns still work);
    with ``feature_names=None`` (trained on an array) it must have ``n_features`` columns, and
    comes back as a numeric numpy array; when neither is known, the model gets the table as given.
    ``normalize`` maps a column name to the form the framework stores it in (LightGBM turns spaces
    into underscores). ``model`` names the model in errors. Raises
    :class:`~mlops.errors.FeatureColumnsError`."""
    if not is_dataframe(features) or (feature_names is None and n_features is None):
        return features  # not a table, or a model that records nothing of what it was trained on
    kind = table_kind(features)
    given = column_names(features)
    if feature_names is None:
        if len(given) != n_features:
            raise FeatureColumnsError(
                f"{model} was trained on an array of {n_features} columns without names and the features "
                f"given have {len(given)} ({_shown(given)}): pass {n_features} columns, in the order it was "
                "trained on",
                given=given,
            )
        return table_to_numpy(features.compute() if kind == "dask" else features, "features")
    expected = [str(n) for n in feature_names]
    check_feature_columns([normalize(n) for n in given] if normalize else given, expected, model=model, kind=kind)
    return _to_pandas(features, kind)


def _to_pandas(table: Any, kind: str | None) -> Any:
    if kind == "pandas":
        return table
    if kind == "dask":
        return table.compute()
    return table.to_pandas()
