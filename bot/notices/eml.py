"""A letter as a ready-to-send email file (.eml, RFC 5322, UTF-8); nothing here sends anything.

The business opens the file in its mail program, or hands the folder to whatever sends its mail, and it goes
out from the company's own address. `X-Unsent: 1` makes Outlook open it as a draft ready to send.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import cached_property

SUBJECT = "Notice of Data Breach"
CRLF = "\r\n"
# What most mail systems accept: one @, no spaces, a dotted domain whose last label has letters.
_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
                      r"[A-Za-z]{2,63}$")


def email_problem(address: str) -> str | None:
    """Why `address` cannot receive the letter (`"no @"`), or None when it looks deliverable.

    An international domain is accepted in its ASCII form (`xn--…`); a non-ASCII name before the @ is
    refused, because few mail servers accept one.
    """
    if len(address) > 254:
        return "longer than 254 characters"
    if address.count("@") != 1:
        return "no @" if "@" not in address else "more than one @"
    local, domain = address.split("@")
    if not domain:
        return "nothing after the @"
    if not local or len(local) > 64:
        return "nothing before the @" if not local else "more than 64 characters before the @"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "a misplaced dot before the @"
    if not local.isascii():
        return "a letter beyond ASCII before the @ (few mail servers accept one)"
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return f"the domain {domain!r} is not a valid domain name"
    if not _ADDRESS.match(f"{local}@{ascii_domain}"):
        return "not of the form name@example.com"
    return None


def ascii_address(address: str) -> str:
    """`address` with its domain in the ASCII form mail headers need (`zoe@bücher.de` → `zoe@xn--bcher-kva.de`)."""
    local, domain = address.rsplit("@", 1)
    return f"{local}@{domain.encode('idna').decode('ascii')}"


@dataclass(frozen=True)
class Sender:
    """Who the letters come from, and the parts every message of one merge shares."""

    company: str | None
    address: str
    date: datetime
    run_id: str

    @cached_property
    def from_header(self) -> bytes:
        return f"From: {_mailbox('From', self.company or '', ascii_address(self.address))}\r\n".encode("ascii")

    @cached_property
    def common_headers(self) -> bytes:
        """Subject, Date and the MIME headers: the same in every message of the merge."""
        subject = f"{SUBJECT} from {self.company}" if self.company else SUBJECT
        lines = [
            f"Subject: {_encoded('Subject', subject)}",
            f"Date: {format_datetime(self.date)}",
            "X-Unsent: 1",
            "MIME-Version: 1.0",
            'Content-Type: text/plain; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
        ]
        return "\r\n".join(lines).encode("ascii") + b"\r\n"


def _encoded(header: str, text: str) -> str:
    """A header value folded to 78 columns; non-ASCII text as RFC 2047 encoded words."""
    charset = "us-ascii" if text.isascii() else "utf-8"
    return Header(text, charset, header_name=header).encode(linesep=CRLF)


def _mailbox(header: str, name: str, address: str) -> str:
    """`"Name" <address>`; a name beyond ASCII as encoded words, folded over lines when it is long."""
    name = " ".join(name.split())
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))  # quotes a name with a comma or other specials
    return f"{Header(name, 'utf-8', header_name=header).encode(linesep=CRLF)} <{address}>"


def eml(sender: Sender, *, to_name: str, to_address: str, body: str, row: int) -> bytes:
    """The message for one client, whose address `email_problem` accepted; `body` is the plain-text letter.

    Written by hand rather than with `email.message` (ten times faster, which a merge of thousands feels);
    the tests read every kind of message back with Python's `email` package.
    """
    to = _mailbox("To", to_name, ascii_address(to_address))
    domain = ascii_address(sender.address).rsplit("@", 1)[1]
    # Unique per merge and row, and traceable back to the manifest.
    message_id = f"<breachroom.{sender.run_id}.{row}@{domain}>"
    text = body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return b"".join((
        sender.from_header,
        f"To: {to}\r\n".encode("ascii"),
        sender.common_headers,
        f"Message-ID: {message_id}\r\n\r\n".encode("ascii"),
        binascii.b2a_qp(text, istext=True),
    ))
