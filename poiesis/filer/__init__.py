"""The filers: TIF fetches a task's inputs, TOF uploads its outputs.

Pure Python, called as ``poiesis filer in|out`` inside the Pod and
in-process by the local backend. One backend module per URL scheme
(``backends/``) behind one small interface; ``inputs`` and ``outputs``
know TES, backends only know bytes and URLs.

Must not: touch the database or the Kubernetes API, log or report
credentials (every message passes through ``errors.redact``), or report an
output as uploaded before its upload completed.
"""

from poiesis.config.filer import FilerConfig, RetryPolicy
from poiesis.filer.backends import SUPPORTED_SCHEMES
from poiesis.filer.cli import main
from poiesis.filer.errors import FilerError
from poiesis.filer.inputs import fetch_inputs
from poiesis.filer.outputs import output_types, upload_outputs
from poiesis.filer.roots import storage_prefixes
from poiesis.filer.spec import InputSpec, OutputSpec

__all__ = [
    "SUPPORTED_SCHEMES",
    "FilerConfig",
    "FilerError",
    "InputSpec",
    "OutputSpec",
    "RetryPolicy",
    "fetch_inputs",
    "main",
    "output_types",
    "storage_prefixes",
    "upload_outputs",
]
