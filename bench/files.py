"""Document upload and download throughput over HTTP, next to a plain file copy of the bytes.

The baseline copies each file to a fresh file on the same disk and fsyncs it (what the
directory blob store must at least do); the measured paths send the same files through a
GraphQL multipart `uploadDocuments` request, one file a request, and read them back from
`GET /files/{id}`. Figures are megabytes of file content per second.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import Result
from resolvers.ids import to_global_id

FILE_BYTES = 4 * 1024 * 1024
"""Each file's size: close to the 5 MB limit, as scanned statements and PDFs are."""

DELETE = """mutation($input: DeleteDocumentInput!) { deleteDocument(input: $input) {
  __typename } }"""

UPLOAD = """mutation($input: UploadDocumentsInput!) { uploadDocuments(input: $input) {
  __typename ... on UploadDocumentsPayload { documents { id } } ... on Error { message } } }"""


@dataclass(frozen=True)
class Throughput:
    megabytes_per_s: float
    files: int


def _mb_per_s(total_bytes: int, seconds: float) -> float:
    return total_bytes / 1_000_000 / max(seconds, 1e-9)


def make_files(directory: Path, count: int) -> list[Path]:
    """Incompressible files of FILE_BYTES each (new content every run: no blob is reused)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"statement-{index:03d}.bin"
        path.write_bytes(os.urandom(FILE_BYTES))
        paths.append(path)
    return paths


def copy_baseline(paths: list[Path], target: Path, rounds: int = 3) -> Throughput:
    """Copy every file to a new file and fsync it; the median of a few rounds (one round
    lasts a fraction of a second, so a single one is at the mercy of a neighbour's burst)."""
    rates = []
    for round_ in range(rounds):
        folder = target / f"round-{round_}"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for path in paths:
            destination = folder / path.name
            with path.open("rb") as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
        rates.append(_mb_per_s(FILE_BYTES * len(paths), time.perf_counter() - started))
        shutil.rmtree(folder, ignore_errors=True)
    return Throughput(statistics.median(rates), len(paths))


def upload(url: str, token: str, client_id: str, paths: list[Path]) -> tuple[Throughput, list[str]]:
    """Upload each file in its own multipart request; returns the documents' ids."""
    variables = {"input": {"clientId": to_global_id("Client", client_id), "files": [None]}}
    data = {
        "operations": json.dumps({"query": UPLOAD, "variables": variables}),
        "map": json.dumps({"0": ["variables.input.files.0"]}),
    }
    ids: list[str] = []
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60.0) as client:
        started = time.perf_counter()
        for path in paths:
            with path.open("rb") as handle:
                files = {"0": (path.name, handle, "application/octet-stream")}
                response = client.post("/graphql", data=data, files=files)
            response.raise_for_status()
            answer = response.json()["data"]["uploadDocuments"]
            if answer["__typename"] != "UploadDocumentsPayload":
                raise RuntimeError(f"upload refused: {answer}")
            ids.extend(d["id"] for d in answer["documents"])
        seconds = time.perf_counter() - started
    return Throughput(_mb_per_s(FILE_BYTES * len(paths), seconds), len(paths)), ids


def download(url: str, token: str, document_ids: list[str]) -> Throughput:
    """Stream every document back from GET /files/{id}, checking each one's size."""
    auth = {"authorization": f"Bearer {token}"}
    total = 0
    with httpx.Client(base_url=url, headers=auth, timeout=60.0) as client:
        started = time.perf_counter()
        for document_id in document_ids:
            with client.stream("GET", f"/files/{document_id}") as response:
                response.raise_for_status()
                size = sum(len(chunk) for chunk in response.iter_bytes(1024 * 1024))
            if size != FILE_BYTES:
                raise RuntimeError(f"downloaded {size} bytes of {document_id}, not {FILE_BYTES}")
            total += size
        seconds = time.perf_counter() - started
    return Throughput(_mb_per_s(total, seconds), len(document_ids))


def delete(url: str, token: str, document_ids: list[str]) -> None:
    """Delete the measured documents (their blobs are erased), so runs do not pile up 4 MiB
    files in the bench store."""
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60.0) as client:
        for document_id in document_ids:
            variables = {"input": {"documentId": document_id, "reason": "Benchmark upload"}}
            response = client.post("/graphql", json={"query": DELETE, "variables": variables})
            response.raise_for_status()


def measure(
    backend: str, url: str, token: str, client_id: str, work_dir: Path, count: int
) -> list[Result]:
    """Upload and download `count` files and copy the same bytes; the results, as ratios."""
    source = work_dir / "files-source"
    shutil.rmtree(source, ignore_errors=True)
    paths = make_files(source, count)
    try:
        copied = copy_baseline(paths, work_dir / "files-copy")
        sent, ids = upload(url, token, client_id, paths)
        received = download(url, token, ids)
        delete(url, token, ids)
    finally:
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(work_dir / "files-copy", ignore_errors=True)
    note = f"{count} files of {FILE_BYTES // (1024 * 1024)} MiB, one a request, concurrency 1"
    return [
        Result(
            "files_upload_vs_copy",
            backend,
            sent.megabytes_per_s,
            "MB/s",
            baseline=copied.megabytes_per_s,
            note=f"multipart uploadDocuments ÷ copy + fsync (median of 3); {note}",
        ),
        Result(
            "files_download_vs_copy",
            backend,
            received.megabytes_per_s,
            "MB/s",
            baseline=copied.megabytes_per_s,
            note=f"GET /files/{{id}} streamed ÷ copy + fsync (median of 3); {note}",
        ),
    ]
