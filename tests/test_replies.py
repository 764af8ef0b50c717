"""Reply meanings for the texts real servers send when they turn a client away."""

from __future__ import annotations

import socket
import threading

import pytest

from zeekslam.replies import classify, parse_reply


@pytest.mark.parametrize("server, code, text, kind", [
    ("vsftpd", 421, "There are too many connected users, please try later.", "conn_limit"),
    ("vsftpd", 421, "There are too many connections from your internet address.", "per_ip_limit"),
    ("vsftpd", 500, "OOPS: vsftpd: cannot locate user specified in 'ftp_username':ftp", "unavailable"),
    ("proftpd", 530, "Sorry, the maximum number of clients (10) for this user are already connected.", "conn_limit"),
    ("proftpd", 530, "Sorry, the maximum number of clients (2) from your host are already connected.",
     "per_ip_limit"),
    ("proftpd", 421, "Service not available, remote server has closed connection", "unavailable"),
    ("pure-ftpd", 421, "Too many connections (3) from this IP", "per_ip_limit"),
    ("pure-ftpd", 421, "50 users (the maximum) are already logged in, sorry", "conn_limit"),
    ("pure-ftpd", 530, "Sorry, access denied", "access_denied"),
    ("FileZilla Server", 421, "Too many users are connected, please try again later.", "conn_limit"),
    ("FileZilla Server", 550, "No connections allowed from your IP", "access_denied"),
    ("FileZilla Server", 421, "Temporarily banned for too many failed login attempts", "access_denied"),
    ("IIS", 421, "Too many users are connected, please try again later.", "conn_limit"),
    ("IIS", 530, "User cannot log in.", "access_denied"),
    ("pyftpdlib", 421, "Too many connections. Service temporarily unavailable.", "conn_limit"),
    ("pyftpdlib", 421, "Too many connections from the same IP address.", "per_ip_limit"),
    ("aiosmtpd (lab)", 421, "4.7.0 Too many connections, try again later", "conn_limit"),
    ("aiosmtpd (lab)", 554, "5.7.1 Access denied", "access_denied"),
    ("postfix", 421, "4.7.0 mx.example.org Error: too many connections from 192.0.2.7", "per_ip_limit"),
    ("postfix", 554, "5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org",
     "access_denied"),
    ("exim", 421, "Too many concurrent SMTP connections; please try again later.", "conn_limit"),
])
def test_refusal_texts_of_real_servers(server, code, text, kind):
    meaning = classify(code, text)
    assert (meaning.kind, meaning.refusal_kind) == ("refusal", kind), server


@pytest.mark.parametrize("code, text, kind", [
    (220, "(vsFTPd 3.0.3)", "welcome"),
    (220, "pyftpdlib 2.2.0 ready.", "welcome"),
    (220, "mail.example.org ESMTP Postfix", "welcome"),
    (421, "Timeout.", "timeout"),
    (421, "Control connection timed out.", "timeout"),
    (421, "4.4.2 mx.example.org Error: timeout exceeded", "timeout"),
    (230, "Login successful.", "other"),
])
def test_welcomes_and_timeouts_are_not_refusals(code, text, kind):
    assert classify(code, text).kind == kind


def test_parse_reply():
    assert parse_reply("421 Too many connections") == (421, "Too many connections")
    assert parse_reply("421-first line of many") == (421, "first line of many")
    assert parse_reply("no code here") == (None, "no code here")


def test_live_pyftpdlib_refusal_is_classified(tmp_path):
    """A real pyftpdlib server on loopback with a 1-client limit: read its real 421 and classify it."""
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(str(tmp_path))
    handler = type("LimitedHandler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer(("127.0.0.1", 0), handler)
    server.max_cons = 2  # pyftpdlib counts its listening socket: one client, then 421
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1, "blocking": True},
                              daemon=True)
    thread.start()
    try:
        first = socket.create_connection(("127.0.0.1", port), timeout=5)
        welcome = first.recv(1024).decode()
        second = socket.create_connection(("127.0.0.1", port), timeout=5)
        refusal = b""
        while chunk := second.recv(1024):  # the server closes after the refusal
            refusal += chunk
        first.close()
        second.close()
    finally:
        server.close_all()
        thread.join(timeout=5)
    code, text = parse_reply(welcome.splitlines()[0])
    assert classify(code, text).kind == "welcome"
    code, text = parse_reply(refusal.decode().splitlines()[0])
    assert code == 421
    assert (classify(code, text).kind, classify(code, text).refusal_kind) == ("refusal", "conn_limit")


def test_a_reply_code_is_ascii_digits():
    from zeekslam.replies import parse_reply

    assert parse_reply("\u0664\u0662\u0661 busy") == (None, "\u0664\u0662\u0661 busy")
    assert parse_reply("421 busy") == (421, "busy")
