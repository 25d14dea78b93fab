"""A Toil workflow of three jobs (a root, two children, a follow-on joining them), all run as TES tasks.

Run as ``python toil_steps.py JOBSTORE OUT [toil options...]`` with Toil 9.6 and
toil-batch-system-tes; writes OUT and prints it.
"""

from __future__ import annotations

import sys

from toil.common import Toil
from toil.job import Job


def shout(job: Job, word: str) -> str:
    return word.upper()


def join(job: Job, parts: list, out: str) -> str:
    text = " ".join(part for part in parts) + "\n"
    with open(out, "w") as fh:
        fh.write(text)
    return text


def root(job: Job, out: str):
    children = [job.addChildJobFn(shout, word, cores=0.1, memory="64M", disk="1M") for word in ("hello", "toil")]
    follow = job.addFollowOnJobFn(join, [c.rv() for c in children], out, cores=0.1, memory="64M", disk="1M")
    return follow.rv()


def main() -> int:
    jobstore, out, *rest = sys.argv[1:]
    parser = Job.Runner.getDefaultArgumentParser()
    options = parser.parse_args([jobstore, *rest])
    with Toil(options) as workflow:
        result = workflow.start(Job.wrapJobFn(root, out, cores=0.1, memory="64M", disk="1M"))
    print(result, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
