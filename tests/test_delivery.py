"""Leadership email and SMTP sending: the .eml structure, escaping of data text, and a real local SMTP server
(aiosmtpd) for success, authentication failure and an unreachable host."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email import policy
from email.parser import BytesParser
from io import BytesIO
from pathlib import Path

import pytest

from collections_mi.config.params import SmtpConfig
from collections_mi.core.errors import ConfigError, DeliveryError
from collections_mi.delivery.smtp import send_eml

from conftest import ROOT, SharedPack, free_port, shared_pack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_pack(tiny_published: SharedPack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ledger (with a customer named <script>alert(1)</script>) published through the CLI (the run's shared
    tiny pack, in a copy of this module's own)."""
    _, out = tiny_published.private(tmp_path_factory.mktemp("tinypack"))
    return out / "2026-10"


def test_email_is_multipart_with_html_text_inline_charts_and_the_pdf_under_2_mb(tiny_pack: Path) -> None:
    raw = (tiny_pack / "email.eml").read_bytes()
    assert len(raw) <= 2_000_000
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert message.is_multipart() and "October 2026" in message["Subject"]
    html_body = message.get_body(("html",)).get_content()
    text_body = message.get_body(("plain",)).get_content()
    assert "USD 2.3k" in html_body and "USD 2.3k" in text_body  # AR 2,322.50 (kpis.json) scaled for reading
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    warnings = json.loads((tiny_pack / "run.json").read_text())["warnings"]
    attachments = {p.get_filename(): p for p in message.iter_attachments()}
    if shutil.which("chromium"):
        assert len(images) >= 3 and not warnings
        for image in images:
            assert image["Content-ID"].strip("<>") in html_body
            assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
        assert attachments["pack.pdf"].get_content() == (tiny_pack / "pack.pdf").read_bytes()
        assert "The board pack is attached: pack.pdf" in text_body
    else:
        assert images == [] and "chromium" in warnings[0].lower() and "pack.pdf" not in attachments
    # the HTML pack with its plotly.js (1.5 MB zipped, 2 MB in base64) does not fit: the body says where it is
    assert "collections-pack-2026-10.zip" not in attachments
    assert "The interactive pack (charts to hover and zoom) is in the report folder: 2026-10/index.html." in text_body


def test_the_zip_opens_offline_with_the_shared_plotly_js(tiny_pack: Path) -> None:
    from collections_mi.delivery.email import zip_pack

    names = zipfile.ZipFile(BytesIO(zip_pack(tiny_pack))).namelist()
    assert {"index.html", "html/01_aging.html", "html/plotly.min.js"} <= set(names)


def test_email_leaves_out_the_pdf_then_charts_last_first_to_stay_under_the_limit(
    tiny_pack: Path, tmp_path: Path
) -> None:
    from collections_mi.config.params import load_params
    from collections_mi.delivery.email import build_email
    from collections_mi.store.results import read_results

    folder = tmp_path / "2026-10"
    shutil.copytree(tiny_pack, folder)
    (folder / "pack.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(1_600_000))  # a PDF too big to mail
    params = load_params(folder / "params.yaml")
    results = read_results(folder)
    sent = BytesParser(policy=policy.default).parse((tiny_pack / "email.eml").open("rb"))
    images = {p.get_filename()[:-4]: p.get_content() for p in sent.walk() if p.get_content_type() == "image/png"}
    if len(images) < 3:
        pytest.skip("no chromium: the email has no charts to leave out")
    titles = {name: f"Chart {name}" for name in images}
    message = build_email(folder, results, params, validation="passed", images=images, titles=titles)
    assert len(bytes(message)) <= 2_000_000
    assert [p.get_filename() for p in message.iter_attachments()] == []
    assert len([p for p in message.walk() if p.get_content_type() == "image/png"]) == len(images)
    text = message.get_body(("plain",)).get_content()
    assert "Left out to keep this email under 2.0 MB: pack.pdf (1.6 MB; in the report folder as 2026-10/pack.pdf)" in (
        " ".join(text.split())
    )
    # a limit the charts do not all fit: they go too, the last first, each named in the body
    last = list(images)[-1]
    small = len(bytes(message)) - len(images[last])  # the base64 of the last chart alone is 4/3 of its size
    message = build_email(folder, results, params, validation="passed", images=images, titles=titles, limit=small)
    assert len(bytes(message)) <= small
    kept = [p.get_filename() for p in message.walk() if p.get_content_type() == "image/png"]
    assert kept == [f"{name}.png" for name in images][:-1]
    html_body = message.get_body(("html",)).get_content()
    assert f"the chart “Chart {last}”" in html_body


def test_customer_names_are_escaped_everywhere(tiny_pack: Path) -> None:
    pages = [(tiny_pack / "html" / "01_aging.html").read_text(), (tiny_pack / "html" / "02_dso.html").read_text()]
    message = BytesParser(policy=policy.default).parse((tiny_pack / "email.eml").open("rb"))
    pages.append(message.get_body(("html",)).get_content())
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in page for page in pages)
    for page in pages:
        assert "<script>alert(1)</script>" not in page


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
        send_eml(
            tiny_pack / "email.eml",
            ["cfo@example.com"],
            SmtpConfig(host="127.0.0.1", port=port, user="mi", security="none"),
        )
    assert received == []


def test_send_command_exits_non_zero_for_an_unreachable_host(tiny_pack: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "collections_mi",
            "send",
            "--period",
            "2026-10",
            "--to",
            "a@x.example",
            "--out",
            str(tiny_pack.parent),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "COLLECTIONS_MI_SMTP_HOST": "127.0.0.1",
            "COLLECTIONS_MI_SMTP_PORT": str(free_port()),
            "COLLECTIONS_MI_SMTP_SECURITY": "none",
        },
    )
    assert run.returncode == 5
    assert "could not send through 127.0.0.1" in run.stderr


# --------------------------------------------------------------------------- hostile params text (issue 17, item 4)

#: Markdown link and image, and HTML: shown as the text it is on every page, never a live link, image or markup
HOSTILE_COMPANY = "[x](javascript:alert(1)) ![i](http://example.com/a.png) <b>b</b>"
SENDER = "Collections MI <mi@example.com>"
RECIPIENTS = ["cfo@example.com", "AR team <ar@example.com>"]


@pytest.fixture(scope="module")
def hostile_pack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny ledger published with a hostile report.company and a configured sender: (params, period folder).
    Published once per run, copied for this module."""
    pack = shared_pack(
        tmp_path_factory,
        "hostile-pack",
        report={"company": HOSTILE_COMPANY},
        email={"sender": SENDER, "recipients": RECIPIENTS},
    )
    params, out = pack.private(tmp_path_factory.mktemp("hostile"))
    return params, out / "2026-10"


def _markup_problems(name: str, page: str) -> list[str]:
    """Where the hostile company is live markup in ``page`` rather than text: anything left of it once its escaped
    form (and the inline plotly.js bundle, whose sanitiser names javascript:) is taken out."""
    import html

    from plotly.offline import get_plotlyjs

    rest = page.replace(get_plotlyjs(), "").replace(html.escape(HOSTILE_COMPANY, quote=False), "")
    rest = re.sub(r'<img src="cid:[^"<>]+"', "", rest)  # the email's own charts, attached inline
    return [
        f"{name}: {needle!r} outside escaped text"
        for needle in ("javascript:", "http://example.com", "<img", "<b>b</b>", "](")
        if needle in rest
    ]


def test_report_company_is_text_never_markdown_or_html_on_any_page_or_in_the_email(hostile_pack) -> None:
    import html

    from collections_mi.delivery.email import zip_pack

    _, folder = hostile_pack
    pages = {
        p.name: p.read_text(encoding="utf-8")
        for p in [folder / "index.html", *sorted((folder / "html").glob("*.html"))]
    }
    assert len(pages) == 5  # the index and the four sections of a ledger without loans or agencies
    message = BytesParser(policy=policy.default).parse((folder / "email.eml").open("rb"))
    pages["email (html)"] = message.get_body(("html",)).get_content()
    archive = zipfile.ZipFile(BytesIO(zip_pack(folder)))  # what the email attaches when it fits
    pages.update({f"zip:{n}": archive.read(n).decode() for n in archive.namelist() if n.endswith(".html")})
    escaped = html.escape(HOSTILE_COMPANY, quote=False)
    for name, page in pages.items():
        assert escaped in page, f"{name}: the company is not shown (escaped)"
    assert [problem for name, page in pages.items() for problem in _markup_problems(name, page)] == []
    # the plain-text body and the subject are plain text: the company as written, on one line
    assert message.get_body(("plain",)).get_content().startswith(f"{HOSTILE_COMPANY} · Collections MI · October 2026 ")
    subject = " ".join(str(message["Subject"]).split())  # unfolded (Python's decoder doubles a space at "·")
    assert subject.startswith(f"{HOSTILE_COMPANY} · Collections MI · October 2026 · AR ")


def test_the_exploration_notebook_shows_the_company_and_customer_names_as_text(hostile_pack, tmp_path: Path) -> None:
    """explore_receivables wrote the company and a customer's name as Markdown; now escaped HTML."""
    import nbformat

    from collections_mi.runs.notebook_worker import execute_notebook_file

    params, folder = hostile_pack
    target = tmp_path / "receivables.ipynb"
    execute_notebook_file(
        str(ROOT / "notebooks" / "explore" / "explore_receivables.ipynb"),
        str(target),
        {"params_path": str(params), "history_dir": str(folder.parent / "history")},
        cwd=str(ROOT),
    )
    outputs = [
        o for cell in nbformat.read(target, as_version=4).cells if cell.cell_type == "code" for o in cell.outputs
    ]
    assert not [o for o in outputs if "text/markdown" in o.get("data", {})]
    shown = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "&lt;b&gt;b&lt;/b&gt;" in shown and "Open invoices of " in shown
    assert _markup_problems("explore_receivables", shown) == []


def test_email_sender_is_the_from_header_and_the_recipients_the_to_header(hostile_pack) -> None:
    _, folder = hostile_pack
    message = BytesParser(policy=policy.default).parse((folder / "email.eml").open("rb"))
    assert str(message["From"]) == SENDER
    assert str(message["To"]) == "cfo@example.com, AR team <ar@example.com>"


def test_no_customer_name_reaches_a_header(tiny_pack: Path) -> None:
    """The tiny ledger's customers (one is named <script>alert(1)</script>) appear in the attached pages (escaped:
    test_customer_names_are_escaped_everywhere), in no header."""
    import csv

    names = [
        row["name"]
        for row in csv.DictReader(
            (ROOT / "tests" / "fixtures" / "tiny_ledger" / "customers.csv").open(encoding="utf-8")
        )
    ]
    message = BytesParser(policy=policy.default).parse((tiny_pack / "email.eml").open("rb"))
    headers = [f"{key}: {value}" for part in message.walk() for key, value in part.items()]
    assert "<script>alert(1)</script>" in names and len(headers) > 10
    assert [(name, header) for name in names for header in headers if name in header] == []


def test_a_line_break_that_bypassed_validation_never_reaches_a_header(tiny_pack: Path) -> None:
    """Params are refused at load with a line break; a caller that builds the email itself still gets a one-line
    subject, and a sender or recipient with a line break is a ConfigError naming it, not a crash."""
    import datetime as dt

    from collections_mi.config.params import load_params
    from collections_mi.delivery.email import build_email
    from collections_mi.store.results import read_results

    params = load_params(next(tiny_pack.parent.parent.glob("*.yaml")))
    hostile = params.model_copy(
        update={"report": params.report.model_copy(update={"company": "Acme\r\nBcc: leak@evil.example\n\nbody"})}
    )
    results = read_results(tiny_pack)
    message = build_email(
        tiny_pack,
        results,
        hostile,
        validation="passed",
        images={},
        titles={},
        now=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    )
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message))
    assert " ".join(str(parsed["Subject"]).split()).startswith(
        "Acme Bcc: leak@evil.example body · Collections MI · October 2026 · AR "
    )
    assert parsed["Bcc"] is None and str(parsed["From"]) == "collections-mi@localhost"
    with pytest.raises(ConfigError, match=r"^email.sender: contains a line break \(character U\+000A at position 15\)"):
        build_email(
            tiny_pack,
            results,
            params,
            validation="passed",
            images={},
            titles={},
            sender="mi@example.com\nBcc: leak@evil.example",
        )
    with pytest.raises(ConfigError, match=r"^email.recipients, address 2: contains a line break \(character U\+000D"):
        build_email(
            tiny_pack,
            results,
            params,
            validation="passed",
            images={},
            titles={},
            recipients=["cfo@example.com", "ar@example.com\r\nBcc: leak@evil.example"],
        )


def test_send_uses_email_sender_as_from_and_envelope_and_refuses_a_broken_recipient(
    hostile_pack, smtp_server, monkeypatch
) -> None:
    port, received = smtp_server
    _, folder = hostile_pack
    monkeypatch.delenv("COLLECTIONS_MI_SMTP_PASSWORD", raising=False)
    config = SmtpConfig(host="127.0.0.1", port=port, security="none")
    send_eml(folder / "email.eml", ["cfo@example.com"], config)  # no params: the email's own From
    send_eml(folder / "email.eml", ["AR team <ar@example.com>"], config, sender="Treasury <treasury@example.com>")
    assert [(e.mail_from, e.rcpt_tos) for e in received] == [
        ("mi@example.com", ["cfo@example.com"]),
        ("treasury@example.com", ["ar@example.com"]),
    ]
    froms = [str(BytesParser(policy=policy.default).parsebytes(e.content)["From"]) for e in received]
    assert froms == [SENDER, "Treasury <treasury@example.com>"]
    with pytest.raises(ConfigError, match=r"address 2: contains a line break \(character U\+000D at position 15\)"):
        send_eml(folder / "email.eml", ["cfo@example.com", "ar@example.com\r\nBcc: leak@evil.example"], config)
    assert len(received) == 2


def _one_chart() -> list:
    import plotly.graph_objects as go

    from collections_mi.delivery.email import Chart

    return [Chart("ar", "AR", go.Figure(go.Bar(x=["a"], y=[1])))]


def _drawing_beside(browser: Path) -> tuple:
    """render_pngs with the "browser" at ``browser`` in a thread of its own, as the pack draws the email's charts
    beside its notebooks: (the thread, where its exception lands as "error")."""
    import threading

    from collections_mi.delivery.email import render_pngs

    outcome: dict[str, BaseException] = {}

    def draw() -> None:
        try:
            render_pngs(_one_chart(), str(browser))
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    return thread, outcome


def test_a_browser_that_cannot_start_fails_the_charts_instead_of_hanging(tmp_path: Path) -> None:
    """Kaleido's sync server waited for ever when its browser died at start (a pack hung beside its notebooks):
    the charts are drawn on a loop of their own, and a browser that exits at once is an error the email reports
    (\"email charts omitted\"), not a wait. The thread's join limit only turns a hang into a failure here."""
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\nexit 1\n")
    browser.chmod(0o755)
    drawing, outcome = _drawing_beside(browser)
    drawing.join(timeout=120)
    assert not drawing.is_alive(), "render_pngs hung on a browser that cannot start"
    assert "browser" in str(outcome["error"]).lower(), outcome


def test_a_stop_asked_for_ends_the_charts_while_the_browser_hangs(tmp_path: Path, monkeypatch) -> None:
    """The pack draws the email's charts in a thread beside its notebooks, which Ctrl-C does not interrupt: with a
    stop asked for, drawing ends (KeyboardInterrupt) instead of waiting for a browser that never answers — the
    pack's stop would otherwise wait up to CHART_SECONDS. The join limit only turns a hang into a failure here."""
    from collections_mi.core import interrupts

    browser = tmp_path / "chromium"
    browser.write_text(f"#!/bin/sh\necho $$ > {tmp_path / 'pid'}\nexec sleep 600\n")  # starts, never answers
    browser.chmod(0o755)
    monkeypatch.setattr(interrupts, "_RECEIVED", [])
    drawing, outcome = _drawing_beside(browser)
    drawing.join(timeout=3)
    assert drawing.is_alive()  # waiting for the browser
    interrupts._RECEIVED.append(2)  # what the SIGINT handler records
    drawing.join(timeout=60)
    assert not drawing.is_alive(), "the charts went on after a stop"
    assert isinstance(outcome["error"], KeyboardInterrupt)
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()  # no browser left


@pytest.mark.skipif(not shutil.which("chromium"), reason="no chromium (make installs Debian's chromium)")
def test_a_stop_while_chromium_starts_leaves_nothing_in_the_temporary_folder(tmp_path: Path, monkeypatch) -> None:
    """A stop asked for while Chromium starts (the pack stopped during its email charts): the browser is ended and
    the folder Chromium made in $TMPDIR (org.chromium.Chromium.*, found through its profile's SingletonSocket) is
    removed — the suite's SIGINT test found one left behind."""
    from collections_mi.core import interrupts
    from collections_mi.delivery import email

    temporary = Path(tempfile.mkdtemp(prefix="cmi-test-", dir="/tmp"))  # short: Chromium's sockets live there
    try:
        monkeypatch.setenv("TMPDIR", str(temporary))
        monkeypatch.setattr("tempfile.tempdir", None)
        monkeypatch.setattr(interrupts, "_RECEIVED", [2])  # the stop is asked for as the browser starts
        with pytest.raises(KeyboardInterrupt):
            email.render_pngs(_one_chart(), shutil.which("chromium"))
        assert sorted(p.name for p in temporary.iterdir()) == []
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
