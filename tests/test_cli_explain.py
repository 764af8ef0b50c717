"""`zeekslam explain`: a history decoded in plain words, with the label it implies."""

from click.testing import CliRunner

from zeekslam.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_explain_the_seed_case():
    r = run("explain", "ShAfFa", "--state", "SF", "--duration", "0.003")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == [
        "history ShAfFa, conn_state SF",
        "   1. S  client (originator) sent SYN without ACK",
        "   2. h  server (responder) sent SYN+ACK (handshake reply)",
        "   3. A  client (originator) sent pure ACK — handshake complete",
        "   4. f  server (responder) sent FIN — first close: resp FIN",
        "   5. F  client (originator) sent FIN — after the first close",
        "   6. a  server (responder) sent pure ACK",
        "  The three-way handshake completed.",
        "  First close: the server (responder), with FIN.",
        "label: slammed  (layer application, confidence high)",
        "why: the server closed with FIN 0.003 s after the handshake; neither side sent data: the application "
        "accepted, then closed at once (IP allow-list, tcpwrappers, a silent connection limit).",
    ]


def test_explain_with_a_reply():
    r = run("explain", "ShAdfFa", "--state", "SF", "--reply", "421 Too many connections from this IP")
    assert "label: refused_with_reply  (layer tcp_stack" not in r.stdout
    assert "label: refused_with_reply  (layer application, confidence high, refusal kind per_ip_limit)" in r.stdout


def test_explain_rejects_bad_letters_cleanly():
    r = run("explain", "ShA\x1b[31m")
    assert r.exit_code == 1
    assert "\x1b" not in r.stderr and "is not a Zeek history letter" in r.stderr
