"""cwl-tes 0.3.0 runs a two-step CWL workflow (upper-case, then count words) on poiesis serve.

cwl-tes moves files with file:// URLs: its outdir and its temporary
directories must lie under the server's file roots. With poiesis serve's
default (its working directory) it needs only its own documented options:
--tmpdir-prefix and --tmp-outdir-prefix in the directory it is run from
(their default is /tmp, outside) and --outdir there. The steps name their
image in a DockerRequirement (cwltool 1.0 stages outputs through the host
only for tools that have one); process mode does not use it.
"""

from __future__ import annotations

import json

from tests.clients.conftest import WORKFLOWS


def test_cwl_tes_runs_a_two_step_workflow(client_engine, served_for_client, tes_mode, image) -> None:
    """upper -> count through TES tasks; both outputs land in --outdir."""
    engine = client_engine("cwl-tes")
    work = served_for_client.cwd
    (work / "in.txt").write_text("hello cwl tes world\n")
    for cwl in (WORKFLOWS / "cwl").glob("*.cwl"):
        (work / cwl.name).write_text(cwl.read_text().replace("@IMAGE@", image))
    (work / "job.json").write_text(json.dumps({"text": {"class": "File", "path": str(work / "in.txt")}}))
    done = engine.run(
        [engine.bin("cwl-tes"), "--tes", served_for_client.url, "--outdir", str(work / "out"),
         "--tmpdir-prefix", f"{work}/tmp/", "--tmp-outdir-prefix", f"{work}/tmp-out/",
         str(work / "workflow.cwl"), str(work / "job.json")],
        cwd=work, mode=tes_mode, timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert (work / "out" / "upper.txt").read_text() == "HELLO CWL TES WORLD\n"
    assert (work / "out" / "count.txt").read_text().split()[0] == "4"
