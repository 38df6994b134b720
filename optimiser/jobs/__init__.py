"""Async optimisation jobs: records (store.py), the dramatiq queue and handler (service.py), the
runner that works a job in the platform or in a `resumeopt worker` process (runner.py)."""
