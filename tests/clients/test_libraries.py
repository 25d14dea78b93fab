"""py-tes 1.1.4 and pydantic-tes 0.4.0, from their own virtualenvs, run a three-task workflow on poiesis serve.

Only the defaults: the client works in the directory the server was started
in, so its file:// URLs are under the default file root. py-tes runs against
a TES 1.1 and a 1.2 server; pydantic-tes against 1.1.
"""

from __future__ import annotations

import pytest

from tests.clients.conftest import WORKFLOWS


@pytest.mark.parametrize(("name", "tes_version"), [("py-tes", "1.1"), ("pydantic-tes", "1.1"), ("py-tes", "1.2")])
def test_client_library_runs_a_three_step_workflow(name, tes_version, client_engine, served_for_client, tes_mode,
                                                   image) -> None:
    """upper -> count -> join, each a task whose inputs are the previous task's file:// outputs."""
    engine = client_engine(name)
    work = served_for_client.cwd
    done = engine.run([engine.python, str(WORKFLOWS / "steps.py"), name, served_for_client.url, image, str(work)],
                      cwd=work, mode=tes_mode)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[:3] == ["upper: COMPLETE", "count: COMPLETE", "join: COMPLETE"]
    assert (work / "final.txt").read_text() == "HELLO TES WORLD\n3\n"
