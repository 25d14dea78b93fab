"""The models the server works with: those of TES 1.2, the newest version (DO NOT EDIT)."""

from generated.v1_2.models import *  # noqa: F403
