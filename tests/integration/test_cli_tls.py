"""plaza-cli (the C client library) over wss:// to a TLS plaza.

The certificate is self-signed and made at test time with the openssl
command line, as an operator would for a test server. plaza-cli verifies
the server by default: without the certificate as its CA file the
connection is refused (exit 1, a message naming the reason and the two
ways out), with `--ca-file` it works, and `--insecure` skips the check. The
name in the URL must be one the certificate names (SNI and hostname check
for a DNS name, the address for an IP literal).
"""

import os
import subprocess

import pytest

from test_c_client import clis, run_c_test  # noqa: F401 (fixture)
from test_tls import TlsPlaza


def make_cert(dirpath, san):
    """A self-signed P-256 certificate with subjectAltName `san`."""
    os.makedirs(dirpath, exist_ok=True)
    cert, key = os.path.join(dirpath, "cert.pem"), os.path.join(dirpath, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=plaza-test",
                    "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_plaza(plaza, request, tmp_path):
    """A TLS plaza (checked healthy over https) with a certificate for
    `san`; the plaza fixture's teardown stops it (exit 0 wanted)."""
    def start(san="IP:127.0.0.1,DNS:localhost"):
        cert, key = make_cert(str(tmp_path / "tls"), san)
        srv = TlsPlaza([], cert, key)
        request.node._plaza_servers.append(srv)
        return srv.start(), cert
    return start


def wss(srv, host="127.0.0.1"):
    return f"wss://{host}:{srv.port}/ws"


def test_cli_chats_over_wss_with_the_ca_file(tls_plaza, clis):
    srv, cert = tls_plaza()
    bob = clis(wss(srv), "secure", "bob", "--ca-file", cert)
    bob.expect(r"^room secure \(1 member\): bob#\d+$")
    alice = clis(wss(srv, "localhost"), "secure", "alice", "--ca-file", cert)
    alice.expect(r"^room secure \(2 members\): ")
    bob.expect(r"^joined: alice#\d+$")
    alice.send("over TLS")
    bob.expect(r"^\[alice\] over TLS$")
    alice.send("/quit")
    alice.expect(r"^closed: 1000")
    assert alice.wait() == 0
    bob.expect(r"^left: alice#\d+$")
    bob.eof()
    assert bob.wait() == 0


def test_cli_refuses_an_untrusted_certificate(tls_plaza, clis):
    srv, _cert = tls_plaza()
    cli = clis(wss(srv), "secure", "eve")
    m = cli.expect(r"cannot connect to wss://\S+: (.*)")
    assert "self-signed certificate" in m.group(1), m.group(0)
    assert "--ca-file" in m.group(1) and "--insecure" in m.group(1), m.group(0)
    assert cli.wait() == 1
    assert not any(line.startswith("welcome") for line in cli.seen), cli.seen


@pytest.mark.parametrize("host,san,why", [
    ("localhost", "IP:127.0.0.1", "hostname mismatch"),
    ("127.0.0.1", "DNS:localhost", "IP address mismatch"),
])
def test_cli_refuses_a_certificate_for_another_name(tls_plaza, clis, host, san, why):
    """Trusted, but issued for another name: refused all the same."""
    srv, cert = tls_plaza(san)
    cli = clis(wss(srv, host), "secure", "eve", "--ca-file", cert)
    m = cli.expect(r"cannot connect to wss://\S+: (.*)")
    assert why in m.group(1), m.group(0)
    assert cli.wait() == 1


def test_cli_insecure_skips_the_check(tls_plaza, clis):
    srv, _cert = tls_plaza("DNS:elsewhere.example")
    cli = clis(wss(srv), "secure", "dev", "--insecure")
    cli.expect(r"^room secure \(1 member\): dev#\d+$")
    cli.send("/quit")
    assert cli.wait() == 0


def test_cli_bad_ca_file_is_a_usage_error(tls_plaza, clis, tmp_path):
    srv, _cert = tls_plaza()
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for ca in (str(tmp_path / "missing.pem"), str(junk)):
        cli = clis(wss(srv), "secure", "x", "--ca-file", ca)
        cli.expect(rf"cannot load the CA file {ca}$")
        assert cli.wait() == 2


def test_cli_plain_ws_to_a_tls_port_fails_cleanly(tls_plaza, clis):
    srv, _cert = tls_plaza()
    cli = clis(f"ws://127.0.0.1:{srv.port}/ws", "secure", "x")
    cli.expect(r"cannot connect to ws://")
    assert cli.wait() == 1


def test_c_client_memory_per_tls_connection(tls_plaza):
    """A wss:// client's heap (measured 47,303 bytes at 2,000 clients, most
    of it OpenSSL's connection state): bounded, so idle record buffers stay
    released (SSL_MODE_RELEASE_BUFFERS; 64.5 KB without)."""
    srv, cert = tls_plaza()
    out = run_c_test("c_memory", wss(srv), "300", str(56 * 1024), cert)
    assert "bytes of heap per client" in out
