"""The gateway's exchange log, written behind the response.

The request handler only puts a record on an in-memory queue (``ExchangeWriter.put``, no I/O); one
background thread takes batches off it and writes them: a ``GatewayExchange`` row per exchange and, for
every answered exchange, a production conversation through ``deploy.services.intake.intake_conversations``
(source ``gateway``; its guardrail hits open bad cases linked to the version). At shutdown (uvicorn's
lifespan, on SIGTERM or SIGINT) the thread drains the queue before the process exits. The intake itself
runs in a Celery task (``deploy.gateway_intake``) so that its work does not compete with the requests. What can be lost:
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


def _conversation(row) -> dict:
    """The production conversation of a logged exchange (intake's shape): the dialogue so far plus the reply."""
    from deploy.services.intake import rule_category

    request = row.request
    messages = [
        {"role": "agent" if m["role"] == "assistant" else "hotel", "content": m["content"]} for m in request["messages"]
    ]
    messages.append({"role": "agent", "content": row.reply})
    turn = len(messages) - 1
    outcome = {"hotel_replied": True, "price_reduced_to_target": False, "ticket_closed": False}
    outcome.update(request.get("outcome") or {})
    hits, seen = [], set()
    for v in row.verdicts:
        if v["rule"] in seen or rule_category(v["rule"]) is None:  # a rule without a bad-case category
            continue
        seen.add(v["rule"])
        hit = {"rule": v["rule"], "evidence": v["evidence"], "turn": turn}
        if v.get("reply") and v["reply"] != row.reply:
            hit["reply"] = v["reply"]  # the reply the guardrail blocked
        hits.append(hit)
    return {
        "external_id": f"gateway-{row.exchange_id}",
        "version": row.version_id,
        "slot": row.slot or row.version.name,
        "hotel_id": row.hotel_id,
        "case": request["case"] if request.get("case") is not None else row.case.to_task(),
        "messages": messages,
        "outcome": outcome,
        "guardrail_hits": hits,
        "latency_ms": row.latency_ms,
        "occurred_at": row.at.isoformat(),
    }


def intake_exchanges(exchange_ids: list[str]) -> int:
    """Take the answered exchanges among ``exchange_ids`` in as production conversations (source
    ``gateway``; one intake batch, one by one if the batch is refused) and link them. Idempotent: an
    exchange already linked, or whose conversation exists, is skipped."""
    from deploy.gateway_models import GatewayExchange
    from deploy.intake_models import ProductionConversation
    from deploy.services.intake import IntakeError, intake_conversations

    rows = list(
        GatewayExchange.objects.filter(exchange_id__in=exchange_ids, status=200, conversation__isnull=True)
        .exclude(reply="")
        .select_related("version", "case")
    )
    if not rows:
        return 0
    bodies = []
    for row in rows:
        try:
            bodies.append(_conversation(row))
        except Exception:  # a case deleted since: the exchange stays in the log only
            log.warning("gateway log: exchange %s has no case to take in", row.exchange_id)
    try:
        intake_conversations(bodies, source="gateway")
    except IntakeError:
        for body in bodies:
            try:
                intake_conversations([body], source="gateway")
            except IntakeError as error:
                log.warning("gateway log: %s not taken in: %s", body["external_id"], error.message)
    linked = dict(
        ProductionConversation.objects.filter(external_id__in=[f"gateway-{r.exchange_id}" for r in rows]).values_list(
            "external_id", "pk"
        )
    )
    for row in rows:
        conversation = linked.get(f"gateway-{row.exchange_id}")
        if conversation:
            GatewayExchange.objects.filter(pk=row.pk).update(conversation_id=conversation)
    return len(linked)


def write_exchanges(records: list[dict]) -> None:
    """Write a batch of exchange rows, then have them taken in as production conversations: by a Celery
    task on the default queue (``PARLEY_GATEWAY_INTAKE = "task"``, the default: the intake's work stays
    out of the gateway's process) or here (``"inline"``)."""
    from django.conf import settings

    from deploy.gateway_models import GatewayExchange

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
                at=datetime.fromtimestamp(r["at"], tz=UTC),
            )
        )
    GatewayExchange.objects.bulk_create(rows, ignore_conflicts=True)
    answered = [r["exchange_id"] for r in records if r["status"] == 200 and r["reply"]]
    if not answered:
        return
    if getattr(settings, "PARLEY_GATEWAY_INTAKE", "task") == "inline":
        intake_exchanges(answered)
    else:
        from deploy.tasks import gateway_intake

        gateway_intake.delay(answered)
