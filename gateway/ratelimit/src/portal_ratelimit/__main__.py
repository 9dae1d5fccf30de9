"""`python -m portal_ratelimit`: the rate-limit service in the foreground (settings: see server.py)."""

from portal_ratelimit.server import main

main()
