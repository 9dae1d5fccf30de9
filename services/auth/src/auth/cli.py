"""`portal`: administration of organizations and API keys, straight on the auth database. Like
the servicers for gRPC, it is an entry point: it alone knows the JSON it prints.

It works whether or not the stack runs (SQLite in WAL mode and PostgreSQL both allow it).
"""

import argparse
import json
import sys

from auth.config import Settings
from auth.server import open_accounts
from portal_common.domain_errors import DomainError


def _print(obj) -> None:
    print(json.dumps(obj))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal", description="Manage organizations and API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    org = commands.add_parser("org", help="organizations").add_subparsers(dest="action", required=True)
    org_create = org.add_parser("create", help="create an organization and its first API key")
    org_create.add_argument("name")
    org.add_parser("ensure-demo", help="create the demo organization if there is no organization yet")
    apikey = commands.add_parser("apikey", help="API keys").add_subparsers(dest="action", required=True)
    apikey.add_parser("create", help="create an API key").add_argument("--org", required=True)
    apikey.add_parser("list", help="list an organization's API keys").add_argument("--org", required=True)
    apikey.add_parser("revoke", help="revoke an API key").add_argument("key_id")
    args = parser.parse_args(argv)

    accounts = open_accounts(Settings.from_env())
    try:
        if args.command == "org" and args.action == "create":
            organization_id, secret = accounts.create_organization(args.name)
            _print({"organizationId": organization_id, "apiKey": secret})
        elif args.command == "org":
            created = accounts.ensure_demo_organization()
            if created:
                _print({"organizationId": created[0], "apiKey": created[1]})
        elif args.action == "create":
            _print({"organizationId": args.org, "apiKey": accounts.create_api_key(args.org)})
        elif args.action == "list":
            for key in accounts.list_api_keys(args.org):
                _print(
                    {
                        "id": key.id,
                        "prefix": key.prefix,
                        "createdAt": key.created_at,
                        "lastUsedAt": key.last_used_at,
                        "revokedAt": key.revoked_at,
                    }
                )
        else:
            _print({"id": args.key_id, "revokedAt": accounts.revoke_api_key(args.key_id).revoked_at})
    except DomainError as error:
        print(f"portal: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
