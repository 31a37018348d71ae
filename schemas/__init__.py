"""Schemas of corpusforge: configuration models, column schemas, manifests and reports.

Every persisted structure carries a version so that readers can refuse what they do not understand.
"""
SCHEMA_VERSION = 1
