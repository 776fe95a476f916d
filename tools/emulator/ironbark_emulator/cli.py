"""Command line: start moto's server with the Ironbark patches applied."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from typing import Any


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(prog="python -m ironbark_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port to bind (0 = pick a free one)")
    p.add_argument("--time-scale", default="1", help="multiplier for AWS durations, or 'instant' (= 0)")
    p.add_argument("--state-dir", default=None,
                   help="directory for emulator state (PostgreSQL data); default: a temp dir removed at exit")
    p.add_argument("--region", default="us-east-1", help="default region (default us-east-1)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the emulator in the foreground until SIGTERM/SIGINT."""
    args = parse_args(argv)
    # AWS-managed IAM policies (arn:aws:iam::aws:policy/...) exist in every real account.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    os.environ.setdefault("AWS_DEFAULT_REGION", args.region)
    os.environ.setdefault("MOTO_DEFAULT_REGION", args.region)

    from ironbark_emulator import clock

    clock.set_time_scale(args.time_scale)
    state_dir = args.state_dir or tempfile.mkdtemp(prefix="ironbark-emulator-")
    os.makedirs(state_dir, exist_ok=True)
    cleanup_state = args.state_dir is None

    from werkzeug.serving import make_server

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    from ironbark_emulator import patches, pg
    from ironbark_emulator.app import IronbarkApp

    pg.configure(state_dir)
    patches.apply_all()

    moto_app = DomainDispatcherApplication(create_backend_app)
    app = IronbarkApp(moto_app)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    os.environ["MOTO_PORT"] = str(port)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"ironbark-emulator listening on http://{args.host}:{port} "
          f"(time scale {clock.get_time_scale()})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        pg.shutdown()
        if cleanup_state:
            import shutil

            shutil.rmtree(state_dir, ignore_errors=True)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
