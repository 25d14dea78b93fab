"""Three dependent TES tasks through a client library: upper-case, count words, join; file:// between them.

Run with the client's own python: ``python steps.py CLIENT TES_URL IMAGE DIR``
(CLIENT is ``py-tes`` or ``pydantic-tes``). Prints the final file and exits 0
when all three tasks completed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

CLIENT, URL, IMAGE, DIR = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]).resolve()
DONE = {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"}

STEPS = [
    {"name": "upper", "inputs": [("/in/text.txt", None, "hello tes world\n")],
     "outputs": [("/out/upper.txt", "upper.txt")], "command": "tr a-z A-Z < /in/text.txt > /out/upper.txt"},
    {"name": "count", "inputs": [("/in/upper.txt", "upper.txt", None)],
     "outputs": [("/out/count.txt", "count.txt")], "command": "wc -w < /in/upper.txt | tr -d ' ' > /out/count.txt"},
    {"name": "join", "inputs": [("/in/a", "upper.txt", None), ("/in/b", "count.txt", None)],
     "outputs": [("/out/final.txt", "final.txt")], "command": "cat /in/a /in/b > /out/final.txt"},
]


def run_py_tes(step: dict) -> str:
    import tes

    client = tes.HTTPClient(URL, timeout=30)
    task = tes.Task(
        name=step["name"],
        inputs=[tes.Input(path=p, url=f"file://{DIR}/{u}" if u else None, content=c) for p, u, c in step["inputs"]],
        outputs=[tes.Output(path=p, url=f"file://{DIR}/{u}") for p, u in step["outputs"]],
        executors=[tes.Executor(image=IMAGE, command=["sh", "-c", step["command"]])],
        resources=tes.Resources(cpu_cores=1, ram_gb=0.5),  # podman mode: --cpus=1 --memory=536870912
    )
    task_id = client.create_task(task)
    state = client.wait(task_id, timeout=300).state
    full = client.get_task(task_id, view="FULL")  # py-tes takes only an int as cpu_cores: 1, never 1.0
    assert (full.resources.cpu_cores, full.resources.ram_gb) == (1, 0.5), full.resources
    return state


def run_pydantic_tes(step: dict) -> str:
    from pydantictes.api import TesClient
    from pydantictes.models import TesExecutor, TesFileType, TesInput, TesOutput, TesTask

    client = TesClient(URL.rstrip("/") + "/ga4gh/tes/")
    task = TesTask(
        name=step["name"],
        inputs=[TesInput(path=p, url=f"file://{DIR}/{u}" if u else None, content=c, type=TesFileType.FILE)
                for p, u, c in step["inputs"]],
        outputs=[TesOutput(path=p, url=f"file://{DIR}/{u}", type=TesFileType.FILE) for p, u in step["outputs"]],
        executors=[TesExecutor(image=IMAGE, command=["sh", "-c", step["command"]])],
    )
    created = client.create_task(task)  # every unset member goes out as null
    client.service_info()
    deadline = time.monotonic() + 300
    while True:
        state = client.get_task(created, "BASIC").state  # it cannot parse MINIMAL (no executors)
        state = getattr(state, "value", state)
        if state in DONE or time.monotonic() > deadline:
            full = client.get_task(created, "FULL")  # parses every member of the stored task
            assert full.executors[0].command == ["sh", "-c", step["command"]]
            return state
        time.sleep(0.2)


def main() -> int:
    run = run_py_tes if CLIENT == "py-tes" else run_pydantic_tes
    for step in STEPS:
        state = run(step)
        print(f"{step['name']}: {state}", flush=True)
        if state != "COMPLETE":
            return 1
    print((DIR / "final.txt").read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
