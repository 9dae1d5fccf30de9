"""Sentry error reports when SENTRY_DSN is set (issue 14, part A: to be written)."""


def configure(service: str) -> None:
    pass
