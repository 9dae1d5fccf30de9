"""Infrastructure shared by the portal services. No domain code lives here."""
