"""Build ``fixtures/scalekit-v1.binpb``, the descriptor set the gRPC face speaks, and its notice.

The input is the official Python SDK (scalekit-sdk-python, the 'drivers' extra): every ``scalekit.v1`` ``_pb2``
module it ships, the files they import, and ``google/rpc/status.proto`` (the errors' details trailer). The SDK
is a build-time input only: the mock reads the set, never the SDK.

``google/protobuf/descriptor.proto`` is left out. The files need it only as the extendee of their options, it
changes with every protobuf release, and every protobuf runtime carries its own (``messages.py`` loads that one):
with it the set would go stale with nearly every protobuf release, not only with a new SDK.

    python scripts/build_descriptor_set.py          # write the set and its notice
    python scripts/build_descriptor_set.py --check  # exit 1 when the committed files differ from what it writes
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
import sys
from collections.abc import Iterable
from pathlib import Path

import scalekit.v1
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor
from google.rpc import status_pb2

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SET = FIXTURES / "scalekit-v1.binpb"
NOTICE = FIXTURES / "scalekit-v1.binpb.NOTICE.md"
SDK = "scalekit-sdk-python"
LEFT_OUT = "google/protobuf/descriptor.proto"

# Where each file of the set comes from: (path prefix, distribution that ships it, origin and licence).
ORIGINS = (
    ("scalekit/", SDK, "github.com/scalekit-inc/scalekit-sdk-python, MIT (below)"),
    ("buf/validate/", SDK, "bufbuild/protovalidate (Buf Technologies, Inc.), Apache-2.0"),
    ("google/protobuf/", "protobuf", "protocolbuffers/protobuf (Google Inc.), BSD-3-Clause"),
    ("google/api/", "googleapis-common-protos", "googleapis/googleapis (Google LLC), Apache-2.0"),
    ("google/rpc/", "googleapis-common-protos", "googleapis/googleapis (Google LLC), Apache-2.0"),
    ("protoc-gen-openapiv2/", "protoc-gen-openapiv2", "grpc-ecosystem/grpc-gateway, BSD-3-Clause"),
)


def sdk_files() -> list[FileDescriptor]:
    """The files of every ``scalekit.v1`` ``_pb2`` module of the installed SDK, and ``google/rpc/status.proto``."""
    found = [status_pb2.DESCRIPTOR]
    for module in pkgutil.walk_packages(scalekit.v1.__path__, "scalekit.v1."):
        if module.name.endswith("_pb2"):
            found.append(importlib.import_module(module.name).DESCRIPTOR)
    return found


def in_dependency_order(files: Iterable[FileDescriptor]) -> list[FileDescriptor]:
    """The files and all they import, each after its imports; ties by name, so the order never varies."""
    ordered: list[FileDescriptor] = []
    seen: set[str] = set()

    def visit(file: FileDescriptor) -> None:
        if file.name in seen or file.name == LEFT_OUT:
            return
        seen.add(file.name)
        for dependency in sorted(file.dependencies, key=lambda d: d.name):
            visit(dependency)
        ordered.append(file)

    for file in sorted(files, key=lambda f: f.name):
        visit(file)
    return ordered


def descriptor_set(files: Iterable[FileDescriptor]) -> bytes:
    """A ``FileDescriptorSet`` of the files as their modules embed them, serialized deterministically."""
    protos = [descriptor_pb2.FileDescriptorProto.FromString(f.serialized_pb) for f in files]
    return descriptor_pb2.FileDescriptorSet(file=protos).SerializeToString(deterministic=True)


def notice(files: Iterable[FileDescriptor], sdk_version: str) -> str:
    names = [f.name for f in files]
    unknown = [n for n in names if not n.startswith(tuple(prefix for prefix, _, _ in ORIGINS))]
    if unknown:
        raise SystemExit(f"no known origin for {', '.join(unknown)}: add it to ORIGINS")
    counts = {prefix: sum(n.startswith(prefix) for n in names) for prefix, _, _ in ORIGINS}
    rows = [f"| `{prefix}` | {counts[prefix]} | {distribution} | {source} |"
            for prefix, distribution, source in ORIGINS if counts[prefix]]
    return "\n".join([
        "# scalekit-v1.binpb",
        "",
        "A `google.protobuf.FileDescriptorSet` of the Scalekit API, read by `mock_server/faces/messages.py`.",
        f"Built by `scripts/build_descriptor_set.py` from {SDK} {sdk_version} (the descriptors its generated",
        "modules embed) and the files they import, as the packages below install them;",
        f"`{LEFT_OUT}` is left out (the protobuf runtime has its own). Regenerate it with that script",
        "whenever the pinned SDK changes. No part of the SDK's code is copied or run by the mock.",
        "",
        "| files | how many | installed by | origin, licence |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        "## The Scalekit descriptors",
        "",
        "MIT License",
        "",
        "Copyright (c) 2024 Scalekit Inc",
        "",
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and",
        'associated documentation files (the "Software"), to deal in the Software without restriction, including',
        "without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell",
        "copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the",
        "following conditions:",
        "",
        "The above copyright notice and this permission notice shall be included in all copies or substantial",
        "portions of the Software.",
        "",
        'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT',
        "LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO",
        "EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER",
        "IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE",
        "USE OR OTHER DEALINGS IN THE SOFTWARE.",
        "",
        "## The other descriptors",
        "",
        "The google, buf and protoc-gen-openapiv2 files keep the licences of their projects, named in the table;",
        "the full texts ship with the packages that install them.",
        "",
    ])


def build() -> dict[Path, bytes]:
    files = in_dependency_order(sdk_files())
    sdk_version = importlib.metadata.version(SDK)
    return {SET: descriptor_set(files), NOTICE: notice(files, sdk_version).encode("utf-8")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed files are not current")
    args = parser.parse_args(argv)
    outputs = build()
    if args.check:
        stale = [path for path, data in outputs.items() if not path.is_file() or path.read_bytes() != data]
        for path in stale:
            print(f"{path.relative_to(FIXTURES.parent)} is not what {SDK} {importlib.metadata.version(SDK)} "
                  "gives: run scripts/build_descriptor_set.py", file=sys.stderr)
        return 1 if stale else 0
    for path, data in outputs.items():
        path.write_bytes(data)
        print(f"wrote {path.relative_to(FIXTURES.parent)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
