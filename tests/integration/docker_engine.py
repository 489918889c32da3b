"""The local Docker engine as the container tests use it: a docker CLI call, and why a test must skip."""

from __future__ import annotations

import shutil
import subprocess

IMAGE = "llm-infra/debian:12"


def docker(*args: str) -> subprocess.CompletedProcess:
    """`docker ARGS`, its output captured; never raises on a failed command."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=120)


def engine_missing(image: str = IMAGE) -> str | None:
    """Why the engine cannot run the test hosts (the reason to skip with), or None when it can."""
    if shutil.which("docker") is None:
        return "no docker client: run scripts/prepare-engine.sh"
    if docker("info").returncode != 0:
        return "the Docker engine does not answer: run scripts/prepare-engine.sh"
    if docker("image", "inspect", image).returncode != 0:
        return f"the base image {image} is missing: run scripts/prepare-engine.sh"
    return None
