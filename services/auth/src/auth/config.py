import dataclasses
import pathlib

from portal_common.settings import ServiceSettings, env_int

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings(ServiceSettings):
    session_ttl_seconds: int = 30 * 24 * 3600
    # How long a sign-in waits for the CRM to find the user's contact before going on without it.
    crm_link_timeout_seconds: float = 0.8
    # How often expired and ended sessions are deleted.
    session_purge_interval_seconds: int = 3600

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service(
            "auth",
            threads=8,
            session_ttl_seconds=env_int("PORTAL_SESSION_TTL_SECONDS", 30 * 24 * 3600),
            session_purge_interval_seconds=env_int("PORTAL_SESSION_PURGE_SECONDS", 3600),
        )
