"""HTTP API blueprints, one per resource family. Handlers parse, call a service, return."""
