"""ai_prepare_dataset.py: run a dataset preparation (POST /mlprepare/) and wait."""
from __future__ import annotations

from antinex.client.scripts.common import check, client_from, parser, read_json, show


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, file_arg=True).parse_args(argv)
    body = read_json(args.datafile)
    client = client_from(args)
    prep = check(client.run_prepare(body), "prepare did not start")
    done = check(client.wait_for_prepare_to_finish(prep["id"], timeout=args.timeout), f"prepare {prep['id']}")
    show(done, args, f"prepare {prep['id']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
