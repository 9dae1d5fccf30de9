"""Auth service: organizations and their API keys."""
