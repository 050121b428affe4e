"""ai_get_job.py: print a job (MLJob) by id."""
from __future__ import annotations

import os

from client.scripts.common import check, client_from, die, parser, show


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, id_arg="job").parse_args(argv)
    job_id = args.record_id or os.environ.get("JOB_ID")
    if not job_id:
        die("missing job id: -i <job id>")
    show(check(client_from(args).get_job_by_id(job_id), f"job {job_id}"), args, f"job {job_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
