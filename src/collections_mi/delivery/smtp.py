"""Sending the stored ``email.eml`` over SMTP (STARTTLS, SSL or plain for a local relay).

Host, port, user and security come from params (``email.smtp``) and may be overridden by environment variables
``COLLECTIONS_MI_SMTP_HOST`` / ``_PORT`` / ``_USER`` / ``_SECURITY``; the password comes only from
``COLLECTIONS_MI_SMTP_PASSWORD``.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Sequence
from email import policy
from email.parser import BytesParser
from pathlib import Path

from collections_mi.config.addresses import bare_address, checked_addresses
from collections_mi.config.params import SmtpConfig
from collections_mi.core.errors import DeliveryError

PASSWORD_VARIABLE = "COLLECTIONS_MI_SMTP_PASSWORD"


def effective_smtp(config: SmtpConfig) -> SmtpConfig:
    overrides = {}
    for key in ("host", "port", "user", "security"):
        value = os.environ.get(f"COLLECTIONS_MI_SMTP_{key.upper()}")
        if value:
            overrides[key] = int(value) if key == "port" else value
    return config.model_copy(update=overrides) if overrides else config


def send_eml(
    path: Path,
    recipients: Sequence[str],
    config: SmtpConfig,
    sender: str | None = None,
    context: ssl.SSLContext | None = None,
) -> None:
    """Send ``path`` to ``recipients``. ``sender`` (params' ``email.sender``), when given, is the From header and
    the envelope sender; otherwise the stored email's own From (written from ``email.sender`` at pack time)."""
    if not path.is_file():
        raise DeliveryError(f"no email to send: {path} does not exist", hint="run `collections-mi pack` first")
    if not recipients:
        raise DeliveryError("no recipients", hint="pass --to a@example.com,b@example.com or set email.recipients")
    recipients = checked_addresses(recipients, "recipients (--to or email.recipients)")
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.SMTP).parse(handle)
    if sender is not None:
        sender = checked_addresses([sender], "email.sender")[0]
        del message["From"]
        message["From"] = sender
    envelope_sender = bare_address(sender or str(message["From"] or ""))
    del message["To"]
    message["To"] = ", ".join(recipients)
    config = effective_smtp(config)
    password = os.environ.get(PASSWORD_VARIABLE)
    context = context or ssl.create_default_context()
    try:
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        with client:
            client.ehlo()
            if config.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if config.user:
                if password is None:
                    raise DeliveryError(
                        f"SMTP user {config.user} needs a password",
                        hint=f"set the environment variable {PASSWORD_VARIABLE}",
                    )
                client.login(config.user, password)
            client.send_message(message, from_addr=envelope_sender, to_addrs=[bare_address(r) for r in recipients])
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP authentication failed for user {config.user} at {config.host}:{config.port} ({exc.smtp_code})",
            hint=f"check the user and {PASSWORD_VARIABLE}",
        ) from None
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        if isinstance(exc, DeliveryError):
            raise
        raise DeliveryError(
            f"could not send through {config.host}:{config.port} ({config.security}): {exc}",
            hint="check email.smtp host/port/security in params or COLLECTIONS_MI_SMTP_*",
        ) from None
