"""The SSRF-safe webhook client against real local servers: which addresses it refuses (IPv4,
IPv6, IPv4 inside IPv6), that it connects to the address it checked with the URL's host in Host
and TLS, no redirects, the deadline, and at most 1 KB of an answer."""

import datetime
import ipaddress
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from events.adapters.http_delivery import WebhookHttp, embedded_ipv4, is_public, retry_after_ms
from portal_common.domain_errors import InvalidArgument


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared (CGNAT)
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "::7f00:1",  # IPv4-compatible (deprecated) 127.0.0.1
        "2001:db8::1",  # documentation
    ],
)
def test_addresses_inside_or_special_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_are(address):
    assert is_public(ipaddress.ip_address(address))


def test_ipv4_inside_ipv6_is_found():
    assert str(embedded_ipv4(ipaddress.ip_address("::ffff:1.2.3.4"))) == "1.2.3.4"
    assert str(embedded_ipv4(ipaddress.ip_address("64:ff9b::102:304"))) == "1.2.3.4"
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1111")) is None


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_ms("120") == 120_000
    assert retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60_000
    assert retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 + 60) == 0
    assert retry_after_ms("soon") is None and retry_after_ms(None) is None and retry_after_ms("-5") is None


def resolving(mapping: dict[str, list[str]]):
    """A resolver for the test: names to these addresses."""

    def resolve(host, port, type=0):
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in mapping[host]
        ]

    return resolve


def test_a_name_that_resolves_inside_even_once_is_refused_when_private_targets_are_not_allowed():
    client = WebhookHttp(False, resolve=resolving({"hooks.example.com": ["93.184.215.14", "10.0.0.7"]}))
    with pytest.raises(InvalidArgument) as refused:
        client.check("https://hooks.example.com/x")
    assert refused.value.field == "url" and "10.0.0.7" in refused.value.message
    answer = client.post("https://hooks.example.com/x", {}, b"{}")
    assert answer.http_status is None and "10.0.0.7" in answer.error


def test_a_port_out_of_range_is_refused():
    with pytest.raises(InvalidArgument) as refused:
        WebhookHttp(True).check("https://hooks.example.com:70000/x")
    assert refused.value.field == "url"


def test_an_unresolvable_name_is_accepted_at_creation_and_fails_its_attempts():
    def nowhere(host, port, type=0):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    client = WebhookHttp(False, resolve=nowhere)
    client.check("https://nowhere.invalid/x")
    assert "could not connect" in client.post("https://nowhere.invalid/x", {}, b"{}").error


class Server:
    """A raw TCP server answering each connection with `reply` (bytes), optionally over TLS;
    records the request it read."""

    def __init__(self, reply: bytes, tls: ssl.SSLContext | None = None, silent: bool = False):
        self.reply, self.tls, self.silent = reply, tls, silent
        self.requests: list[bytes] = []
        self.server_names: list[str | None] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.done.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            try:
                if self.tls is not None:
                    connection = self.tls.wrap_socket(connection, server_side=True)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                while len(body) < length:
                    body += connection.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                if self.silent:
                    self.done.wait(5)
                else:
                    connection.sendall(self.reply)
                connection.close()
            except (OSError, ssl.SSLError):
                continue

    def close(self):
        self.done.set()
        self.sock.close()


@pytest.fixture
def serve():
    servers = []

    def start(*args, **kwargs) -> Server:
        servers.append(Server(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_post_gets_the_status_and_at_most_1_kb_of_the_answer(serve):
    server = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
    answer = WebhookHttp(True).post(f"http://127.0.0.1:{server.port}/hooks?a=1", {"webhook-id": "evt_1"}, b'{"a":1}')
    assert answer.http_status == 200 and answer.delivered
    assert answer.body == "x" * 1024 and answer.error is None and answer.duration_ms >= 0
    request = server.requests[0].decode()
    assert request.startswith("POST /hooks?a=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}" in request and "webhook-id: evt_1" in request
    assert "content-type: application/json" in request and request.endswith('{"a":1}')


def test_redirects_are_not_followed(serve):
    target = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    redirect = (
        f"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{target.port}/\r\nContent-Length: 0\r\n\r\n"
    )
    server = serve(redirect.encode())
    answer = WebhookHttp(True).post(f"http://127.0.0.1:{server.port}/", {}, b"{}")
    assert answer.http_status == 307 and not answer.delivered
    assert target.requests == []


def test_retry_after_is_read(serve):
    server = serve(b"HTTP/1.1 503 Busy\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n")
    assert WebhookHttp(True).post(f"http://127.0.0.1:{server.port}/", {}, b"{}").retry_after_ms == 30_000


def test_an_endpoint_that_does_not_answer_in_time_is_cut_off(serve):
    server = serve(b"", silent=True)
    answer = WebhookHttp(True, timeout_seconds=0.5).post(f"http://127.0.0.1:{server.port}/", {}, b"{}")
    assert answer.http_status is None and "no answer within 0.5 s" in answer.error


def test_a_refused_connection_is_an_error():
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    answer = WebhookHttp(True).post(f"http://127.0.0.1:{port}/", {}, b"{}")
    assert answer.http_status is None and "could not connect" in answer.error


def test_loopback_and_http_are_refused_unless_private_targets_are_allowed(serve):
    server = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    strict = WebhookHttp(False)
    assert "not a public address" in strict.post(f"https://127.0.0.1:{server.port}/", {}, b"{}").error
    assert "http://" in strict.post(f"http://127.0.0.1:{server.port}/", {}, b"{}").error
    assert server.requests == []


def certificate_for(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def test_https_connects_to_the_checked_address_with_the_urls_host_in_sni_host_and_certificate(serve, tmp_path):
    cert, key = certificate_for("hooks.example.com")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names = []
    server_tls.sni_callback = lambda sock, name, context: names.append(name)
    server = serve(b"HTTP/1.1 204 No Content\r\n\r\n", tls=server_tls)
    trusting = ssl.create_default_context(cafile=tmp_path / "cert.pem")

    # hooks.example.com resolves (in this test) to the local server: allowed for development.
    client = WebhookHttp(True, tls=trusting, resolve=resolving({"hooks.example.com": ["127.0.0.1"]}))
    answer = client.post(f"https://hooks.example.com:{server.port}/in", {}, b"{}")
    assert answer.http_status == 204, answer.error
    assert names == ["hooks.example.com"]
    assert f"Host: hooks.example.com:{server.port}" in server.requests[0].decode()

    # A name the certificate does not cover fails the TLS check: nothing is sent.
    other = WebhookHttp(True, tls=trusting, resolve=resolving({"elsewhere.example.com": ["127.0.0.1"]}))
    failed = other.post(f"https://elsewhere.example.com:{server.port}/in", {}, b"{}")
    assert failed.http_status is None and "certificate" in failed.error.lower()
    assert len(server.requests) == 1
