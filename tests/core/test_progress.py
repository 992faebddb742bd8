"""Progress bars: shown for long work when asked (or on a terminal), silent otherwise."""

from __future__ import annotations

import io

import pytest

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.utils import progress
from sample_processors import CsvProcessor


@pytest.fixture
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)
    monkeypatch.setattr(progress, "_REFRESH_SECONDS", 0.0)


def test_publish_load_and_verify_report_bytes(
    store: str, raw_dir: str, no_delay: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store, "v1", progress=True)
    err = capsys.readouterr().err
    assert "publish v1" in err and "100%" in err and "ETA" in err
    VersionedDataset(path).verify(progress=True)
    assert "verify v1" in capsys.readouterr().err


def test_silent_by_default_off_a_terminal_and_when_disabled(
    store: str, raw_dir: str, no_delay: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = VersionedDatasetBuilder(raw_dir, CsvProcessor())
    path = builder.publish(store, "v1")  # stderr is not a terminal under pytest
    VersionedDataset(path).verify()
    monkeypatch.setenv("MLOPS_PROGRESS", "1")
    builder.publish(store, "v2", progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("MLOPS_PROGRESS", "0")
    assert not progress.enabled()
    monkeypatch.setenv("MLOPS_PROGRESS", "1")
    assert progress.enabled()


def test_short_work_shows_nothing_and_nested_tasks_share_one_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    with progress.task("quick", 100, show=True):
        progress.advance(100)  # well under the one-second delay
    assert stream.getvalue() == ""
    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)
    monkeypatch.setattr(progress, "_REFRESH_SECONDS", 0.0)
    with progress.task("outer", 200, show=True):
        with progress.task("inner", 100, show=True):
            progress.advance(100)
        progress.advance(100)
    lines = stream.getvalue().replace("\r", "\n").split()
    assert "outer" in lines and "inner" not in lines and "100%" in lines
