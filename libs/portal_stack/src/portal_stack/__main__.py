"""`python -m portal_stack` (what `make run` runs): start everything, stay in the foreground."""

import os
import signal
import sys

from portal_stack.stack import OWNER_ONLY, Stack, StackConfig


def main() -> int:
    os.umask(OWNER_ONLY)  # the data directory and everything in it are the owner's only
    config = StackConfig.from_env()
    stack = Stack(config)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C stops everything even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.start()
        demo = stack.ensure_demo_organization()
        base = f"http://{config.listen_address}:{config.http_port}/api/v1"
        print(f"\nPortal API serving at {base}  (data in {config.data_dir}; Ctrl-C stops everything)")
        if demo:
            print(
                "\nCreated the demo organization. Its API key is shown only this once:\n"
                f"  organizationId: {demo['organizationId']}\n  apiKey:         {demo['apiKey']}\n"
                f"  try: curl -H 'Authorization: Bearer {demo['apiKey']}' {base}/crm/contacts\n"
            )
        sys.stdout.flush()
        stack.keep_running(lambda line: print(f"portal: {line}", file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
