"""The optimizer as a service: `automl serve`, an HTTP API to submit a dataset, follow its study and use
the chosen model (docs/service.md).

One concern per module:

- `command.py`     the `serve` subcommand: its options, the token and bind checks, uvicorn
- `settings.py`    the service's settings (a typed dataclass; the token never in its repr)
- `auth.py`        the bearer token: reading the token file (mode 600), checking a request, the bind rule
- `options.py`     a submission's JSON options -> the same StudyConfig `automl run` builds
- `uploads.py`     uploads kept in the store (`_uploads/<random>/<safe name>`), size-limited as they stream
- `submission.py`  the one way to start a study (the API and the dashboard's form): check it as `automl run`
                   does, keep the upload, queue it
- `queue.py`       the queue in the store (`_queue/<study_id>.json`): what survives a killed service
- `launch.py`      where a queued study runs: a local runner process, or a Ray Job
- `dispatcher.py`  at most --max-running studies at once; an interrupted one is started again
- `runner.py`      `python -m automl.service.runner`: runs one queued study (resume where Tune allows,
                   restart otherwise) and records how it ended
- `views.py`       what the routes answer, read from the store only (manifest, report/, model/)
- `schemas.py`     the request and response bodies (pydantic)
- `serving.py`     a Ray Serve deployment per served model: loaded on first use, scaled to zero when idle
- `predictions.py` rows (CSV, JSON records, files) -> the modality's own prediction code -> the answer
- `app.py`         the FastAPI application: routes, limits, error bodies

Nothing here is imported by `automl` at start-up except `command.py`, which imports no web framework
until the service starts.
"""
