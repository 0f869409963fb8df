"""PynamoDB models: one table per entity family, each owning its keys and access patterns.

``ALL_MODELS`` is the single source of truth for tables: ``chalicelib.resources`` creates them locally
and ``infrastructure/`` renders them into the CloudFormation template from the same classes.
"""
