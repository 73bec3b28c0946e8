"""`automl submit` against a head node in its first seconds: the Jobs API answers "No available agent"
until its job agent is up; the submission waits for it instead of failing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import automl.jobs as jobs
from automl.errors import ConfigError

# Ray's own answer (ray/dashboard/modules/job/job_head.py), as JobSubmissionClient raises it
NO_AGENT = "Request failed with status code 500: No available agent to submit job, please try again later.."


def test_the_message_is_the_one_ray_sends() -> None:
    import ray.dashboard.modules.job.job_head as job_head

    assert "No available agent to submit job, please try again later." in Path(job_head.__file__).read_text()


class StartingHead:
    """Answers like a head whose job agent comes up after `refusals` requests."""

    def __init__(self, refusals: int, reason: str = NO_AGENT) -> None:
        self.refusals, self.reason, self.calls = refusals, reason, 0

    def submit_job(self, **request) -> str:
        self.calls += 1
        if self.calls <= self.refusals:
            raise RuntimeError(self.reason)
        return request["submission_id"]


def test_submit_waits_for_the_job_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs.time, "sleep", lambda s: None)
    head = StartingHead(refusals=3)
    assert (
        jobs._submit_with_retries(head, "http://127.0.0.1:8265", {"submission_id": "automl-s1"})
        == "automl-s1"
    )
    assert head.calls == 4


def test_a_refusal_that_is_not_transient_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs.time, "sleep", lambda s: None)
    head = StartingHead(refusals=99, reason="Request failed with status code 400: bad runtime_env")
    message = (
        "The Ray Jobs API at http://127.0.0.1:8265 did not take the job: Request failed with status code 400: "
        "bad runtime_env. Try again in a minute."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        jobs._submit_with_retries(head, "http://127.0.0.1:8265", {"submission_id": "automl-s1"})
    assert head.calls == 1


@pytest.mark.parametrize("reason", [NO_AGENT, "Request failed with status code 503: Service Unavailable"])
def test_transient_answers(reason: str) -> None:
    assert jobs._is_transient(reason)


def test_submit_refuses_a_name_outside_the_rule() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("The 'name' parameter of automl submit must be 1 to 100")
    ):
        jobs.new_study_id("studies", "data.csv", "../escape")
