"""The gateway's exchange log, written behind the response.

The request handler only puts a record on an in-memory queue (``ExchangeWriter.put``, no I/O); one
background thread takes batches off it and writes them: a ``GatewayExchange`` row per exchange and, for
every answered exchange, a production conversation through ``deploy.services.intake.intake_conversations``
(source ``gateway``; its guardrail hits open bad cases linked to the version). At shutdown (uvicorn's
lifespan, on SIGTERM or SIGINT) the thread drains the queue before the process exits. What can be lost:
the records still queued when the process is killed without a shutdown (SIGKILL, OOM, power) — at most
the last ``FLUSH_EVERY_S`` seconds of exchanges plus one batch being written; and records put while the
queue holds ``MAX_QUEUED`` (counted in ``dropped`` and logged).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime

log = logging.getLogger("parley.gateway")
MAX_QUEUED = 10_000
BATCH = 100
FLUSH_EVERY_S = 0.5
_STOP = object()


class ExchangeWriter:
    def __init__(self, *, write=None, batch: int = BATCH, every_s: float = FLUSH_EVERY_S):
        self.queue: queue.Queue = queue.Queue(maxsize=MAX_QUEUED)
        self.write = write or write_exchanges
        self.batch, self.every_s = batch, every_s
        self.dropped = 0
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="gateway-log", daemon=True)
            self.thread.start()

    def put(self, record: dict) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            log.error("gateway log: queue full, exchange %s not logged", record.get("exchange_id"))

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything put so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.queue.unfinished_tasks

    def stop(self) -> None:
        """Write what is queued, then end the thread and close its database connection."""
        if self.thread is not None and self.thread.is_alive():
            self.queue.put(_STOP)
            self.thread.join()
        self.thread = None

    def _run(self) -> None:
        from django.db import connection

        try:
            while True:
                first = self.queue.get()
                items, stop = ([] if first is _STOP else [first]), first is _STOP
                deadline = time.monotonic() + self.every_s
                while not stop and len(items) < self.batch:
                    try:
                        item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                    else:
                        items.append(item)
                if items:
                    try:
                        self.write(items)
                    except Exception:  # a broken batch must not end the log
                        log.exception("gateway log: %d exchanges not written", len(items))
                for _ in range(len(items) + (1 if stop else 0)):
                    self.queue.task_done()
                if stop:
                    return
        finally:
            connection.close()


def _conversation(record: dict) -> dict:
    from deploy.services.intake import rule_category

    chat, target = record["chat"], record["target"]
    messages = [{"role": m["role"], "content": m["content"]} for m in chat.history]
    messages.append({"role": "agent", "content": record["reply"]})
    turn = len(messages) - 1
    outcome = {"hotel_replied": True, "price_reduced_to_target": False, "ticket_closed": False}
    outcome.update(chat.outcome or {})
    hits, seen = [], set()
    for v in record["verdicts"]:
        if v["rule"] in seen or rule_category(v["rule"]) is None:  # a rule without a bad-case category
            continue
        seen.add(v["rule"])
        hits.append({"rule": v["rule"], "evidence": v["evidence"], "turn": turn, "reply": v.get("reply", "")})
        if not hits[-1]["reply"] or hits[-1]["reply"] == record["reply"]:
            del hits[-1]["reply"]
    return {
        "external_id": f"gateway-{record['exchange_id']}",
        "version": target.version_id,
        "slot": target.slot or target.version_name,
        "hotel_id": chat.hotel_id,
        "case": record["case"],
        "messages": messages,
        "outcome": outcome,
        "guardrail_hits": hits,
        "latency_ms": record["latency_ms"],
        "occurred_at": datetime.fromtimestamp(record["at"], tz=UTC).isoformat(),
    }


def write_exchanges(records: list[dict]) -> None:
    """Write a batch: production conversations (one intake batch; one by one if the batch is refused),
    then the exchange rows linked to them."""
    from deploy.gateway_models import GatewayExchange
    from deploy.services.intake import IntakeError, intake_conversations

    answered = [r for r in records if r["status"] == 200 and r["reply"]]
    conversations: dict[str, int] = {}
    if answered:
        bodies = [_conversation(r) for r in answered]
        try:
            result = intake_conversations(bodies, source="gateway")
            created = result.created
        except IntakeError:
            created = []
            for body in bodies:
                try:
                    created += intake_conversations([body], source="gateway").created
                except IntakeError as error:
                    log.warning("gateway log: %s not taken in: %s", body["external_id"], error.message)
        conversations = {c.external_id: c.pk for c in created}
    rows = []
    for r in records:
        chat, target = r["chat"], r["target"]
        rows.append(
            GatewayExchange(
                exchange_id=r["exchange_id"],
                key_id=r["key_id"],
                requested_model=chat.model,
                slot=target.slot,
                version_id=target.version_id,
                hotel_id=chat.hotel_id,
                case_id=chat.case_id,
                request=chat.raw,
                reply=r["reply"],
                status=r["status"],
                error=r["error"][:2000],
                latency_ms=r["latency_ms"],
                stream=chat.stream,
                guardrail_mode=target.guardrail.mode,
                verdicts=r["verdicts"],
                retries=r["retries"],
                fallback=r["fallback"],
                conversation_id=conversations.get(f"gateway-{r['exchange_id']}"),
                at=datetime.fromtimestamp(r["at"], tz=UTC),
            )
        )
    GatewayExchange.objects.bulk_create(rows, ignore_conflicts=True)
