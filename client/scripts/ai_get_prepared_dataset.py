"""ai_get_prepared_dataset.py: print a dataset preparation (MLPrepare) by id."""
from __future__ import annotations

import os

from client.scripts.common import check, client_from, die, parser, show


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, id_arg="prepare").parse_args(argv)
    prep_id = args.record_id or os.environ.get("PREPARE_ID")
    if not prep_id:
        die("missing prepare id: -i <prepare id>")
    show(check(client_from(args).get_prepare_by_id(prep_id), f"prepare {prep_id}"), args, f"prepare {prep_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
