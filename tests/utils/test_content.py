"""Request-content preprocessing: parsing, the application profile, the estimator, its JSON form."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from antinex.pipeline.http_message import request_to_text
from antinex.utils.app_profile import PROFILE_FEATURES, AppProfile, segment_key, shape, template
from antinex.utils.content import (BYTE_VOCABULARY, ContentSpec, RequestContent, byte_tokens, conflicting_rows,
                                   content_encoder, content_key, load_content)
from antinex.utils.request_view import COOKIE, FORM, JSON_BODY, MULTIPART, QUERY, parse_cell
from tests.utils.http_samples import ATTACKS, BENIGN, request_frame


def cell(raw: bytes) -> str:
    return request_to_text(raw)


# -- parsing --------------------------------------------------------------------------
def test_view_reads_every_parameter_source():
    v = parse_cell(cell(BENIGN["python-requests-json"]))
    assert v.method == "POST" and v.path == "/api/items" and v.segments == ["api", "items"]
    sources = {(s, n) for s, n, _ in v.params}
    assert (JSON_BODY, "title") in sources and (JSON_BODY, "tags[]") in sources and (COOKIE, "sid") in sources
    assert ("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0In0.c2lnbmF0dXJl") in v.headers
    assert all(name != "cookie" for name, _ in v.headers)
    form = parse_cell(cell(BENIGN["curl-form-prose"]))
    assert (FORM, "title", "Meeting notes -- Monday") in form.params
    multi = parse_cell(cell(BENIGN["httpie-multipart"]))
    assert (MULTIPART, "note", "holiday photos") in multi.params
    assert (MULTIPART, "file:filename", "hostname") in multi.params
    assert (QUERY, "q", "O'Brien") in parse_cell(cell(BENIGN["curl-apostrophe"])).params


def test_double_encoding_is_decoded_and_counted():
    v = parse_cell(cell(b"GET /search?q=%2527%2520OR%25201%253D1 HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert v.params == [(QUERY, "q", "' OR 1=1")] and v.double_encoded == 1
    assert parse_cell(cell(BENIGN["curl-apostrophe"])).double_encoded == 0


def test_extensions_and_non_requests():
    assert parse_cell(cell(b"GET /db/dump.sql.bak HTTP/1.1\r\n\r\n")).ext == ".bak"
    assert parse_cell(cell(b"GET /index.php~ HTTP/1.1\r\n\r\n")).ext == "~"
    assert parse_cell(cell(b"GET /.htaccess HTTP/1.1\r\n\r\n")).ext == ".htaccess"
    junk = parse_cell("\\x16\\x03\\x01 not http")
    assert junk.method == "" and junk.other.startswith("\x16")
    assert parse_cell(float("nan")).method == "" and parse_cell(None).raw == b""


def test_shapes_and_templates():
    assert [shape(v) for v in ("", "42", "3.5", "5f0c7b1e-8f1a-4c1b-9a55-2b8f5e0b1c3d", "deadbeef01", "notes",
                               "abc123", "a@b.org", "https://x.org/?a=1", "budget plan", "' OR 1=1")] == \
        ["empty", "int", "float", "uuid", "hex", "alpha", "alnum", "email", "url", "words", "text"]
    assert template(["items", "17"]) == "/items/{int}"
    assert [segment_key(x) for x in ("user7", "page-2", "item_12", "v2", "a1b2", "v2.1", "user")] == \
        ["user{int}", "page-{int}", "item_{int}", "v{int}", "a1b2", "v2.1", "user"]
    assert template(["users", "user7"]) == "/users/user{int}" and template(["users", "user7"], 1) == "/users/user7"


def test_a_numbered_page_the_training_never_asked_for_is_no_new_path():
    """Format 2: /users/user7 is the template of /users/user1..user4 (the unseen clients' false positives of the
    2026-12-04 recording); format 1, as profiles stored before it read paths, found it new."""
    normal = [parse_cell(cell(f"GET /users/user{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())) for i in range(5)]
    probe = [parse_cell(cell(b"GET /users/user7 HTTP/1.1\r\nHost: x\r\n\r\n"))]
    names = list(PROFILE_FEATURES)
    new = dict(zip(names, AppProfile().fit(normal).features(probe)[0]))
    old = dict(zip(names, AppProfile(1).fit(normal).features(probe)[0]))
    assert new["prof_template_unseen"] == 0 and new["prof_segments_unseen"] == 0
    assert old["prof_template_unseen"] == 1 and old["prof_segments_unseen"] == 1
    stored = AppProfile(1).fit(normal).to_json()
    del stored["format"]  # a profile stored before profiles had a format
    assert AppProfile.from_json(stored).format == 1
    with pytest.raises(ValueError, match="format 3 is not one of 1, 2"):
        AppProfile(3)


def test_profile_measures_distance_from_normal_use():
    normal = [parse_cell(cell(BENIGN["curl-apostrophe"]).replace("O%27Brien", w)) for w in ("report", "budget")]
    profile = AppProfile().fit(normal)
    names = list(PROFILE_FEATURES)

    def features(raw: bytes) -> dict:
        return dict(zip(names, profile.features([parse_cell(cell(raw))])[0]))

    assert sum(features(b"GET /search?q=holiday HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n"
                        b"Accept: */*\r\n\r\n").values()) == 1.0  # one parameter, nothing new
    odd = features(b"GET /search?q=notes|id&debug=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
    assert odd["prof_param_names_unseen"] == 1 and odd["prof_values_new_chars"] == 1  # "debug" and the "|"
    assert features(b"GET /search.bak HTTP/1.1\r\nHost: x\r\n\r\n")["prof_ext_unseen"] == 1
    assert features(b"PUT /search?q=x HTTP/1.1\r\nHost: x\r\n\r\n")["prof_method_unseen"] == 1
    assert features(b"GET /search?q=x HTTP/1.1\r\nHost: x\r\nX-Evil: 1\r\n\r\n")["prof_header_names_unseen"] == 1


def test_profile_json_round_trip():
    views = [parse_cell(cell(r)) for r in BENIGN.values()]
    profile = AppProfile().fit(views)
    again = AppProfile.from_json(json.loads(json.dumps(profile.to_json())))
    probe = [parse_cell(cell(r)) for r in ATTACKS.values()]
    np.testing.assert_array_equal(profile.features(probe), again.features(probe))


# -- the estimator ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def frame():
    return request_frame(400, seed=3)


SMALL = ContentSpec(hash_dims=256)


def test_fit_transform_is_deterministic(frame):
    a = RequestContent(SMALL).fit_transform(frame["http_request"], frame["label_value"])
    b = RequestContent(SMALL).fit_transform(frame["http_request"], frame["label_value"])
    assert a.shape == (400, SMALL.width) and (a != b).nnz == 0
    assert np.isfinite(a.data).all()


def test_hashing_does_not_depend_on_the_python_hash_seed(frame, tmp_path):
    """Another interpreter with another PYTHONHASHSEED computes the very same columns."""
    cells = frame["http_request"].head(20).tolist()
    here = RequestContent(SMALL).fit(cells, [0] * 20).transform(cells)
    code = ("import json, sys\nfrom antinex.utils.content import RequestContent, ContentSpec\n"
            "cells = json.loads(sys.stdin.read())\n"
            "x = RequestContent(ContentSpec(hash_dims=256)).fit(cells, [0] * 20).transform(cells)\n"
            "print(json.dumps([x.indices.tolist(), x.data.tolist()]))\n")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(cells), capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True, timeout=120)
    indices, data = json.loads(out.stdout)
    assert indices == here.indices.tolist()
    np.testing.assert_allclose(data, here.data, rtol=1e-6)


def test_json_round_trip_gives_the_same_matrix(frame):
    est = RequestContent(SMALL)
    est.fit(frame["http_request"], frame["label_value"])
    text = json.dumps(est.to_json(), allow_nan=False)  # what the model store writes
    again = load_content(json.loads(text))
    probe = [cell(r) for r in [*BENIGN.values(), *ATTACKS.values()]]
    assert (est.transform(probe) != again.transform(probe)).nnz == 0


def test_a_stored_format_1_encoder_keeps_reading_paths_as_it_was_trained_to(frame):
    """A model stored before format 2 reloads as format 1: the same tokens and profile as when it was fitted."""
    est = RequestContent(SMALL, fmt=1)
    est.fit(frame["http_request"], frame["label_value"])
    data = json.loads(json.dumps(est.to_json()))
    assert data["format"] == 1 and data["profile"]["format"] == 1
    del data["profile"]["format"]  # as stored before profiles had one
    again = load_content(data)
    assert again.format == 1 and again.profile.format == 1
    probe = [cell(r) for r in [*BENIGN.values(), *ATTACKS.values()]] + \
        [cell(b"GET /users/user7 HTTP/1.1\r\nHost: x\r\n\r\n")]
    assert (est.transform(probe) != again.transform(probe)).nnz == 0
    assert RequestContent(SMALL).fit(frame["http_request"], frame["label_value"]).to_json()["format"] == 2
    with pytest.raises(ValueError, match="not a content encoder of format 1 or 2"):
        load_content({**data, "format": 3})


def test_columns_no_training_row_touched_weigh_nothing(frame):
    est = RequestContent(ContentSpec(hash_dims=4096, profile="none", aggregate=False))
    est.fit(frame["http_request"], frame["label_value"])
    unseen = np.flatnonzero(est.idf == 0)
    assert len(unseen) > 0
    x = est.transform([cell(b"GET /\xe6\x97\xa5\xe6\x9c\xac?\xc3\xa9=\xc3\xbc HTTP/1.1\r\nHost: x\r\n\r\n")])
    assert not np.isin(x.indices[x.data != 0], unseen).any()


def test_training_rows_get_out_of_fold_profile_features():
    """A value seen once in normal training is new to the profile of the other folds: the network learns
    that normal rows can hold something new, instead of 'anything new is an attack'."""
    rows = [cell(f"GET /search?q=word{i % 50} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) for i in range(100)]
    rows.append(cell(b"GET /search?q=once&lang=en HTTP/1.1\r\nHost: x\r\n\r\n"))
    y = np.zeros(len(rows))
    est = RequestContent(ContentSpec(hash_dims=64, aggregate=False))
    col = 64 + est.spec.profile_columns.index("prof_param_names_unseen")  # after the 64 hashed columns
    fitted = est.fit_transform(rows, y).toarray()
    assert fitted[-1, col] > 0  # out of fold: "lang" was in no other fold
    assert est.transform(rows[-1:]).toarray()[0, col] == 0  # the final profile knows it


def test_profile_modes_and_width():
    assert ContentSpec(hash_dims=100, profile="all").width == 100 + len(PROFILE_FEATURES) + 21 + 2
    assert ContentSpec(hash_dims=100).width == 100 + len(PROFILE_FEATURES) - 3 + 21 + 2  # "app" by default
    assert ContentSpec(hash_dims=100, profile="none", aggregate=False).width == 100


def test_header_values_a_client_fills_in_are_content():
    from antinex.utils.content import payload_text

    injected = parse_cell(cell(b"GET /search?q=notes HTTP/1.1\r\nUser-Agent: sqlmap/1.7.2#stable\r\n"
                               b"Referer: http://x/search')) RLIKE SLEEP(5)\r\nX-Forwarded-For: 1' OR '1\r\n"
                               b"Accept: */*\r\n\r\n"))
    text = payload_text(injected, header_values=True)
    assert b"rlike sleep(5)" in text and b"1' or '1" in text and b"*/*" not in text
    assert b"sqlmap" not in text  # the User-Agent names the client, not the attack
    browser = parse_cell(cell(BENIGN["chromium-navigate"]))
    assert b"mozilla" not in payload_text(browser, header_values=True)
    assert b"sid=" in payload_text(browser, header_values=True) and b"sid=" not in payload_text(browser)


def test_an_unfinished_head_is_flagged():
    from antinex.utils.content import AGGREGATE_COLUMNS, aggregate_features

    slow = parse_cell(cell(b"GET / HTTP/1.1\r\nHost: x\r\nX-a: b\r\n"))  # slowloris: the blank line never comes
    short = parse_cell(cell(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\ntitle=a"))
    flags = aggregate_features([slow, short, parse_cell(cell(BENIGN["curl"]))])[:, -2:]
    assert AGGREGATE_COLUMNS[-2:] == ("req_head_incomplete", "req_body_incomplete")
    assert flags.tolist() == [[1, 1], [0, 1], [0, 0]]


def test_byte_tokens():
    tokens = byte_tokens([cell(b"GET / HTTP/1.1\r\n\r\n"), "", float("nan")], 8)
    assert tokens.shape == (3, 8) and tokens.dtype == np.int32
    assert tokens[0].tolist() == [ord(c) + 1 for c in "GET / HT"]
    assert tokens[1].tolist() == [0] * 8 and tokens.max() < BYTE_VOCABULARY
    enc = content_encoder(ContentSpec(encoding="bytes", max_len=4))
    assert load_content(json.loads(json.dumps(enc.to_json()))).transform(["GET"]).tolist() == [[72, 70, 85, 0]]


# -- conflicts: attack rows whose content is a normal row's ----------------------------------
def test_a_tools_plain_request_conflicts_with_normal_use_and_its_payloads_do_not():
    browser = cell(b"GET /items/7 HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\nAccept: text/html\r\n"
                   b"Cookie: sid=abc\r\n\r\n")
    crawl = cell(b"GET /items/12 HTTP/1.1\r\nHost: x\r\nUser-Agent: Wapiti/3\r\nAccept: */*\r\n\r\n")
    payload = cell(b"GET /items/12?id=1%20AND%201=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: Wapiti/3\r\n\r\n")
    head = cell(b"HEAD /items/12 HTTP/1.1\r\nHost: x\r\n\r\n")  # another method: another request
    trickle = cell(b"GET /items/12 HTTP/1.1\r\nHost: x\r\nX-a: b\r\n")  # a head that never ended
    # headers, cookies and the digits of an id do not make another request
    assert content_key(parse_cell(browser)) == content_key(parse_cell(crawl))
    assert conflicting_rows([browser, crawl, payload, head, trickle], [0, 1, 1, 1, 1]).tolist() == \
        [False, True, False, False, False]
    # the normal class is the lowest, whatever its value; normal rows never conflict with themselves
    assert conflicting_rows([crawl, browser, browser], [3, 2, 2]).tolist() == [True, False, False]
    assert conflicting_rows([], []).tolist() == []
