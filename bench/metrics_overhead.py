"""What the request metrics cost a request (bench/README.md, "Metrics overhead").

Times, in this process, the CPU work that portal_common.metrics adds to each request: the
interceptor around a method that does nothing (two clock reads, a counter and a histogram), a
statement's time observed (twice per typical read), and a credential cache hit counted. Each
against the bare call, best of 5 runs of 200,000 calls.
"""

import os
import timeit

import grpc

from portal_common import metrics

CALLS = 200_000


class Context:
    """What the interceptor asks of a servicer context: the code a handler set (none here)."""

    def code(self) -> grpc.StatusCode | None:
        return None


def best_microseconds(call) -> float:
    return min(timeit.repeat(call, number=CALLS, repeat=5)) / CALLS * 1e6


def main() -> None:
    os.environ["CRM_METRICS_PORT"] = "0"  # the CRM's labels, without its HTTP server
    metrics.start_server("crm")
    interceptor = metrics.server_interceptors()[0]
    context, request = Context(), object()
    method = "/portal.crm.v1.CrmService/GetContact"

    def behavior(request, context):
        return request

    bare = best_microseconds(lambda: behavior(request, context))
    wrapped = best_microseconds(lambda: interceptor.around(method, behavior, request, context))
    query = best_microseconds(lambda: metrics.observe_query(0.0001))
    hit = best_microseconds(metrics.credential_cache_hit)
    print("| what | µs per call |")
    print("|---|---|")
    print(f"| a method that does nothing, bare | {bare:.2f} |")
    print(f"| the same through the metrics interceptor | {wrapped:.2f} (+{wrapped - bare:.2f}) |")
    print(f"| a statement's time observed | {query:.2f} |")
    print(f"| a credential cache hit counted | {hit:.2f} |")
    print(f"| a typical read (interceptor, 2 statements, 1 cache hit) | {wrapped - bare + 2 * query + hit:.2f} |")


if __name__ == "__main__":
    main()
