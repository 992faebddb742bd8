"""S3 and S3-compatible servers, through s3fs plus the few S3 requests fsspec has no call for:
CopyObject asking S3 for the copy's SHA-256, DeleteObjects batches, and the abort of the multipart
uploads a killed writer left. Everything else is :class:`~mlops.store.fsspec_store.FsspecStore`'s.
:func:`~mlops.store.resolve` picks this store for a filesystem whose protocol is ``s3``."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

import fsspec

from mlops.errors import StoreError
from mlops.store.base import FileEntry, Location, store_errors
from mlops.store.fsspec_store import FsspecStore, protocols
from mlops.utils import progress

PROTOCOLS = frozenset({"s3", "s3a"})
"""The protocols of s3fs' filesystem (``fs.protocol``)."""
_DELETE_BATCH = 1000
"""Keys one DeleteObjects request may name."""


class S3Store(FsspecStore):
    """A store served by s3fs' ``S3FileSystem``; its ``call_s3`` sends the S3 requests above."""

    @staticmethod
    def serves_filesystem(fs: fsspec.AbstractFileSystem) -> bool:
        """Whether ``fs`` is s3fs' filesystem (by its protocol), so this store can serve it."""
        return not PROTOCOLS.isdisjoint(protocols(fs))

    def _call(self, method: str, **kwargs: Any) -> Any:
        """One S3 request through s3fs (its credentials, endpoint, retries), e.g. ``copy_object``."""
        return self.fs.call_s3(method, **kwargs)

    # --- copies --------------------------------------------------------------------------------------

    def copy_from(self, src: Location, dest: Location, *, durable: bool = True) -> FileEntry:
        """A file of this same store is copied by one CopyObject asking S3 for the copy's SHA-256,
        so no byte moves through this machine at all; where S3 gives no whole-object SHA-256, the
        copy of :class:`FsspecStore` (server-side copy, read back once to hash it)."""
        if src.store == self:
            entry = self._copy_hashed_by_server(src, dest)
            if entry is not None:
                self.written(dest, entry)
                return entry
        return super().copy_from(src, dest, durable=durable)

    def _copy_hashed_by_server(self, src: Location, dest: Location) -> FileEntry | None:
        """One CopyObject asking the service for the copy's SHA-256, then one HEAD for it and the
        size. ``None`` (the caller falls back) where the service does not give a whole-object
        SHA-256 (S3-compatible services without checksums, composite checksums of multipart
        copies) or refuses the copy (over 5 GB)."""
        copy = _copy_request(src, dest)
        try:
            with store_errors(dest, "copy"):
                try:
                    self._call("copy_object", **copy, ChecksumAlgorithm="SHA256")
                except FileNotFoundError as exc:
                    raise StoreError(f"{src.url} vanished while it was being copied") from exc
                except Exception:  # noqa: BLE001 - refused (too large, no checksums): the caller falls back
                    return None
                head = self._call("head_object", Bucket=copy["Bucket"], Key=copy["Key"], ChecksumMode="ENABLED")
        finally:
            self._invalidate(dest)
        checksum = head.get("ChecksumSHA256")
        if not isinstance(checksum, str) or "-" in checksum or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
            return None  # the copy stays; the caller's fallback copies over it
        try:
            digest = base64.b64decode(checksum, validate=True)
        except ValueError:
            return None
        if len(digest) != hashlib.sha256().digest_size:
            return None
        size = int(head["ContentLength"])
        progress.advance(size)
        return FileEntry(digest.hex(), size)

    def _copy_inside(self, src: Location, dest: Location) -> None:
        """One CopyObject request (``fs.cp_file`` first asks for the source's size, a second request
        per file); ``fs.cp_file`` for objects over CopyObject's 5 GB limit, or where it is refused."""
        try:
            self._call("copy_object", **_copy_request(src, dest))
        except FileNotFoundError:
            raise
        except Exception:  # noqa: BLE001 - too large for one CopyObject, or refused: fs.cp_file decides
            super()._copy_inside(src, dest)

    # --- deletes -------------------------------------------------------------------------------------

    def _delete(self, locs: Sequence[Location]) -> None:
        """DeleteObjects with the exact keys, in batches of the 1000 keys one request may name."""
        by_bucket: dict[str, list[Location]] = {}
        for loc in locs:
            by_bucket.setdefault(loc.path.partition("/")[0], []).append(loc)
        for bucket, batch in by_bucket.items():
            for start in range(0, len(batch), _DELETE_BATCH):
                part = batch[start : start + _DELETE_BATCH]
                with store_errors(part[0], "remove"):
                    reply = self._call(
                        "delete_objects",
                        Bucket=bucket,
                        Delete={"Objects": [{"Key": loc.path.partition("/")[2]} for loc in part], "Quiet": True},
                    )
                failed = [e for e in reply.get("Errors") or [] if e.get("Code") != "NoSuchKey"]
                if failed:
                    first = failed[0]
                    raise StoreError(
                        f"cannot remove s3://{bucket}/{first.get('Key')}: {first.get('Code')}: {first.get('Message')}"
                        + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
                    )

    def abort_uploads(self, loc: Location) -> int:
        """List the multipart uploads under the prefix ``loc``, abort each."""
        bucket, _, key = loc.path.partition("/")
        prefix = f"{key.rstrip('/')}/"
        with store_errors(loc, "abort the unfinished uploads under"):
            listed = self._call("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
            uploads = listed.get("Uploads") or []
            for upload in uploads:
                self._call("abort_multipart_upload", Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return len(uploads)


def _copy_request(src: Location, dest: Location) -> dict[str, Any]:
    """The arguments of a CopyObject of ``src`` to ``dest`` (paths ``bucket/key``)."""
    bucket, _, key = src.path.partition("/")
    dest_bucket, _, dest_key = dest.path.partition("/")
    return {"Bucket": dest_bucket, "Key": dest_key, "CopySource": {"Bucket": bucket, "Key": key}}
