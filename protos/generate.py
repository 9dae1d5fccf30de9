"""Generates Python code and Envoy's descriptor set from protos/ into build/gen (never committed).

Two protoc calls, as Envoy and Python need different things: the Python code must not include
google/*_pb2.py modules (they would shadow googleapis-common-protos), while the descriptor set
must include every import and every google.rpc detail type the services send.
"""

import pathlib
import sys

import google.api.annotations_pb2
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent
OUT = ROOT.parent / "build" / "gen"
GOOGLEAPIS = pathlib.Path(google.api.annotations_pb2.__file__).parent.parent.parent
PROTOC_INCLUDE = pathlib.Path(protoc.__file__).parent / "_proto"


def run(args, root: pathlib.Path = ROOT):
    """protoc on sources under `root` (protos/, or another revision's copy of it)."""
    if protoc.main(["protoc", f"-I{root}", f"-I{GOOGLEAPIS}", f"-I{PROTOC_INCLUDE}", *args]) != 0:
        sys.exit(f"protoc failed: {' '.join(args)}")


def main():
    sources = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.proto"))
    OUT.mkdir(parents=True, exist_ok=True)
    run([f"--python_out={OUT}", f"--pyi_out={OUT}", f"--grpc_python_out={OUT}", *sources])
    run(
        [
            f"--descriptor_set_out={OUT / 'portal.pb'}",
            "--include_imports",
            # Comments too: the OpenAPI generator (portal_stack.openapi) makes them descriptions.
            "--include_source_info",
            *sources,
            "google/rpc/status.proto",
            "google/rpc/error_details.proto",
        ]
    )


if __name__ == "__main__":
    main()
