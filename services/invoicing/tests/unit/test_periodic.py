import threading

from portal_common.periodic import Periodic


def test_runs_repeatedly_and_survives_a_failing_run():
    runs = []
    done = threading.Event()

    def work():
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("the database is away")
        if len(runs) >= 3:
            done.set()

    job = Periodic("test job", 0.01, work).start()
    assert done.wait(5)
    job.stop()
    assert len(runs) >= 3
