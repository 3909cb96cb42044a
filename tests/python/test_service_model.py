"""The service model the gateway and bedrock-local check requests against is the one the pinned
botocore publishes: shared/service-model/bedrock-runtime.json is what extract.py writes from it."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_checked_in_service_model_matches_the_pinned_botocore():
    r = subprocess.run(
        [sys.executable, str(ROOT / "shared/service-model/extract.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
