"""Tessera: a multi-tenant process and data platform."""
