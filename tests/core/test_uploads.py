"""B8: hostile BPMN/DMN XML and archives are refused before any parser sees them.

Pure unit tests: archives are built in memory, hostile headers by patching their bytes.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zipfile
from io import BytesIO

import pytest
from starlette.datastructures import UploadFile

from app.core import uploads
from app.core.errors import AppError, BadRequest, PayloadTooLarge
from app.core.uploads import (
    UploadLimits,
    check_xml,
    extract_archive,
    is_archive,
    read_upload,
    read_upload_file,
)

LIMITS = UploadLimits()
MiB = 1024 * 1024
BPMN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
    b'<process id="order" isExecutable="true"><startEvent id="s"/></process></definitions>'
)
DMN = b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="x"/>'


def _zip(
    *entries: tuple[str | zipfile.ZipInfo, bytes], method: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _patch_headers(
    data: bytes, *, offset_local: int, offset_central: int, fmt: str, value: int
) -> bytes:
    """Overwrite one field of every local (PK\\3\\4) and central (PK\\1\\2) header."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", offset_local), (b"PK\x01\x02", offset_central)):
        start = patched.find(signature)
        while start != -1:
            struct.pack_into(fmt, patched, start + offset, value)
            start = patched.find(signature, start + 4)
    return bytes(patched)


def _rejected(exc: pytest.ExceptionInfo[AppError], status: int, *fragments: str) -> None:
    assert exc.value.status == status
    for fragment in fragments:
        assert fragment in exc.value.detail


# --- XML --------------------------------------------------------------------------------------


def test_b8_valid_bpmn_passes() -> None:
    check_xml(BPMN, filename="order.bpmn")
    check_xml(DMN, filename="rules.dmn")


def test_b8_doctype_is_rejected() -> None:
    with pytest.raises(BadRequest) as exc:
        check_xml(b"<!DOCTYPE definitions><definitions/>", filename="order.bpmn")
    _rejected(exc, 400, "order.bpmn", "DOCTYPE is not allowed")


def test_b8_internal_entity_is_rejected() -> None:
    data = b'<!DOCTYPE d [<!ENTITY name "value">]><d>&name;</d>'
    with pytest.raises(BadRequest) as exc:
        check_xml(data, filename="order.bpmn")
    _rejected(exc, 400, "order.bpmn", "not allowed")


def test_b8_external_entity_is_rejected() -> None:
    data = b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><d>&xxe;</d>'
    with pytest.raises(BadRequest) as exc:
        check_xml(data, filename="xxe.bpmn")
    _rejected(exc, 400, "xxe.bpmn", "not allowed")
    assert "root:" not in exc.value.detail


def test_b8_billion_laughs_is_rejected() -> None:
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    data = f"<!DOCTYPE lolz [{''.join(lol)}]><lolz>&lol9;</lolz>".encode()
    with pytest.raises(BadRequest) as exc:
        check_xml(data, filename="lol.dmn")
    _rejected(exc, 400, "lol.dmn", "not allowed")


def test_b8_external_dtd_is_rejected() -> None:
    data = b'<!DOCTYPE d SYSTEM "http://attacker.example/x.dtd"><d/>'
    with pytest.raises(BadRequest) as exc:
        check_xml(data, filename="order.bpmn")
    _rejected(exc, 400, "DOCTYPE is not allowed")


def test_b8_parameter_entity_in_utf16_is_rejected() -> None:
    """Another encoding does not smuggle a DTD past the check."""
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY % p SYSTEM "x">%p;]><d/>'
    with pytest.raises(BadRequest) as exc:
        check_xml(text.encode("utf-16"), filename="order.bpmn")
    _rejected(exc, 400, "DOCTYPE is not allowed")


@pytest.mark.parametrize(
    "data", [b"", b"<definitions>", b"not xml", b"<d>&undefined;</d>", b"\xff\xfe\x00"]
)
def test_b8_malformed_xml_is_rejected(data: bytes) -> None:
    with pytest.raises(BadRequest) as exc:
        check_xml(data, filename="broken.bpmn")
    _rejected(exc, 400, "broken.bpmn", "not well-formed XML")


@pytest.mark.parametrize("encoding", ["bogus", "UTF-7", "shift_jis"])
def test_b8_unsupported_encoding_is_rejected(encoding: str) -> None:
    """What expat cannot decode, lxml might decode differently: refuse rather than guess."""
    data = f'<?xml version="1.0" encoding="{encoding}"?><definitions/>'.encode()
    with pytest.raises(BadRequest) as exc:
        check_xml(data, filename="order.bpmn")
    _rejected(exc, 400, "order.bpmn", "unsupported XML encoding")


def test_b8_deep_nesting_is_rejected() -> None:
    data = b"<a>" * 200 + b"</a>" * 200
    check_xml(data, filename="deep.bpmn")  # no limit unless asked
    with pytest.raises(BadRequest) as exc:
        check_xml(data, filename="deep.bpmn", max_depth=128)
    _rejected(exc, 400, "deeper than 128")


def test_b8_control_characters_in_names_are_not_echoed() -> None:
    with pytest.raises(BadRequest) as exc:
        check_xml(b"<!DOCTYPE d><d/>", filename="a\nb\x1b[31m.bpmn")
    assert "\n" not in exc.value.detail and "\x1b" not in exc.value.detail


# --- upload size ------------------------------------------------------------------------------


def test_b8_oversized_upload_is_413() -> None:
    limits = UploadLimits(max_upload_bytes=1000)
    assert read_upload(b"x" * 1000, limits=limits) == b"x" * 1000
    with pytest.raises(PayloadTooLarge) as exc:
        read_upload(b"x" * 1001, limits=limits)
    _rejected(exc, 413, "1000 bytes")


def test_b8_oversized_stream_is_413_without_reading_it_all() -> None:
    stream = BytesIO(b"x" * (10 * MiB))
    with pytest.raises(PayloadTooLarge):
        read_upload(stream, limits=UploadLimits(max_upload_bytes=MiB))
    assert stream.tell() < 2 * MiB
    assert read_upload(BytesIO(BPMN), limits=LIMITS) == BPMN


async def test_b8_oversized_upload_file_is_413() -> None:
    limits = UploadLimits(max_upload_bytes=1000)
    undeclared = UploadFile(BytesIO(b"x" * 5000), filename="big.bpmn")
    with pytest.raises(PayloadTooLarge):
        await read_upload_file(undeclared, limits=limits)
    declared = UploadFile(BytesIO(b""), size=5000, filename="big.bpmn")
    with pytest.raises(PayloadTooLarge):
        await read_upload_file(declared, limits=limits)
    fine = UploadFile(BytesIO(BPMN), size=len(BPMN), filename="order.bpmn")
    assert await read_upload_file(fine, limits=limits) == BPMN


# --- archives ---------------------------------------------------------------------------------


def test_b8_is_archive() -> None:
    assert is_archive("deploy.zip") and is_archive("DEPLOY.BAR")
    assert not is_archive("order.bpmn") and not is_archive("zip.bpmn")


def test_b8_valid_archive_returns_deployable_entries_in_order() -> None:
    data = _zip(
        ("processes/", b""),
        ("processes/order.bpmn", BPMN),
        ("README.md", b"# not deployed"),
        ("__MACOSX/processes/._order.bpmn", b"\x00\x05\x16\x07binary"),
        ("rules.DMN", DMN),
        ("legacy.bpmn20.xml", BPMN),
        ("old.dmn11.xml", DMN),
    )
    entries = extract_archive(data, filename="deploy.bar", limits=LIMITS)
    assert entries == [
        ("processes/order.bpmn", BPMN),
        ("rules.DMN", DMN),
        ("legacy.bpmn20.xml", BPMN),
        ("old.dmn11.xml", DMN),
    ]
    only_dmn = extract_archive(data, filename="x.zip", limits=LIMITS, allowed_suffixes=(".dmn",))
    assert only_dmn == [("rules.DMN", DMN)]


def test_b8_hostile_xml_inside_archive_is_rejected() -> None:
    data = _zip(("ok.bpmn", BPMN), ("evil.bpmn", b"<!DOCTYPE d SYSTEM 'file:///etc/passwd'><d/>"))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "deploy.zip:evil.bpmn", "DOCTYPE is not allowed")


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 not really", BPMN, b"x" * 1000])
def test_b8_non_zip_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "deploy.zip", "not a valid zip archive")


def test_b8_truncated_and_corrupted_archives_are_rejected() -> None:
    data = _zip(("order.bpmn", BPMN * 50))
    corrupted = bytearray(data)
    corrupted[40:60] = b"\xff" * 20  # inside the deflate stream
    for broken in (data[: len(data) // 2], bytes(corrupted)):
        with pytest.raises(BadRequest) as exc:
            extract_archive(broken, filename="deploy.zip", limits=LIMITS)
        _rejected(exc, 400, "deploy.zip")


def test_b8_too_many_entries_are_rejected() -> None:
    data = _zip(*((f"r{i}.bpmn", BPMN) for i in range(LIMITS.max_archive_entries + 1)))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "more than 200 entries")
    exact = _zip(*((f"r{i}.bpmn", BPMN) for i in range(LIMITS.max_archive_entries)))
    assert len(extract_archive(exact, filename="deploy.zip", limits=LIMITS)) == 200


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x.bpmn", "'..' in entry path"),
        ("processes/../../x.bpmn", "'..' in entry path"),
        ("..", "'..' in entry path"),
        ("/x.bpmn", "absolute entry path"),
        ("/etc/cron.d/x", "absolute entry path"),
        ("C:/x.bpmn", "absolute entry path"),
        ("C:\\x.bpmn", "backslashes"),
        ("..\\x.bpmn", "backslashes"),
        ("a\rb.bpmn", "control characters"),
    ],
)
def test_b8_unsafe_entry_names_are_rejected(name: str, reason: str) -> None:
    data = _zip(("ok.bpmn", BPMN), (name, BPMN))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, reason)


def test_b8_unsafe_name_of_a_skipped_entry_still_rejects_the_archive() -> None:
    data = _zip(("ok.bpmn", BPMN), ("../../home/u/.bashrc", b"echo pwned"))
    with pytest.raises(BadRequest):
        extract_archive(data, filename="deploy.zip", limits=LIMITS)


def test_b8_nul_in_entry_name_is_rejected() -> None:
    """zipfile cuts names at NUL (`x.bpmn\\0.sh` would read as `x.bpmn`); the raw name counts."""
    data = _zip(("xAy.bpmn", BPMN)).replace(b"xAy.bpmn", b"x\x00y.bpmn")
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "control characters")


def test_b8_duplicate_entry_names_are_rejected() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        data = _zip(("order.bpmn", BPMN), ("order.bpmn", BPMN))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "duplicate entry name")


def test_b8_symlink_entry_is_rejected() -> None:
    link = zipfile.ZipInfo("order.bpmn")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = _zip((link, b"/etc/passwd"))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "deploy.zip:order.bpmn", "symbolic links")


def test_b8_encrypted_entry_is_rejected() -> None:
    # General purpose flag bit 0: at offset 6 in the local header, 8 in the central one.
    data = _patch_headers(
        _zip(("order.bpmn", BPMN)), offset_local=6, offset_central=8, fmt="<H", value=0x1
    )
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "encrypted")


def test_b8_oversized_entry_by_declared_size_is_rejected() -> None:
    limits = UploadLimits(max_entry_bytes=len(BPMN) - 1)
    with pytest.raises(BadRequest) as exc:
        extract_archive(_zip(("order.bpmn", BPMN)), filename="deploy.zip", limits=limits)
    _rejected(exc, 400, "order.bpmn", "entry exceeds")


def test_b8_total_declared_size_is_rejected() -> None:
    limits = UploadLimits(max_total_uncompressed_bytes=2 * len(BPMN))
    data = _zip(("a.bpmn", BPMN), ("b.bpmn", BPMN), ("c.txt", BPMN))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=limits)
    _rejected(exc, 400, "archive expands beyond")


def test_b8_zip_bomb_is_rejected() -> None:
    """100 MB of zeros deflates to ~100 KB; nothing is inflated before it is refused."""
    buffer = BytesIO()
    zeros = bytes(MiB)
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("bomb.bpmn", "w", force_zip64=True) as entry,
    ):
        for _ in range(100):
            entry.write(zeros)
    data = buffer.getvalue()
    assert len(data) < 1 * MiB
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="bomb.zip", limits=LIMITS)
    _rejected(exc, 400, "bomb.bpmn", "entry exceeds")


def test_b8_compression_ratio_is_rejected() -> None:
    data = _zip(("ratio.bpmn", bytes(4 * MiB)))  # under the entry limit, ratio ~1000
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "compression ratio exceeds")


def test_b8_header_lying_about_its_size_is_rejected() -> None:
    """The central directory claims 100 bytes for 6 MiB of data: never more is returned."""
    data = _zip(("order.bpmn", BPMN + b" " * (6 * MiB)))
    # Uncompressed size: offset 22 in the local header, 24 in the central one.
    lying = _patch_headers(data, offset_local=22, offset_central=24, fmt="<I", value=100)
    assert zipfile.ZipFile(BytesIO(lying)).infolist()[0].file_size == 100
    with pytest.raises(BadRequest) as exc:
        extract_archive(lying, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "deploy.zip")


@pytest.fixture
def headers_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the declared sizes passed, as a lying header would make them."""
    monkeypatch.setattr(uploads, "_check_headers", lambda *args, **kwargs: None)


@pytest.mark.usefixtures("headers_trusted")
def test_b8_streaming_check_stops_an_oversized_entry() -> None:
    data = _zip(("big.bpmn", os.urandom(6 * MiB)), method=zipfile.ZIP_STORED)
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "big.bpmn", "entry exceeds")


@pytest.mark.usefixtures("headers_trusted")
def test_b8_streaming_check_stops_a_high_ratio_entry() -> None:
    data = _zip(("ratio.bpmn", bytes(4 * MiB)))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "compression ratio exceeds")


@pytest.mark.usefixtures("headers_trusted")
def test_b8_streaming_check_stops_the_total() -> None:
    limits = UploadLimits(max_total_uncompressed_bytes=2 * len(BPMN))
    data = _zip(("a.bpmn", BPMN), ("b.bpmn", BPMN), ("c.bpmn", BPMN))
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=limits)
    _rejected(exc, 400, "archive expands beyond")


def test_b8_unsupported_compression_method_is_rejected() -> None:
    # Method 99 is WinZip AES, which zipfile cannot read.
    data = _patch_headers(
        _zip(("order.bpmn", BPMN)), offset_local=8, offset_central=10, fmt="<H", value=99
    )
    with pytest.raises(BadRequest) as exc:
        extract_archive(data, filename="deploy.zip", limits=LIMITS)
    _rejected(exc, 400, "deploy.zip")
