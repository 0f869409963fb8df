"""Lightbox backend package: everything app.py wires together."""
