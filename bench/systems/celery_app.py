"""The Celery app of the bench: ``celery -A systems.celery_app worker``."""

from __future__ import annotations

import os
import time

from celery import Celery
from probe import send

BROKER_ENV, BACKEND_ENV = "BENCH_CELERY_BROKER", "BENCH_CELERY_BACKEND"


def make_app(broker: str, backend: str) -> Celery:
    app = Celery("bench", broker=broker, backend=backend)
    app.conf.broker_connection_retry_on_startup = True

    @app.task(name="noop")
    def noop() -> None:
        return None

    @app.task(name="touch")
    def touch(tag: str) -> None:
        send(tag, "start")

    @app.task(name="sleep")
    def sleep(tag: str) -> None:
        send(tag, "start")
        time.sleep(600)

    return app


app = make_app(
    os.environ.get(BROKER_ENV, "memory://"), os.environ.get(BACKEND_ENV, "cache+memory://")
)
