import dataclasses
import pathlib

from portal_common.settings import ServiceSettings

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings(ServiceSettings):
    # How long a write waits for the CRM to confirm a clientOrgId before answering 503.
    crm_timeout_seconds: float = 2.0

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service("projects", threads=8)
