"""Content-Type parsing: the regular-expression reading agrees with the email package's."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from dmp_gateway.dmp.mtom import _content_type_by_email, build_mtom, parse_content_type

TOKEN_CHARS = "!#$%&'*+.^_`|~-" + string.ascii_letters + string.digits
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
# Quoted strings without quotes or backslashes: what the fast path reads itself.
quoted = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=20)
# ... some of them a Content-ID in angle brackets, which the email package unwraps.
quoted = quoted | quoted.map(lambda text: f"<{text}>")
spaces = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def content_types(draw) -> str:
    text = f"{draw(spaces)}{draw(tokens)}/{draw(tokens)}{draw(spaces)}"
    for _ in range(draw(st.integers(0, 5))):
        name = draw(tokens).rstrip("*")  # a trailing * is RFC 2231's mark, tested below
        if not name:
            continue
        value = f'"{draw(quoted)}"' if draw(st.booleans()) else draw(tokens)
        text += f";{draw(spaces)}{name}{draw(spaces)}={draw(spaces)}{value}{draw(spaces)}"
    return text


@given(content_types())
def test_the_fast_reading_agrees_with_the_email_package(value):
    assert parse_content_type(value) == _content_type_by_email(value)


def test_an_mtom_header_as_both_sides_send_it():
    message = build_mtom(b"<e/>", (), action="urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b")
    media, params = parse_content_type(message.content_type)
    assert media == "multipart/related"
    assert params["type"] == "application/xop+xml" and params["start-info"] == "application/soap+xml"
    assert params["boundary"] and params["start"] == "0.1"  # the root part's Content-ID, unwrapped
    assert (media, params) == _content_type_by_email(message.content_type)


def test_what_the_fast_reading_leaves_to_the_email_package():
    # An escaped quote, RFC 2231 continuations and encodings, stray text, no media type at all.
    assert parse_content_type('text/plain; name="a\\"b"')[1] == {"name": 'a"b'}
    assert parse_content_type("text/plain; title*=UTF-8''caf%C3%A9")[1] == {"title": "café"}
    assert parse_content_type("text/plain; a*0=x; a*1=y")[1] == {"a": "xy"}
    assert parse_content_type("0/0;0*0=0") == _content_type_by_email("0/0;0*0=0")  # found by hypothesis
    assert parse_content_type("multipart/related; boundary=abc; junk")[1]["boundary"] == "abc"
    assert parse_content_type("nonsense")[0] == "text/plain"
