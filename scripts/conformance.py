"""Runs the public SCIM conformance checker (scim2-tester) against a server.

Usage: conformance.py BASE_URL TOKEN
Prints every failing check, then `N passed, N failed` (SUCCESS, COMPLIANT and
ACCEPTABLE pass; ERROR and CRITICAL fail; DEVIATION is a SHOULD-level note and
SKIPPED is neither), and exits 1 when anything failed.
"""

import sys
from collections import Counter

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASS = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
FAIL = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    results = check_server(SyncSCIMClient(http))
    counts = Counter(r.status for r in results)
    for r in results:
        if r.status in FAIL or r.status == Status.DEVIATION:
            print(f"{r.status.name} {r.title}: {r.reason}")
    skipped = counts[Status.SKIPPED]
    deviations = counts[Status.DEVIATION]
    print(f"conformance: {deviations} deviations (SHOULD-level), {skipped} skipped")
    passed = sum(counts[s] for s in PASS)
    failed = sum(counts[s] for s in FAIL)
    print(f"conformance: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
