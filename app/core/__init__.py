"""Cross-cutting machinery: configuration, database, tenancy, security, errors."""
