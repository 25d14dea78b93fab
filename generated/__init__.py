"""Pydantic models of the TES API, generated from openapi/task_execution_service.openapi.yaml.

DO NOT EDIT: written by scripts/generate. Import the models from
``generated.models``; hand-written code belongs in poiesis/.
"""
