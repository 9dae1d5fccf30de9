import dataclasses
import os
import pathlib

from invoicing.adapters.payments_secrets import secrets_key
from invoicing.service_layer.renders import CACHE_BYTES
from portal_common.settings import ServiceSettings, env_int

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings(ServiceSettings):
    crm_timeout_seconds: float = 2
    auth_timeout_seconds: float = 2  # reading the organization's profile (the issuer)
    overdue_interval_seconds: float = 300
    # Memory for PDFs served again while their invoice is unchanged (0: every download renders).
    pdf_cache_mb: int = CACHE_BYTES // 2**20
    # The key that encrypts payment webhooks' signing secrets at rest (PORTAL_SECRETS_KEY, or one
    # generated once into the data directory); settings made in code get a key of their own.
    secrets_key: bytes = dataclasses.field(default_factory=lambda: os.urandom(32), repr=False)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service(
            "invoicing",
            threads=8,
            overdue_interval_seconds=env_int("INVOICING_OVERDUE_INTERVAL_SECONDS", 300),
            pdf_cache_mb=env_int("INVOICING_PDF_CACHE_MB", CACHE_BYTES // 2**20),
            secrets_key=secrets_key(),
        )
