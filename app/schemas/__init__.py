"""Pydantic request/response schemas, one module per domain (camelCase JSON)."""
