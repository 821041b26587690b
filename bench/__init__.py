"""Benchmarks run from the checkout (`make bench`); not part of the installed package.

- `bench.claims`: end-to-end synchronous claims against `adjudicator run`, compared
  with a bare-Flask baseline (`bench.baseline_app`) served by the same gunicorn settings.
- `bench.procs`: start and stop the servers (every process we start is stopped).
- `bench.load`: closed-loop and open-loop HTTP load from cheap http.client threads.
- `bench.workload`: the patients to enroll and the claims to bill.
"""
