"""History decoding: order, direction, first close, flips, repeats, limits."""

import pytest

from zeekslam.history import LETTER_MEANING, HistoryError, decode, describe


@pytest.mark.parametrize("letter", sorted(LETTER_MEANING))
def test_every_letter_is_decoded_with_its_direction(letter):
    for text, sender in ((letter.upper(), "orig"), (letter, "resp")):
        facts = decode("Sh" + "A" + text)
        step = facts.steps[-1]
        assert step.letter == text
        assert step.sender == sender
        assert step.meaning == LETTER_MEANING[letter]


def test_seed_case_server_fin_first():
    f = decode("ShAfFa")
    assert f.handshake and not f.midstream
    assert (f.closer, f.close_kind) == ("resp", "FIN")
    assert not f.orig_data and not f.resp_data


def test_handshake_needs_originator_ack_after_synack():
    assert not decode("Sh").handshake
    assert decode("ShA").handshake
    assert decode("ShD").handshake  # payload ACKs the SYN-ACK too
    assert not decode("SAh").handshake  # the ACK came before the SYN-ACK


def test_payload_before_and_after_the_first_close():
    f = decode("ShAfDr")  # client wrote after the server's FIN; the server's stack reset
    assert (f.closer, f.close_kind) == ("resp", "FIN")
    assert f.orig_data and not f.orig_data_before_close
    g = decode("ShADar")  # client spoke first, then the server reset
    assert g.orig_data_before_close and (g.closer, g.close_kind) == ("resp", "RST")


def test_trailing_letters_after_close_do_not_change_the_close():
    assert decode("ShAdDafF").closer == "resp"
    assert decode("ShAdDaFf").closer == "orig"
    assert decode("ShAdDafrR").close_kind == "FIN"


def test_flip_and_midstream():
    f = decode("^hADad")
    assert f.flipped and f.midstream and not f.handshake
    assert f.steps[0].letter == "^"


def test_rejected_and_scans():
    assert (decode("Sr").closer, decode("Sr").close_kind, decode("Sr").synack) == ("resp", "RST", False)
    assert decode("ShR").orig_rst and not decode("ShR").handshake


def test_repeated_letters_are_explained():
    f = decode("ShAdDtttfF")
    notes = [s.note for s in f.steps if s.letter == "t"]
    assert notes == ["", "seen at least 10 times", "seen at least 100 times"]
    assert f.retransmits
    assert "again" in decode("SShA").steps[1].note


def test_gaps_partial_and_inconsistent():
    assert decode("ShADgd").gaps
    assert decode("ShADdX").partial
    f = decode("ShAIi")
    assert (f.closer, f.close_kind) == ("orig", "RST")
    assert "inconsistent packet (e.g. FIN+RST)" in f.anomalies


def test_unknown_letters_are_refused():
    with pytest.raises(HistoryError, match="'Z' is not a Zeek history letter"):
        decode("ShAZ")


def test_describe_names_who_sent_what_in_order():
    lines = describe(decode("ShAfFa"))
    assert lines[0].endswith("client (originator) sent SYN without ACK")
    assert "handshake complete" in lines[2]
    assert "first close: resp FIN" in lines[3]
    assert len(lines) == 6
