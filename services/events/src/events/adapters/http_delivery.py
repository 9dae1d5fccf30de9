"""POSTing a webhook to an endpoint without letting its URL reach inside the network (SSRF).

The host of the URL is resolved, every address it resolves to is checked (public addresses only,
unless PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS=true), and the connection is made to that very
checked address: a name that resolves differently a moment later (DNS rebinding) cannot move the
request. The URL's host still goes into the Host header and into TLS (SNI, and the certificate
must be valid for it). Redirects are never followed (the answer's status is what counts), the
whole exchange is bounded by a deadline, and at most MAX_RESPONSE_BYTES of the answer are read.
"""

import email.utils
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Callable

from events.domain.webhooks import MAX_RESPONSE_BYTES, Answer
from portal_common.domain_errors import InvalidArgument

TIMEOUT_SECONDS = 15
USER_AGENT = "portal-webhooks/1"
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list]


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local (cloud
    metadata), shared (CGNAT), reserved, multicast or unspecified, nor an IPv6 form of one."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return is_public(inner)
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_link_local
        and not address.is_loopback
        and not address.is_unspecified
        and not (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


class RefusedTarget(Exception):
    """The URL's host resolves to an address webhooks may not reach."""


class WebhookHttp:
    """The endpoints' side of the network: checks targets, and POSTs deliveries to them."""

    def __init__(
        self,
        allow_private: bool,
        timeout_seconds: float = TIMEOUT_SECONDS,
        tls: ssl.SSLContext | None = None,
        resolve: Resolver = socket.getaddrinfo,
    ):
        self.allow_private = allow_private
        self._timeout = timeout_seconds
        self._tls = tls or ssl.create_default_context()
        self._resolve = resolve

    def _allowed(self, address: Address) -> bool:
        return self.allow_private or is_public(address)

    def addresses(self, host: str, port: int) -> list[tuple[Address, tuple]]:
        """The addresses `host` resolves to, each with its socket address; RefusedTarget if any of
        them may not be reached (a name that also resolves inside is refused whole)."""
        found = []
        for family, _, _, _, sockaddr in self._resolve(host, port, type=socket.SOCK_STREAM):
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ipaddress.ip_address(sockaddr[0].split("%")[0])
            if not self._allowed(address):
                raise RefusedTarget(
                    f"{host} resolves to {address}, which is not a public address "
                    "(PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS=true admits it for development)"
                )
            found.append((address, sockaddr))
        if not found:
            raise OSError(f"{host} resolves to no IP address")
        return found

    def check(self, url: str, field: str = "url") -> None:
        """At creation: refuses a URL whose host resolves to an address webhooks may not reach. A
        name that does not resolve now is accepted (its attempts fail until it does); every attempt
        checks again."""
        parts = urllib.parse.urlsplit(url)
        try:
            port = _port(parts)
        except ValueError:
            raise InvalidArgument(f"{field} has an invalid port", field=field) from None
        try:
            self.addresses(parts.hostname or "", port)
        except RefusedTarget as refused:
            raise InvalidArgument(f"{field}: {refused}", field=field) from None
        except (OSError, UnicodeError, ValueError):
            pass

    def post(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        """One attempt: the endpoint's answer, or why there was none."""
        started = time.monotonic()

        def took() -> float:
            return round((time.monotonic() - started) * 1000, 1)

        try:
            connection = self._connect(urllib.parse.urlsplit(url))
        except RefusedTarget as refused:
            return Answer(None, took(), error=str(refused))
        except (OSError, UnicodeError, ValueError) as error:
            return Answer(None, took(), error=_reason(error, "could not connect"))
        # The deadline covers the whole exchange, however slowly the endpoint trickles its answer.
        deadline = threading.Timer(self._timeout, _cut, (connection,))
        deadline.start()
        try:
            parts = urllib.parse.urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(
                "POST",
                target,
                body=body,
                headers={**headers, "content-type": "application/json", "user-agent": USER_AGENT},
            )
            response = connection.getresponse()
            data = response.read(MAX_RESPONSE_BYTES)
            return Answer(
                response.status,
                took(),
                body=data.decode("utf-8", "replace"),
                retry_after_ms=retry_after_ms(response.getheader("retry-after")),
            )
        except (OSError, http.client.HTTPException) as error:
            timed_out = not deadline.is_alive() or isinstance(error, TimeoutError)
            reason = f"no answer within {self._timeout:g} s" if timed_out else _reason(error, "connection failed")
            return Answer(None, took(), error=reason)
        finally:
            deadline.cancel()
            connection.close()

    def _connect(self, parts: urllib.parse.SplitResult) -> http.client.HTTPConnection:
        host = parts.hostname
        if not host or parts.scheme not in ("https", "http"):
            raise ValueError("not an http(s) URL")
        if parts.scheme == "http" and not self.allow_private:
            raise RefusedTarget("http:// URLs are refused (PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS=true admits them)")
        port = _port(parts)
        failure: OSError | None = None
        for address, sockaddr in self.addresses(host, port):
            sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(self._timeout)
            try:
                sock.connect(sockaddr)
                if parts.scheme == "https":
                    sock = self._tls.wrap_socket(sock, server_hostname=host)
            except OSError as error:
                sock.close()
                failure = error
                continue
            return _Connected(host, port, sock, self._timeout)
        raise failure or OSError("no address to connect to")


class _Connected(http.client.HTTPConnection):
    """An HTTP connection over a socket already connected (to the checked address) and, for https,
    already through TLS with the URL's host: http.client only writes the request (Host: the URL's
    host) and reads the answer."""

    def __init__(self, host: str, port: int, sock: socket.socket, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.sock = sock

    def connect(self) -> None:
        raise OSError("the connection was closed")


def _cut(connection: http.client.HTTPConnection) -> None:
    if connection.sock is not None:
        try:
            connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _port(parts: urllib.parse.SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _reason(error: Exception, what: str) -> str:
    return f"{what}: {error}"[:300] if str(error) else f"{what}: {type(error).__name__}"


def retry_after_ms(header: str | None, now: float | None = None) -> int | None:
    """A Retry-After header (seconds, or an HTTP date) as a delay in ms; None when absent or unreadable."""
    if not header:
        return None
    text = header.strip()
    if text.isascii() and text.isdigit():
        return int(text[:9]) * 1000
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0, round((when.timestamp() - (time.time() if now is None else now)) * 1000))
