"""Outbound HTTP calls to URLs that tenants give (webhooks, the `http.call` job handler).

This is the one module that calls such URLs, because a URL from a tenant is an attack on
the platform's own network until proven otherwise (SSRF): `http://127.0.0.1:6379`, the
cloud metadata service at `169.254.169.254`, a database on `10.0.0.5`, or a host name that
resolves to any of them. The rules:

* `check_url()`: http or https only, no user:password part, a host. The host is resolved
  and *every* address it resolves to must be public: loopback, private, shared (CGNAT),
  link-local, multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6
  addresses (`::ffff:127.0.0.1`) by the IPv4 address they carry — unless the caller (an
  admin's setting) passes `allow_private_network=True`.
* The check also holds when connecting: `post_json()` resolves the host **once**, checks
  those addresses, and connects to the first checked address itself (the URL's host is
  replaced by the address; `Host` and, for https, TLS SNI and certificate verification
  still use the name). A DNS answer that changes between the check and the connect (DNS
  rebinding) cannot redirect the call. Redirects are never followed (a 3xx is a failed
  call) and proxies from the environment are ignored.
* Every call has a total deadline (`WEBHOOK_TIMEOUT_SECONDS`) and reads at most
  `MAX_RESPONSE_BYTES` of the response.
* A call with a secret is signed: `Tessera-Signature: t=<unix seconds>,v1=<hex>`, the hex
  HMAC-SHA256 of `"<t>." + body` under the secret (`signature()`); receivers recompute it
  and refuse an old `t`. `Tessera-Event-Id` carries the event id, so that a receiver drops
  a repeat of a call (delivery is at least once).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Final

import httpx

from app.core.errors import BadRequest

SIGNATURE_HEADER: Final = "Tessera-Signature"
EVENT_ID_HEADER: Final = "Tessera-Event-Id"
MAX_RESPONSE_BYTES: Final = 64 * 1024
_SCHEMES: Final = {"http": 80, "https": 443}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(BadRequest):
    """The URL may not be called: bad form, or it reaches a refused address."""

    slug, title = "outbound-url-refused", "URL refused"


class OutboundFailed(Exception):
    """The call did not get an answer (connect error, timeout, TLS failure)."""


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL that passed `check_url()`, with the addresses it was checked at."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    status: int
    body: bytes  # at most MAX_RESPONSE_BYTES

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def refused_address(address: IPAddress) -> str | None:
    """Why `address` must not be called without `allow_private_network`, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 (mapped, 6to4) is judged as that address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return refused_address(embedded)
    for attribute in (
        "is_unspecified",
        "is_loopback",
        "is_link_local",
        "is_multicast",
        "is_private",
        "is_reserved",
    ):
        if getattr(address, attribute):
            return f"{address} is {attribute[3:].replace('_', '-')}"
    if not address.is_global:  # e.g. 100.64.0.0/10 (shared address space)
        return f"{address} is not a public address"
    return None


def parse_url(url: str) -> httpx.URL:
    """The form rules of `check_url()`, without resolving: for a quick 400 on save."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise OutboundRefused(f"Not a valid URL: {exc}") from None
    if parsed.scheme not in _SCHEMES:
        raise OutboundRefused("Only http and https URLs may be called.")
    if parsed.userinfo:
        raise OutboundRefused("A URL must not carry a user name or password.")
    if not parsed.host:
        raise OutboundRefused("The URL has no host.")
    return parsed


async def check_url(url: str, *, allow_private_network: bool = False) -> CheckedUrl:
    """Parse `url`, resolve its host and check every address (module docstring); raises
    `OutboundRefused` (a 400 when it reaches a caller) with the reason."""
    parsed = parse_url(url)
    addresses = await _resolve(parsed)
    if not allow_private_network:
        for address in addresses:
            reason = refused_address(address)
            if reason is not None:
                raise OutboundRefused(
                    f"{parsed.host} resolves to a refused address ({reason}); only an "
                    "administrator may allow private networks."
                )
    return CheckedUrl(parsed, addresses)


async def _resolve(url: httpx.URL) -> tuple[IPAddress, ...]:
    port = url.port or _SCHEMES[url.scheme]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            url.host, port, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"The host {url.host} does not resolve ({exc}).") from None
    addresses = []
    for *_, sockaddr in infos:
        # Strip an IPv6 zone ("fe80::1%eth0"): the address itself decides.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundRefused(f"The host {url.host} does not resolve.")
    return tuple(addresses)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>." + body` under `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encode_json(payload: Any) -> bytes:
    """The exact bytes `post_json()` sends (and signs) for `payload`."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()


async def post_json(
    url: str,
    payload: Any,
    *,
    timeout_seconds: float,
    allow_private_network: bool = False,
    secret: str | None = None,
    event_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> OutboundResponse:
    """POST `payload` as JSON to `url` under the rules of this module.

    Raises `OutboundRefused` for a URL that may not be called, `OutboundFailed` when no
    answer came within `timeout_seconds` (for the whole call: resolving, connecting,
    sending and reading). Any HTTP answer, 3xx/4xx/5xx included, is returned: the caller
    decides what counts as success (`OutboundResponse.ok`).
    """
    body = encode_json(payload)
    sent = {"Content-Type": "application/json", "User-Agent": "Tessera", **(headers or {})}
    if event_id is not None:
        sent[EVENT_ID_HEADER] = event_id
    if secret:
        now = int(time.time())
        sent[SIGNATURE_HEADER] = f"t={now},v1={signature(secret, now, body)}"
    try:
        async with asyncio.timeout(timeout_seconds):
            checked = await check_url(url, allow_private_network=allow_private_network)
            return await _send(checked, body, sent, limit=timeout_seconds)
    except TimeoutError:
        raise OutboundFailed(f"no answer within {timeout_seconds:g} s") from None


async def _send(
    checked: CheckedUrl, body: bytes, headers: dict[str, str], *, limit: float
) -> OutboundResponse:
    """Connect to the checked address, not to whatever the name resolves to now. The
    caller's `asyncio.timeout` bounds the whole call; `limit` bounds each phase too."""
    url = checked.url
    address = checked.addresses[0]
    headers = {**headers, "Host": _host_header(url)}
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    async with httpx.AsyncClient(timeout=limit, follow_redirects=False, trust_env=False) as client:
        request = client.build_request(
            "POST",
            url.copy_with(host=str(address)),
            content=body,
            headers=headers,
            extensions=extensions,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise OutboundFailed(f"{type(exc).__name__}: {exc or 'no detail'}") from None
        try:
            return OutboundResponse(response.status_code, await _read_capped(response))
        finally:
            await response.aclose()


async def _read_capped(response: httpx.Response) -> bytes:
    received = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            received.extend(chunk)
            if len(received) >= MAX_RESPONSE_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status is what counts; a broken body does not undo it
    return bytes(received[:MAX_RESPONSE_BYTES])


def _host_header(url: httpx.URL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return host if url.port is None else f"{host}:{url.port}"
