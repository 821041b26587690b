"""`adjudicator ncpdp serve` with TLS beside the session's server (same ledger, Redis and
worker), as deployed (Procfile: `ncpdp`): a switch's client certificate, whose CN names a
registered switch, bills through it; the claim is the JSON API's, billed by that switch; a
certificate naming no switch is refused without an answer."""

from __future__ import annotations

import json
import queue
import random
import re
import signal
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from adjudicator.adapters.d0_framing import Deframer
from tests.e2e.conftest import BIN, Server
from tests.e2e.d0_helpers import (
    ETX,
    PATIENCE,
    STX,
    claim_with_authorization,
    dz_billing,
    dz_parse,
    dz_pricing,
    dz_status,
)
from tests.e2e.helpers import DEMO_PHARMACY_NPI, claims_of, enroll

pytestmark = pytest.mark.e2e


class Tls:
    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.server_pem = folder / "server.pem"
        self.ca_pem = folder / "ca.pem"
        self.ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
            str(self.server_pem)
        )
        self.ca.cert_pem.write_to_path(str(self.ca_pem))

    def client(self, cn: str) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        self.ca.issue_cert(f"{cn}.example", common_name=cn).configure_cert(context)
        return context


@pytest.fixture(scope="module")
def tls_port(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Tls]]:
    """`adjudicator ncpdp serve` with TLS on a free loopback port, on the server's ledger."""
    tls = Tls(tmp_path_factory.mktemp("d0-tls"))
    files = ("--tls-cert", str(tls.server_pem), "--tls-key", str(tls.server_pem))
    process = subprocess.Popen(
        [str(BIN / "adjudicator"), "ncpdp", "serve", "--host", "127.0.0.1", "--port", "0",
         *files, "--client-ca", str(tls.ca_pem)],
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    said: queue.Queue[str] = queue.Queue()
    stderr = process.stderr
    assert stderr is not None
    threading.Thread(target=lambda: [said.put(line) for line in stderr], daemon=True).start()
    try:
        while not (found := re.search(r"D\.0 over TCP on [^ ]+:(\d+)", said.get(timeout=60))):
            pass
        yield int(found.group(1)), tls
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def exchange(port: int, context: ssl.SSLContext, body: bytes) -> bytes | None:
    """One frame over TLS; its answer, or None when the server closed without one."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    try:
        with context.wrap_socket(raw, server_hostname="localhost") as client:
            client.sendall(STX + body + ETX)
            deframer = Deframer()
            while True:
                data = client.recv(65536)
                if not data:
                    return None
                frames = deframer.feed(data)
                if frames:
                    return frames[0]
    except (ssl.SSLError, ConnectionResetError):
        return None  # refused during or right after the handshake


def test_a_registered_switch_bills_over_tls_and_the_claim_is_the_json_apis(
    server: Server, tls_port: tuple[int, Tls]
) -> None:
    port, tls = tls_port
    name = f"tls-switch-{random.randint(1, 10**6)}"
    server.cli("switches", "add", "--name", name)
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    answer = exchange(
        port, tls.client(name), dz_billing(cardholder, DEMO_PHARMACY_NPI, rx="60606", owed=70_000)
    )
    assert answer is not None
    response = dz_parse(answer)
    assert dz_status(response)["AN"] == "P"
    shown = claim_with_authorization(server, cardholder, dz_status(response)["F3"])
    assert shown["channel"] == "ncpdp"
    assert dz_pricing(response)["F9"] == 70_000 and shown["amounts"]["program_paid"] == "700.00"
    assert f"switch:{name}" in json.dumps(shown["events"])  # the hub sees who billed it


def test_a_certificate_naming_no_registered_switch_gets_no_answer(
    server: Server, tls_port: tuple[int, Tls]
) -> None:
    port, tls = tls_port
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    body = dz_billing(cardholder, DEMO_PHARMACY_NPI, rx="60607")
    assert exchange(port, tls.client("nobody-registered-this"), body) is None
    assert claims_of(server, cardholder) == []
