"""moto server for the test suite, with every request applied one at a time.

moto's own `moto_server` handles requests on parallel threads without a lock around its backends,
so two concurrent DynamoDB TransactWriteItems on one item can both pass their condition checks
(seen in the store's two-writers contract test: both commits won). Real DynamoDB never allows
that. Serialising the requests gives the tests DynamoDB's atomicity; connections are still
accepted in parallel, so a client's idle keep-alive connection never blocks another.

Usage: python scripts/moto_server.py HOST PORT
"""

import os
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            # Drain the response inside the lock: the backend's work happens while it is built.
            return list(app(environ, start_response))

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
