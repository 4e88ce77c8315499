"""Safe intake of deployment uploads: BPMN/DMN XML and `.zip`/`.bar` archives of them.

Tenants upload these bytes; the BPMN/DMN parsers behind them (lxml via SpiffWorkflow) must
never see hostile input. So everything here runs on the raw bytes, before any other parser:

* `read_upload` / `read_upload_file` bound the upload itself (413);
* `extract_archive` rejects archives that could escape a directory, hide links, or expand
  without bound (zip bombs), enforcing the limits while it inflates, not just from headers;
* `check_xml` rejects DTDs and entities (XXE, billion laughs) with the expat-based
  `defusedxml` parser, which has no network or file access of its own.

Every rejection is a 400 `BadRequest` (413 `PayloadTooLarge` for the upload size) whose
detail names the offending file, so the caller can fix it (CONFORMANCE B8).
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import defusedxml  # type: ignore[import-untyped]  # no stubs; see types-defusedxml
import defusedxml.ElementTree  # type: ignore[import-untyped]
from starlette.datastructures import UploadFile

from app.core.errors import BadRequest, PayloadTooLarge

MiB = 1024 * 1024
ARCHIVE_SUFFIXES = (".zip", ".bar")
DEPLOYABLE_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".dmn11.xml")
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Finder adds AppleDouble files (`__MACOSX/._x.bpmn`) that are binary, not BPMN.
_SKIPPED_DIRS = ("__MACOSX/",)
# What a damaged or crafted zip raises (ValueError: undecodable names, bad offsets).
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError)


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Bounds for one deployment upload. Defaults fit real BPMN/DMN projects with a wide margin.

    Each bound is checked against the declared zip headers *and* while bytes are inflated,
    because headers are attacker-controlled. `max_xml_depth` stays under libxml2's own
    default (256) so deep nesting is refused here with a clear message rather than later.
    """

    max_upload_bytes: int = 10 * MiB
    max_archive_entries: int = 200
    max_entry_bytes: int = 5 * MiB
    max_total_uncompressed_bytes: int = 50 * MiB
    max_compression_ratio: float = 100.0
    max_xml_depth: int | None = 128


def _display(name: str) -> str:
    """A file name safe to echo in a problem body and the logs: no control chars, bounded."""
    cleaned = _CONTROL.sub("?", name)
    return cleaned if len(cleaned) <= 200 else cleaned[:197] + "..."


# --- XML -------------------------------------------------------------------------------------


def check_xml(data: bytes, *, filename: str, max_depth: int | None = None) -> None:
    """400 unless `data` is well-formed XML without DOCTYPE, entities or external references.

    BPMN and DMN never need a DTD, so any DOCTYPE is refused outright; that alone shuts out
    XXE, external DTDs and entity expansion. The entity/external mappings are defence in
    depth should a parser ever report those before the DOCTYPE.
    """
    label = _display(filename)
    try:
        root = defusedxml.ElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise BadRequest(f"{label}: DOCTYPE is not allowed") from None
    except defusedxml.EntitiesForbidden:
        raise BadRequest(f"{label}: entity declarations are not allowed") from None
    except defusedxml.ExternalReferenceForbidden:
        raise BadRequest(f"{label}: external references are not allowed") from None
    except defusedxml.DefusedXmlException:
        raise BadRequest(f"{label}: the XML uses a forbidden construct") from None
    except ParseError as exc:
        raise BadRequest(f"{label}: not well-formed XML ({exc})") from None
    except (LookupError, ValueError) as exc:  # encoding expat cannot read: refuse, never guess
        raise BadRequest(f"{label}: unsupported XML encoding ({exc})") from None
    if max_depth is not None and _depth_exceeds(root, max_depth):
        raise BadRequest(f"{label}: XML nesting is deeper than {max_depth} levels")


def _depth_exceeds(root: Element, limit: int) -> bool:
    """Iterative, so a hostile document cannot exhaust the Python stack."""
    stack: list[tuple[Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


# --- upload size -----------------------------------------------------------------------------


def _too_large(limits: UploadLimits) -> PayloadTooLarge:
    return PayloadTooLarge(f"The upload exceeds {limits.max_upload_bytes} bytes.")


def read_upload(source: bytes | IO[bytes], *, limits: UploadLimits) -> bytes:
    """The whole upload, or 413 as soon as it passes `max_upload_bytes` (the rest is not read)."""
    if isinstance(source, bytes):
        if len(source) > limits.max_upload_bytes:
            raise _too_large(limits)
        return source
    parts: list[bytes] = []
    size = 0
    while chunk := source.read(_CHUNK):
        size += len(chunk)
        if size > limits.max_upload_bytes:
            raise _too_large(limits)
        parts.append(chunk)
    return b"".join(parts)


async def read_upload_file(file: UploadFile, *, limits: UploadLimits) -> bytes:
    """`read_upload` for a Starlette upload; trusts a known `size` only to fail early."""
    if file.size is not None and file.size > limits.max_upload_bytes:
        raise _too_large(limits)
    chunks: list[bytes] = []
    size = 0
    while chunk := await file.read(_CHUNK):
        size += len(chunk)
        if size > limits.max_upload_bytes:
            raise _too_large(limits)
        chunks.append(chunk)
    return b"".join(chunks)


# --- archives --------------------------------------------------------------------------------


def is_archive(filename: str) -> bool:
    """`.zip` and Camunda's `.bar` (a zip too) are unpacked; anything else is one resource."""
    return filename.lower().endswith(ARCHIVE_SUFFIXES)


def extract_archive(
    data: bytes,
    *,
    filename: str,
    limits: UploadLimits,
    allowed_suffixes: tuple[str, ...] = DEPLOYABLE_SUFFIXES,
) -> list[tuple[str, bytes]]:
    """The deployable `(name, bytes)` entries of a zip archive, in archive order.

    The whole archive is refused (400) if any entry is unsafe, even one that would be
    skipped: a hostile member means a hostile upload. Directories, `__MACOSX/` and entries
    whose suffix (case-insensitive) is not in `allowed_suffixes` are skipped, as Camunda
    deploys only resources it knows. Every returned entry has passed `check_xml`.
    """
    label = _display(filename)
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_headers(infos, label, limits)
            wanted = [i for i in infos if _is_deployable(i, allowed_suffixes)]
            entries = _read_entries(archive, wanted, label, limits)
    except _CORRUPT as exc:
        raise BadRequest(f"{label}: not a valid zip archive ({exc})") from None
    except (NotImplementedError, RuntimeError) as exc:  # unknown method, encryption
        raise BadRequest(f"{label}: unsupported zip entry ({exc})") from None
    for name, content in entries:
        check_xml(content, filename=f"{label}:{_display(name)}", max_depth=limits.max_xml_depth)
    return entries


def _is_deployable(info: zipfile.ZipInfo, suffixes: tuple[str, ...]) -> bool:
    name = info.filename
    if info.is_dir() or name.startswith(_SKIPPED_DIRS):
        return False
    return name.lower().endswith(tuple(s.lower() for s in suffixes))


def _check_headers(infos: list[zipfile.ZipInfo], label: str, limits: UploadLimits) -> None:
    """Cheap checks on the central directory, before a single byte is inflated."""
    if len(infos) > limits.max_archive_entries:
        raise BadRequest(f"{label}: more than {limits.max_archive_entries} entries")
    seen: set[str] = set()
    total = 0
    for info in infos:
        where = f"{label}:{_display(info.orig_filename)}"
        _check_name(info.orig_filename, where)
        if info.filename in seen:
            raise BadRequest(f"{where}: duplicate entry name")
        seen.add(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BadRequest(f"{where}: symbolic links are not allowed")
        if info.flag_bits & 0x1:
            raise BadRequest(f"{where}: encrypted entries are not allowed")
        _check_entry_size(where, info.file_size, info.compress_size, limits)
        total += info.file_size
        _check_total_size(label, total, limits)


def _check_name(name: str, where: str) -> None:
    """Names become resource names and may become paths: none may point outside the root."""
    if _CONTROL.search(name):  # NUL included: zipfile silently truncates names there
        raise BadRequest(f"{where}: control characters in entry name")
    if "\\" in name:
        raise BadRequest(f"{where}: backslashes in entry name")
    if name.startswith("/") or _DRIVE.match(name):
        raise BadRequest(f"{where}: absolute entry path")
    if ".." in name.split("/"):
        raise BadRequest(f"{where}: '..' in entry path")


def _check_entry_size(where: str, expanded: int, compressed: int, limits: UploadLimits) -> None:
    """One entry's bound and ratio; `compressed` is what zipfile will read at most."""
    if expanded > limits.max_entry_bytes:
        raise BadRequest(f"{where}: entry exceeds {limits.max_entry_bytes} bytes")
    if expanded and (compressed == 0 or expanded / compressed > limits.max_compression_ratio):
        raise BadRequest(f"{where}: compression ratio exceeds {limits.max_compression_ratio:g}")


def _check_total_size(label: str, total: int, limits: UploadLimits) -> None:
    if total > limits.max_total_uncompressed_bytes:
        raise BadRequest(
            f"{label}: archive expands beyond {limits.max_total_uncompressed_bytes} bytes"
        )


def _read_entries(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], label: str, limits: UploadLimits
) -> list[tuple[str, bytes]]:
    """Inflate in chunks, re-checking every bound on the bytes actually produced."""
    entries: list[tuple[str, bytes]] = []
    total = 0
    for info in infos:
        where = f"{label}:{_display(info.filename)}"
        parts: list[bytes] = []
        size = 0
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                total += len(chunk)
                _check_entry_size(where, size, info.compress_size, limits)
                _check_total_size(label, total, limits)
                parts.append(chunk)
        entries.append((info.filename, b"".join(parts)))
    return entries
