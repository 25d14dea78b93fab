"""Pydantic models of TES 1.2, generated from openapi/v1.2/task_execution_service.openapi.yaml.

DO NOT EDIT: written by scripts/generate. ``openapi.yaml`` beside the models is
a verbatim copy of the document, which the installed package serves.
"""
