"""A real SMTP server (aiosmtpd, RFC 5321) for the mail tests (../smtp.rs).

Listens on 127.0.0.1 at a free port and prints `port N`; then, for each message taken,
one JSON line read by Python's own MIME parser (`email`, RFC 5322 / 2045-2047 / 2231):
the envelope, the decoded subject, From and To, the text, and each attachment's name,
type and bytes (base64). With `refuse` as argument every recipient is answered
`451 4.3.0 try again later`. Runs until its standard input closes.
"""

import base64
import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller

REFUSE = len(sys.argv) > 1 and sys.argv[1] == "refuse"


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if REFUSE:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        files = [
            {
                "name": part.get_filename(),
                "type": part.get_content_type(),
                "data": base64.b64encode(part.get_payload(decode=True)).decode(),
            }
            for part in msg.iter_attachments()
        ]
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "from": str(msg["From"]),
                    "to": str(msg["To"]),
                    "subject": str(msg["Subject"]),
                    "content_type": msg.get_content_type(),
                    "text": text.get_content() if text is not None else None,
                    "attachments": files,
                    "defects": [type(d).__name__ for d in msg.defects],
                },
                ensure_ascii=False,
            ),
            flush=True,
        )
        return "250 OK"


# A free port (aiosmtpd's controller checks the port it was given by connecting to it).
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
controller = Controller(Sink(), hostname="127.0.0.1", port=port)
controller.start()
print(f"port {port}", flush=True)
sys.stdin.read()
controller.stop()
