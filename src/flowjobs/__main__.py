"""``python -m flowjobs`` and the ``flowjobs`` command.

The command line needs the server's packages (``flowjobs[server]``); an
install of the client alone (httpx and pydantic) gets one line saying so
instead of a traceback.
"""

import sys

_SERVER_ONLY = {"typer", "fastapi", "sqlalchemy", "uvicorn", "pydantic_settings", "yaml"}


def run() -> None:
    try:
        from flowjobs.cli import main
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _SERVER_ONLY:
            raise
        print(
            f"error: the flowjobs command needs the server's packages ({exc.name} is missing): "
            "pip install 'flowjobs[server]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    main()


if __name__ == "__main__":
    run()
