"""The `automl` command's entry point (cli.entry): main()'s exit code, no module teardown, a closed pipe."""

from __future__ import annotations

import subprocess
import sys


def _automl(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "automl.cli", *args], **kwargs)


def test_the_command_exits_with_mains_code_and_says_everything(tmp_path) -> None:
    done = _automl(
        "studies", "--storage", str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0 and out.strip().lower() == f"no studies in {tmp_path}" and err == ""
    bad = _automl(
        "show", "no-such-study", "--storage", str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and err.decode().startswith("error: ") and "Traceback" not in err.decode()


def test_a_reader_that_goes_away_stops_the_command_quietly(tmp_path) -> None:
    # `automl studies | head -0`: the pipe is closed before the command writes its line.
    child = _automl("studies", "--storage", str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err
