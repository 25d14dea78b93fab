"""Pydantic models of the TES API, generated from openapi/task_execution_service.openapi.yaml.

DO NOT EDIT: written by scripts/generate. Import the models from
``generated.models``; ``openapi.yaml`` beside them is a verbatim copy of the
document, which the installed package serves. Hand-written code belongs in poiesis/.
"""
