"""moto's S3 server with atomic conditional writes, as a process: `python -m tests.moto_s3 --port N`.

AWS S3 lets exactly one of several concurrent `If-None-Match: *` PUTs of a key succeed. moto 5.2.5 checks
the header and then stores the object with nothing held between the two (moto/s3/responses.py,
`put_object`): with 16 writers racing on one key, 1 round in 300 had two winners. Serialising requests
that carry a precondition gives the contract S3 documents; every other request stays concurrent."""

from __future__ import annotations

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def atomic_preconditions(app):
    lock = threading.Lock()

    def serve(environ, start_response):
        if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ:
            with lock:
                return list(app(environ, start_response))  # the whole response inside the lock
        return app(environ, start_response)

    return serve


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    app = atomic_preconditions(DomainDispatcherApplication(create_backend_app))
    run_simple(a.host, a.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
