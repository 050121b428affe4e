"""What every CLI script shares: the original flags, env fallbacks, output, errors."""
from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

from antinex.client import consts
from antinex.client.ai_client import AIClient


def parser(description: str, *, file_arg: bool = False, id_arg: str | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-u", dest="user", help="username (API_USER / ANTINEX_USER)")
    ap.add_argument("-p", dest="password", help="password (API_PASSWORD / ANTINEX_PASSWORD)")
    ap.add_argument("-e", dest="email", help="email")
    ap.add_argument("-a", dest="url", help="AntiNex URL, e.g. http://localhost:8010 (API_URL / ANTINEX_URL)")
    ap.add_argument("-b", dest="ca_dir", help="CA bundle directory")
    ap.add_argument("-c", dest="cert_file", help="x509 certificate file")
    ap.add_argument("-k", dest="key_file", help="x509 key file")
    ap.add_argument("-s", dest="silent", action="store_true", help="silent")
    ap.add_argument("-d", dest="debug", action="store_true", help="debug")
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for a job")
    if file_arg:
        ap.add_argument("-f", dest="datafile", help="request JSON file (DATAFILE)")
    if id_arg:
        ap.add_argument("-i", dest="record_id", help=f"{id_arg} id")
    return ap


def die(message: str, code: int = 1) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def client_from(args) -> AIClient:
    return AIClient(user=args.user, password=args.password, url=args.url, email=args.email,
                    verbose=not args.silent, ca_dir=args.ca_dir, cert_file=args.cert_file,
                    key_file=args.key_file, debug=args.debug, timeout=min(args.timeout, 60))


def check(res: dict, what: str) -> dict:
    if res["status"] != consts.SUCCESS:
        die(f"{what}: {res['error'] or 'failed'}")
    return res["data"]


def show(data, args, title: str = "") -> None:
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        if key in ("predictions_json", "model_json", "predict_manifest") and not args.debug:
            value = "(use --json)" if value else value
        table.add_row(str(key), json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value))
    Console().print(table)


def read_json(path: str | None, env_name: str = "DATAFILE") -> dict:
    from antinex.client.consts import setting

    path = path or setting(env_name)
    if not path:
        die("missing request file: -f <path to json file>")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        die(f"did not find datafile={path} on disk")
    except json.JSONDecodeError as exc:
        die(f"{path} is not valid JSON: {exc}")


def show_record(description: str, kind: str, env_name: str, getter: str, argv: list[str] | None) -> int:
    """The shared body of the ai_get_* scripts: fetch one record by id and show it."""
    from antinex.client.consts import setting

    args = parser(description, id_arg=kind).parse_args(argv)
    record_id = args.record_id or setting(env_name)
    if not record_id:
        die(f"missing {kind} id: -i <{kind} id>")
    data = check(getattr(client_from(args), getter)(record_id), f"{kind} {record_id}")
    show(data, args, f"{kind} {record_id}")
    return 0
