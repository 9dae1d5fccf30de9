"""JSON logs and request ids (issue 14, part A: to be written)."""


def configure(service: str) -> None:
    pass


def server_interceptors() -> list:
    return []
