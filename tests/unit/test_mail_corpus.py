"""Real-world mail from a public source: CPython's own email test messages (Debian's
libpython3.11-testsuite, installed by scripts/peers.sh). Each one reads to a result, or to `unparseable`
with a stated reason; none raises. A few are checked for what they are known to hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from pager.mail.model import KINDS
from pager.mail.parse import MailOptions, parse
from tests.conftest import require_binary

CORPUS = Path("/usr/lib/python3.11/test/test_email/data")
MESSAGES = sorted(CORPUS.glob("msg_*.txt")) if CORPUS.is_dir() else []


@pytest.fixture(scope="module")
def corpus() -> list[Path]:
    require_binary(str(CORPUS / "msg_01.txt"))
    assert len(MESSAGES) >= 40
    return MESSAGES


def test_every_message_reads_to_a_result_or_a_stated_reason(corpus):
    options = MailOptions()
    kinds: dict[str, str] = {}
    for path in corpus:
        raw = path.read_bytes()
        m = parse(raw, options)
        assert m.kind in KINDS and m.reason, path.name
        assert m.size == len(raw)
        assert len(m.text) <= options.max_text_chars and len(m.parts) <= options.max_parts
        assert all(p.dropped or p.sha256 for p in m.parts), path.name
        kinds[path.name] = m.kind
    # the corpus holds all sorts: ordinary mail, reports, list mail and one that is no mail at all
    assert kinds["msg_01.txt"] == "normal"
    assert kinds["msg_16.txt"] == kinds["msg_43.txt"] == "bounce"
    assert kinds["msg_32.txt"] == "bulk"  # Precedence: bulk
    assert kinds["msg_19.txt"] == "unparseable"  # a multipart body without any header


def test_known_contents(corpus):
    m = parse((CORPUS / "msg_16.txt").read_bytes())
    assert m.bounce is not None and m.bounce.failed == ("jangel1@cougar.noc.ucla.edu",)
    assert m.bounce.original_message_id == "002001c144a6$8752e060$56104586@oxy.edu"

    m = parse((CORPUS / "msg_43.txt").read_bytes())  # returns only the headers of the bounced mail
    assert m.bounce is not None and len(m.bounce.failed) == 25
    assert m.bounce.original_message_id == "edab.7804f5cb8070@python.org"

    m = parse((CORPUS / "msg_07.txt").read_bytes())
    (gif,) = m.parts
    assert (gif.name, gif.content_type, gif.size) == ("dingusfish.gif", "image/gif", 3512)
    assert gif.content.startswith(b"GIF87a")

    m = parse((CORPUS / "msg_45.txt").read_bytes())  # multipart/signed: the signature is a part
    assert [p.content_type for p in m.parts] == ["application/pgp-signature"]

    m = parse((CORPUS / "msg_25.txt").read_bytes())  # a report whose boundary is broken: read as text
    assert m.kind == "bounce" and "Too many hops" in m.text
    assert "a multipart part without its boundary was read as text" in m.notes


def test_every_message_survives_being_cut_short(corpus):
    for path in corpus:
        raw = path.read_bytes()
        for cut in (len(raw) // 3, len(raw) // 2, len(raw) - 7):
            m = parse(raw[:cut])
            assert m.kind in KINDS and m.reason, (path.name, cut)
