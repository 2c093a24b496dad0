"""The local stack's mail sink (services/mail_sink.py), started as `make up` starts it: every
message the API would send a relay is kept whole as a .eml file under the stack's mail/."""

from __future__ import annotations

import email
import email.policy
import smtplib
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.common.settings import REPO_ROOT
from tests.integration.processes import free_port

pytestmark = pytest.mark.integration
STACK = str(REPO_ROOT / "deploy" / "stack.sh")


def test_the_mail_sink_keeps_each_message_as_an_eml_file(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "IOC_STACK_DIR": str(tmp_path),
        "IOC_MAIL_PORT": str(port),
    }

    def stack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [STACK, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    up = stack("up", "mail")
    try:
        assert up.returncode == 0, up.stderr
        assert "mail      running" in stack("status").stdout
        sent = EmailMessage()
        sent["Subject"] = "Phiếu nhắc việc số 7/PNV-IOC: Chậm gửi số liệu"
        sent["From"] = "ioc@camau.gov.vn"
        sent["To"] = "vanphong.syt@camau.gov.vn"
        sent.set_content("Kính gửi: Sở Y tế\n\nĐề nghị gửi số liệu.")
        sent.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(sent)
            smtp.send_message(sent, to_addrs=["chidao.so@camau.gov.vn"])
        # Written before the sink answers 250: there as soon as the message is accepted.
        files = sorted((tmp_path / "mail").glob("*.eml"))
        assert len(files) == 2
        kept = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        assert isinstance(kept, EmailMessage)
        assert kept["Subject"] == sent["Subject"]
        assert kept["To"] == "vanphong.syt@camau.gov.vn"
        body = kept.get_body(preferencelist=("plain",))
        assert body is not None
        assert "Kính gửi: Sở Y tế" in body.get_content()
        [attachment] = list(kept.iter_attachments())
        assert attachment.get_content() == b"%PDF-1.4 ..."
        assert not list((tmp_path / "mail").glob(".*"))  # no half-written file left
    finally:
        down = stack("down", "mail")
    assert down.returncode == 0, down.stderr
    assert "mail      stopped" in stack("status").stdout
