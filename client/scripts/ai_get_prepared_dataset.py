"""ai_get_prepared_dataset.py: print a dataset preparation (MLPrepare) by id."""
from __future__ import annotations

from antinex.client.scripts.common import show_record


def main(argv: list[str] | None = None) -> int:
    return show_record(__doc__, "prepare", "PREPARE_ID", "get_prepare_by_id", argv)


if __name__ == "__main__":
    raise SystemExit(main())
