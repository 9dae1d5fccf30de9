"""CRM service: contacts and CRM organizations of each tenant organization."""
