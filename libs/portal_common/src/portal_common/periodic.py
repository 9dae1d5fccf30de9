"""Work a service repeats in the background (for example persisting a status that time changes)."""

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `work` every `interval_seconds` on a daemon thread until `stop()`. A failing run is
    logged and retried at the next interval: one bad run must not end the job."""

    def __init__(self, name: str, interval_seconds: float, work: Callable[[], object]):
        self._name = name
        self._interval = interval_seconds
        self._work = work
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "Periodic":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._work()
            except Exception:
                log.exception("%s failed; trying again in %s s", self._name, self._interval)
            self._stopped.wait(self._interval)
