"""Envoy's global rate-limit service for the portal, backed by Redis (see server.py)."""
