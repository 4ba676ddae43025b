"""The API's checking JSON parser (kernel/api_input.py) against DRF's own JSONParser, measured in the same
run on the same body: a production-intake batch of N conversations (the largest bodies the API takes).

    python benchmarks/bench_api_input.py [--conversations 500] [--repeat 7]

The check walks every string of the body (``kernel.text.json_problems``) after a bounded parse; the ratio
says what that costs per request. Process CPU time, best of ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import time


def body(conversations: int) -> bytes:
    from engine.rewards.rules.defaults import EXAMPLE_TASKS

    one = {
        "external_id": "c-0",
        "version": 1,
        "slot": "chase",
        "case": copy.deepcopy(EXAMPLE_TASKS["en"]),
        "messages": [
            {"role": "agent" if i % 2 == 0 else "hotel", "content": "Could the Deluxe King come to 690? " * 8}
            for i in range(12)
        ],
        "outcome": {"hotel_replied": True, "price_reduced_to_target": False, "ticket_closed": False},
    }
    return json.dumps([{**one, "external_id": f"c-{i}"} for i in range(conversations)]).encode()


def best(parse, raw: bytes, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        parse(io.BytesIO(raw))
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from django.conf import settings

    settings.configure(PARLEY_API_MAX_BODY_BYTES=64 * 1024 * 1024)
    from rest_framework.parsers import JSONParser

    from kernel.api_input import CleanJSONParser

    raw = body(args.conversations)
    context = {"request": None}
    drf = best(lambda s: JSONParser().parse(s, "application/json", {}), raw, args.repeat)
    ours = best(lambda s: CleanJSONParser().parse(s, "application/json", context), raw, args.repeat)
    print(f"body: {args.conversations} conversations, {len(raw) / 1e6:.1f} MB")
    print(f"DRF JSONParser:         {drf * 1000:8.1f} ms")
    print(f"kernel CleanJSONParser: {ours * 1000:8.1f} ms ({len(raw) / ours / 1e6:.0f} MB/s)")
    print(f"ratio (checked / DRF):  {ours / drf:8.2f}x")


if __name__ == "__main__":
    main()
