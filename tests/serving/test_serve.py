"""``mlops serve`` in a subprocess on loopback, queried by a real HTTP client: the hand-wired
pipeline's output (class names from an invertible processor), the bad-input matrix answered 4xx
without a path or a traceback while the server keeps serving, 200 concurrent requests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from sample_processors import write_raw
from serving_support import ClassNameProcessor, Server, hand_wired, upload

MAX_BODY = 200_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path, Path]]:
    """(server, model path, raw folder, the server's TMPDIR): a decision tree over class names."""
    base = tmp_path_factory.mktemp("serve")
    raw = Path(write_raw(str(base / "raw"), n=40))
    dataset = VersionedDataset(VersionedDatasetBuilder(str(raw), ClassNameProcessor()).publish(str(base / "ds"), "v1"))
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(dataset.X_train, dataset.y_train)
    path = VersionedModelBuilder(dataset, model).publish(str(base / "models"), "v1")
    tmp = base / "server-tmp"
    tmp.mkdir()
    server = Server(path, "--max-body-size", str(MAX_BODY), cwd=base, env={"TMPDIR": str(tmp)}).wait_ready()
    try:
        yield server, path, raw, tmp
    finally:
        assert server.stop() == 0, server.output()


def _rows(raw: Path) -> list[list[float]]:
    return np.loadtxt(raw / "data.csv", delimiter=",", ndmin=2)[:, :2].tolist()


def test_predict_answers_the_hand_wired_pipeline_with_class_names(served: tuple[Server, str, Path, Path]) -> None:
    server, path, raw, _ = served
    predictions, labels = hand_wired(path, raw)
    assert labels is not None and labels.dtype.kind == "U"
    for inputs in ({"X_pred": _rows(raw)}, _rows(raw)):
        answer = httpx.post(f"{server.url}/predict", json={"inputs": inputs}, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        np.testing.assert_array_equal(np.array(body["predictions"], dtype=predictions.dtype), predictions)
        assert body["labels"] == labels.tolist()
        assert set(body["labels"]) == {"cold", "hot"}


def test_predict_files_answers_the_hand_wired_pipeline_and_removes_the_upload(
    served: tuple[Server, str, Path, Path],
) -> None:
    server, path, raw, tmp = served
    predictions, labels = hand_wired(path, raw)
    answer = httpx.post(
        f"{server.url}/predict/files", files=upload(raw, ["data.csv", "extra/deep/blob.bin"]), timeout=30
    )
    assert answer.status_code == 200, answer.text
    np.testing.assert_array_equal(np.array(answer.json()["predictions"], dtype=predictions.dtype), predictions)
    assert answer.json()["labels"] == labels.tolist()  # type: ignore[union-attr]
    assert not list(tmp.iterdir())  # the upload folder is gone


def test_health_metadata_and_openapi(served: tuple[Server, str, Path, Path]) -> None:
    server, path, _, _ = served
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    metadata = httpx.get(f"{server.url}/metadata").json()
    assert metadata["model"]["version"] == "v1" and metadata["dataset"]["version"] == "v1"
    assert metadata["model"]["serializer"] == "sklearn" and metadata["invertible"] is True
    assert metadata["trust_policy"] is False and "signer" not in metadata["model"]
    assert len(metadata["model"]["hash"]) == 64
    assert str(Path(path).parent) not in json.dumps(metadata)  # no store path
    openapi = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/predict", "/predict/files", "/health", "/metadata"} <= set(openapi["paths"])
    assert httpx.get(f"{server.url}/docs").status_code == 200


BAD_JSON = [
    # (body, content type, status, what the error says)
    (b'{"inputs": ', "application/json", 400, "malformed JSON"),
    (b"", "application/json", 400, "empty"),
    (b"[1, 2]", "application/json", 400, "JSON object"),
    (b'{"rows": [[1, 2]]}', "application/json", 400, 'no "inputs"'),
    (b'{"inputs": [[1, 2]], "extra": 1}', "application/json", 400, "unknown field"),
    (b'{"inputs": 3}', "application/json", 400, '"inputs" must be'),
    (b"\xff\xfe\x00", "application/json", 400, "UTF-8"),
    (b'{"inputs": {"X_other": [[1, 2]], "X_more": [[1, 2]]}}', "application/json", 422, "several raw feature tensors"),
    (b'{"inputs": [[1, 2, 3]]}', "application/json", 422, "shape (1, 3)"),
    (b'{"inputs": [[1, 2], [3]]}', "application/json", 422, "not rectangular"),
    (b'{"inputs": [["a", "b"]]}', "application/json", 422, "processor failed in preprocess_features"),
    (b'{"inputs": {"X_pred": "data.csv"}}', "application/json", 422, "must be an array"),
    (b'{"inputs": [[1, 2]]}' + b" " * MAX_BODY, "application/json", 413, "larger than"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "says"), BAD_JSON, ids=[b[3] for b in BAD_JSON])
def test_bad_json_input_is_answered_4xx_and_the_server_keeps_serving(
    served: tuple[Server, str, Path, Path], body: bytes, content_type: str, status: int, says: str
) -> None:
    server, _, raw, _ = served
    answer = httpx.post(f"{server.url}/predict", content=body, headers={"Content-Type": content_type}, timeout=30)
    _assert_refused(answer, status, says)
    assert httpx.post(f"{server.url}/predict", json={"inputs": _rows(raw)[:1]}, timeout=30).status_code == 200


def _upload_cases(raw: Path) -> list[tuple[dict[str, object], int, str]]:
    data = (raw / "data.csv").read_bytes()
    return [
        ({"files": [("files", ("../data.csv", data))]}, 400, "refused file name '../data.csv'"),
        ({"files": [("files", ("/etc/data.csv", data))]}, 400, "refused file name"),
        ({"files": [("files", ("sub\\data.csv", data))]}, 400, "refused file name"),
        ({"files": [("files", (".hidden", data))]}, 400, "starts with '.'"),
        ({"files": [("files", ("a*.csv", data))]}, 400, "glob"),
        ({"files": [("files", ("data.csv", data)), ("files", ("data.csv", data))]}, 400, "twice"),
        ({"data": {"note": "x"}, "files": [("files", ("data.csv", data))]}, 400, "not a file"),
        ({"content": b"not multipart"}, 400, "multipart/form-data"),
        ({"files": [("files", ("other.csv", data))]}, 422, "get_raw_features: FileNotFoundError: <upload>/data.csv"),
        ({"files": [("files", ("data.csv", b"1,2,3\nx,y,z\n"))]}, 422, "processor failed in get_raw_features"),
        ({"files": [("files", ("data.csv", b"0" * (MAX_BODY + 1)))]}, 413, "larger than"),
    ]


def test_bad_uploads_are_answered_4xx_and_leave_nothing_behind(served: tuple[Server, str, Path, Path]) -> None:
    server, _, raw, tmp = served
    for request, status, says in _upload_cases(raw):
        answer = httpx.post(f"{server.url}/predict/files", timeout=30, **request)  # type: ignore[arg-type]
        _assert_refused(answer, status, says)
    assert httpx.post(f"{server.url}/predict/files", files=upload(raw), timeout=30).status_code == 200
    assert not list(tmp.iterdir())
    assert not (raw.parent / "data.csv").exists()  # '../data.csv' wrote nowhere


def test_chunked_body_over_the_limit_is_answered_413(served: tuple[Server, str, Path, Path]) -> None:
    server, _, _, _ = served

    def chunks() -> Iterator[bytes]:
        yield b'{"inputs": [[1, 2]]}'
        for _ in range(MAX_BODY // 10_000 + 1):
            yield b" " * 10_000

    answer = httpx.post(f"{server.url}/predict", content=chunks(), timeout=30)
    _assert_refused(answer, 413, "larger than")


def test_unknown_routes_and_methods_answer_json_errors(served: tuple[Server, str, Path, Path]) -> None:
    server, _, _, _ = served
    _assert_refused(httpx.get(f"{server.url}/nothing"), 404, "Not Found")
    _assert_refused(httpx.get(f"{server.url}/predict"), 405, "Method Not Allowed")


def test_200_concurrent_requests_all_succeed(served: tuple[Server, str, Path, Path]) -> None:
    server, path, raw, _ = served
    rows = _rows(raw)
    _, labels = hand_wired(path, raw)
    assert labels is not None
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    with httpx.Client(base_url=server.url, limits=limits, timeout=60) as client:

        def one(i: int) -> tuple[int, object]:
            answer = client.post("/predict", json={"inputs": {"X_pred": [rows[i % len(rows)]]}})
            return answer.status_code, answer.json().get("labels")

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(one, range(200)))
    errors = [r for r in results if r[0] != 200]
    assert not errors, errors[:5]
    assert [r[1] for r in results] == [[labels[i % len(rows)]] for i in range(200)]


def _assert_refused(answer: httpx.Response, status: int, says: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}, body
    assert says in body["error"], body["error"]
    for leak in ("Traceback", 'File "', os.sep + "tmp" + os.sep, str(Path.home()), "mlops-serve-", "site-packages"):
        assert leak not in body["error"], body["error"]
