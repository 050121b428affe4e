"""The payload features do not fire on benign syntax of real clients, and still fire on attacks."""
from __future__ import annotations

import pytest

from antinex.pipeline.payload_features import PAYLOAD_FEATURES, content_text, payload_features
from tests.utils.http_samples import ATTACKS, BENIGN

# features that count attack syntax (the byte statistics and http_* describe any request)
ATTACK_SYNTAX = ("payload_n_sql", "payload_n_traversal", "payload_n_script")


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_clients_fire_no_attack_feature(name):
    f = payload_features(BENIGN[name])
    assert {k: f[k] for k in ATTACK_SYNTAX} == dict.fromkeys(ATTACK_SYNTAX, 0.0), name


def test_curl_accept_any_is_not_a_sql_comment():
    # the quick start called every benign curl request an attack because "*/*" held "/*"
    f = payload_features(BENIGN["curl"])
    assert f["payload_n_sql"] == 0 and f["payload_n_special"] == 0 and f["payload_n_quote"] == 0


def test_chromium_accept_and_client_hints_are_syntax():
    f = payload_features(BENIGN["chromium-navigate"])
    assert f["payload_n_sql"] == 0
    assert f["payload_n_dquote"] == 0  # sec-ch-ua's quoted brands are header grammar
    assert f["payload_n_quote"] == 0  # O'Brien: an apostrophe inside a word


def test_prose_dashes_are_not_sql_comments():
    for name in ("curl-form-prose", "httpie-json", "python-requests-json"):
        assert payload_features(BENIGN[name])["payload_n_sql"] == 0, name


def test_json_body_syntax_is_not_counted():
    f = payload_features(BENIGN["httpie-json"])
    assert f["payload_n_dquote"] == 0
    assert f["payload_n_special"] == 1  # the "&" of the URL in a value; JSON's {} [] are syntax
    # an apostrophe inside a JSON string value is a value's content: counted only outside words
    assert payload_features(BENIGN["chromium-fetch-json"])["payload_n_quote"] == 0


def test_base64_cookies_are_not_encoded_spaces_or_comments():
    f = payload_features(BENIGN["python-requests-base64-cookie"])
    assert f["payload_n_space_enc"] == 0  # "+" in base64 is a digit, not a space
    assert f["payload_n_sql"] == 0  # "k1--8Jx" is base64url


def test_multipart_boundaries_are_not_counted():
    f = payload_features(BENIGN["httpie-multipart"])
    assert f["payload_n_dquote"] == 0 and f["payload_n_sql"] == 0


@pytest.mark.parametrize("name,feature", [
    ("sqlmap-union", "payload_n_sql"), ("sqlmap-union", "payload_n_script"), ("sqlmap-union", "payload_n_traversal"),
    ("sqlmap-waitfor", "payload_n_sql"), ("sqlmap-boolean", "payload_n_sql"), ("sqlmap-boolean", "payload_n_quote"),
    ("sqli-comment-spaces", "payload_n_sql"), ("sqli-json", "payload_n_sql"), ("sqli-json", "payload_n_quote"),
    ("xss", "payload_n_script"), ("xss", "payload_n_angle"), ("traversal", "payload_n_traversal"),
])
def test_attacks_still_fire(name, feature):
    assert payload_features(ATTACKS[name])[feature] > 0


def test_injection_in_a_free_form_header_is_read():
    raw = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0' AND 1=1-- -\r\nAccept: */*\r\n\r\n"
    f = payload_features(raw)
    assert f["payload_n_sql"] >= 2 and f["payload_n_quote"] == 1


def test_user_agent_grammar_is_syntax_but_breaking_it_is_content():
    browser = payload_features(BENIGN["chromium-navigate"])
    assert browser["payload_n_special"] == 0  # "(X11; Linux x86_64)" is a UA comment
    shellshock = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: () { :; }; /bin/cat /etc/passwd\r\n\r\n"
    assert payload_features(shellshock)["payload_n_special"] >= 5
    piped = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0|id\r\n\r\n"
    assert payload_features(piped)["payload_n_special"] == 1


def test_non_requests_are_read_whole():
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<script>x</script> union select 1"
    f = payload_features(response)
    assert f["http_is_response"] == 1 and f["payload_n_script"] == 1 and f["payload_n_sql"] == 1
    assert content_text(response) is None
    assert set(payload_features(b"")) == set(PAYLOAD_FEATURES)
