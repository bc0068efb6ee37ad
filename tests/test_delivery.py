"""Leadership email and SMTP sending: the .eml structure, escaping of data text, and a real local SMTP server
(aiosmtpd) for success, authentication failure and an unreachable host."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import zipfile
from email import policy
from email.parser import BytesParser
from io import BytesIO
from pathlib import Path

import pytest

from collections_mi.config import SmtpConfig
from collections_mi.delivery.smtp import DeliveryError, send_eml
from conftest import ROOT, write_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ledger (with a customer named <script>alert(1)</script>) published through the CLI."""
    work = tmp_path_factory.mktemp("tinypack")
    ledger = work / "ledger"
    shutil.copytree(ROOT / "tests" / "fixtures" / "tiny_ledger", ledger)
    params = write_params(work, ledger)
    run = subprocess.run([sys.executable, "-m", "collections_mi", "pack", "--params", str(params), "--out",
                          str(work / "reports")], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "GX_ANALYTICS_ENABLED": "False"})
    assert run.returncode == 0, run.stderr
    return work / "reports" / "2026-10"


def test_email_is_multipart_with_html_text_inline_charts_and_the_zipped_pack(tiny_pack: Path) -> None:
    message = BytesParser(policy=policy.default).parse((tiny_pack / "email.eml").open("rb"))
    assert message.is_multipart() and "2026-10" in message["Subject"]
    html_body = message.get_body(("html",)).get_content()
    text_body = message.get_body(("plain",)).get_content()
    assert "2,322.50" in html_body and "2,322.50" in text_body  # the same AR as kpis.json, rounded for display
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    warnings = json.loads((tiny_pack / "run.json").read_text())["warnings"]
    if shutil.which("chromium"):
        assert len(images) >= 3 and not warnings
        for image in images:
            assert image["Content-ID"].strip("<>") in html_body
            assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert images == [] and "chromium" in warnings[0]
    attachment = next(p for p in message.iter_attachments() if p.get_content_type() == "application/zip")
    names = zipfile.ZipFile(BytesIO(attachment.get_content())).namelist()
    assert "index.html" in names and "html/01_aging.html" in names


def test_customer_names_are_escaped_everywhere(tiny_pack: Path) -> None:
    pages = [(tiny_pack / "html" / "01_aging.html").read_text(), (tiny_pack / "html" / "02_dso.html").read_text()]
    message = BytesParser(policy=policy.default).parse((tiny_pack / "email.eml").open("rb"))
    attachment = next(p for p in message.iter_attachments() if p.get_content_type() == "application/zip")
    archive = zipfile.ZipFile(BytesIO(attachment.get_content()))
    pages += [archive.read(name).decode() for name in archive.namelist()]
    pages.append(message.get_body(("html",)).get_content())
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in page for page in pages)
    for page in pages:
        assert "<script>alert(1)</script>" not in page


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append(envelope)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"mi" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_send_delivers_through_a_real_smtp_server(tiny_pack: Path, smtp_server, monkeypatch) -> None:
    port, received = smtp_server
    monkeypatch.setenv("COLLECTIONS_MI_SMTP_PASSWORD", "s3cret")
    config = SmtpConfig(host="127.0.0.1", port=port, user="mi", security="none")
    send_eml(tiny_pack / "email.eml", ["cfo@example.com", "ar@example.com"], config, sender="mi@example.com")
    assert len(received) == 1
    assert received[0].rcpt_tos == ["cfo@example.com", "ar@example.com"]
    parsed = BytesParser(policy=policy.default).parsebytes(received[0].content)
    assert parsed["To"] == "cfo@example.com, ar@example.com" and parsed.get_body(("html",)) is not None


def test_send_rejects_a_wrong_password_with_a_clear_error(tiny_pack: Path, smtp_server, monkeypatch) -> None:
    port, received = smtp_server
    monkeypatch.setenv("COLLECTIONS_MI_SMTP_PASSWORD", "wrong")
    with pytest.raises(DeliveryError, match="authentication failed"):
        send_eml(tiny_pack / "email.eml", ["cfo@example.com"], SmtpConfig(host="127.0.0.1", port=port, user="mi",
                                                                           security="none"))
    assert received == []


def test_send_command_exits_non_zero_for_an_unreachable_host(tiny_pack: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "collections_mi", "send", "--period", "2026-10", "--to", "a@x.example",
                          "--out", str(tiny_pack.parent)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLLECTIONS_MI_SMTP_HOST": "127.0.0.1",
                              "COLLECTIONS_MI_SMTP_PORT": str(_free_port()), "COLLECTIONS_MI_SMTP_SECURITY": "none"})
    assert run.returncode == 5
    assert "could not send through 127.0.0.1" in run.stderr
