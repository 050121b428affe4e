"""ai_get_job.py: print a job (MLJob) by id."""
from __future__ import annotations

from antinex.client.scripts.common import show_record


def main(argv: list[str] | None = None) -> int:
    return show_record(__doc__, "job", "JOB_ID", "get_job_by_id", argv)


if __name__ == "__main__":
    raise SystemExit(main())
