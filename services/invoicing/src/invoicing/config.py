import dataclasses
import os
import pathlib

from invoicing.service_layer.renders import CACHE_BYTES
from portal_common.sealed_secrets import secrets_key
from portal_common.settings import ServiceSettings, data_dir, env_int, env_str

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
    # Invoice emails (docs/email.md): over SMTP when smtp_url is set (PORTAL_SMTP_URL, which may
    # hold a password: never logged), else written as .eml files into mail_dir.
    smtp_url: str = dataclasses.field(default="", repr=False)
    smtp_ca_file: str = ""
    mail_from: str = "invoices@localhost"
    mail_dir: pathlib.Path = dataclasses.field(default_factory=lambda: data_dir() / "mail")

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service(
            "invoicing",
            threads=8,
            overdue_interval_seconds=env_int("INVOICING_OVERDUE_INTERVAL_SECONDS", 300),
            pdf_cache_mb=env_int("INVOICING_PDF_CACHE_MB", CACHE_BYTES // 2**20),
            secrets_key=secrets_key(),
            smtp_url=os.environ.get("PORTAL_SMTP_URL", ""),
            smtp_ca_file=os.environ.get("PORTAL_SMTP_CA_FILE", ""),
            mail_from=env_str("PORTAL_MAIL_FROM", "invoices@localhost"),
        )
