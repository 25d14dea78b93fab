"""The TES API documents and their pydantic models, generated from openapi/.

DO NOT EDIT: written by scripts/generate. ``generated.v<major>_<minor>`` holds
each version's models and document (openapi/v<version>/task_execution_service.openapi.yaml);
``generated.models`` re-exports the models of TES 1.2, the ones the server works with
whatever version it serves. Hand-written code belongs in poiesis/.
"""
