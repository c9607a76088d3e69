"""Write the sample ingest batches under fixtures/ (deterministic; rerun after changing it).

Each file in fixtures/batches/ is one batch as PowerMTA's Signals connector
sends it: NDJSON lines of ``{"msys": {grouping: {...}}}`` with string values
and Unix-second timestamps.  fixtures/broken/ contains deliberately bad batches.
Timestamps are fixed, so upload them with ``emulator send --shift-timestamps``
(or start the server with ``--max-event-age 0``).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "fixtures"
BASE = 1764835200  # 2025-12-04T08:00:00Z


def message_id(n: int) -> str:
    # SparkPost style: "0000" + 8 hex digits of a Unix time + 8 hex digits.
    return f"0000{BASE:08x}{n:08x}"


def common(n: int, campaign: str, pool: str, ip: str, rcpt: str) -> dict[str, str]:
    return {
        "message_id": message_id(n),
        "custom_message_id": f"<{n}.pmta@mta1.example.com>",
        "rcpt_to": rcpt,
        "msg_from": "bounces@bounces.example.com",
        "friendly_from": "news@example.com",
        "friendly_name": "Example News",
        "subject": "Spring sale starts today",
        "campaign_id": campaign,
        "binding": f"vmta-{pool}",
        "binding_group": pool,
        "sending_ip": ip,
        "routing_domain": rcpt.split("@")[1],
        "msg_size": "5123",
        "subaccount_id": "0",
        "open_tracking": "1",
        "click_tracking": "1",
    }


def event(grouping: str, fields: dict[str, str]) -> str:
    return json.dumps({"msys": {grouping: fields}}, separators=(",", ":"))


def lifecycle() -> list[str]:
    """Message events of four messages across two campaigns, pools and IPs."""
    lines = []
    plan = [
        (1, "spring-sale", "pool-a", "192.0.2.10", "alice@gmail.test", "delivery"),
        (2, "spring-sale", "pool-a", "192.0.2.10", "bob@yahoo.test", "inband"),
        (3, "welcome", "pool-b", "192.0.2.20", "carol@outlook.test", "tempfail"),
        (4, "welcome", "pool-b", "192.0.2.20", "dave@gmail.test", "delivery"),
    ]
    eid = 1000000000000000000
    for n, campaign, pool, ip, rcpt, outcome in plan:
        base = common(n, campaign, pool, ip, rcpt)
        eid += 1
        lines.append(event("message_event", {**base, "type": "reception", "event_id": str(eid), "timestamp": str(BASE + n), "recv_method": "smtp"}))
        eid += 1
        if outcome == "delivery":
            lines.append(event("message_event", {**base, "type": "delivery", "event_id": str(eid), "timestamp": str(BASE + n + 5), "recv_method": "smtp", "delv_method": "esmtp", "num_retries": "0", "queue_time": "5000", "ip_address": "198.51.100.25"}))
        elif outcome == "inband":
            reply = "550 5.1.1 <bob@yahoo.test>: Recipient address rejected: User unknown (198.51.100.26)"
            lines.append(event("message_event", {**base, "type": "inband", "event_id": str(eid), "timestamp": str(BASE + n + 5), "recv_method": "smtp", "num_retries": "0", "bounce_class": "10", "error_code": "550", "raw_reason": reply, "reason": reply}))
        else:
            reply = "452 4.2.2 <carol@outlook.test>: mailbox full"
            fields = {k: v for k, v in base.items() if k != "routing_domain"}
            lines.append(event("message_event", {**fields, "type": "tempfail", "event_id": str(eid), "timestamp": str(BASE + n + 5), "recv_method": "smtp", "num_retries": "1", "queue_time": "60000", "bounce_class": "22", "error_code": "452", "raw_reason": reply, "reason": reply}))
    return lines


def after_delivery() -> list[str]:
    """Out-of-band bounce, complaint, opens, clicks and unsubscribes for the delivered messages."""
    eid = 2000000000000000000
    rows = [
        ("message_event", {"type": "outofband", "message_id": message_id(4), "rcpt_to": "dave@gmail.test", "delv_method": "esmtp", "bounce_class": "10", "error_code": "550", "raw_reason": "550 5.0.0 <dave@gmail.test>... User unknown", "reason": "550 5.0.0 <dave@gmail.test>... User unknown", "subaccount_id": "0"}),
        ("message_event", {"type": "feedback", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "fbtype": "abuse", "report_by": "fbl.gmail.test", "subaccount_id": "0"}),
        ("track_event", {"type": "initial_open", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "ip_address": "203.0.113.5"}),
        ("track_event", {"type": "open", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "ip_address": "203.0.113.5"}),
        ("track_event", {"type": "click", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "ip_address": "203.0.113.5", "target_link_url": "https://shop.example.com/spring?utm_source=email", "target_link_name": "Shop now"}),
        ("track_event", {"type": "amp_open", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "user_agent": "Mozilla/5.0", "ip_address": "203.0.113.5"}),
        ("track_event", {"type": "amp_initial_open", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "user_agent": "Mozilla/5.0", "ip_address": "203.0.113.5"}),
        ("track_event", {"type": "amp_click", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "user_agent": "Mozilla/5.0", "ip_address": "203.0.113.5", "target_link_url": "https://shop.example.com/amp"}),
        ("unsubscribe_event", {"type": "link", "message_id": message_id(1), "rcpt_to": "alice@gmail.test", "delv_method": "esmtp", "recv_method": "esmtp", "user_agent": "Mozilla/5.0", "subaccount_id": "0"}),
        ("unsubscribe_event", {"type": "list", "message_id": message_id(4), "rcpt_to": "dave@gmail.test", "delv_method": "esmtp", "recv_method": "esmtp", "subaccount_id": "0"}),
    ]
    lines = []
    for offset, (grouping, fields) in enumerate(rows):
        eid += 1
        lines.append(event(grouping, {**fields, "event_id": str(eid), "timestamp": str(BASE + 600 + offset)}))
    return lines


def rejections() -> list[str]:
    """Policy rejection and generation events (generation events carry no message_id)."""
    return [
        event("message_event", {"type": "rejection", "event_id": "3000000000000000001", "message_id": message_id(9), "timestamp": str(BASE + 30), "recv_method": "smtp", "rcpt_to": "erin@example.net", "raw_rcpt_to": "Erin@Example.net", "msg_from": "bounces@bounces.example.com", "friendly_from": "news@example.com", "bounce_class": "25", "error_code": "550", "raw_reason": "550 5.7.1 Unconfigured Sending Domain <example.com>", "reason": "550 5.7.1 Unconfigured Sending Domain <example.com>", "subaccount_id": "0"}),
        event("gen_event", {"type": "gen_rejection", "event_id": "3000000000000000002", "timestamp": str(BASE + 31), "recv_method": "rest", "rcpt_to": "frank@example.net", "campaign_id": "welcome", "template_id": "welcome-v2", "template_version": "3", "friendly_from": "news@example.com", "msg_from": "bounces@bounces.example.com", "subject": "Welcome", "bounce_class": "25", "error_code": "550", "raw_reason": "550 5.6.0 No Sending Domain found in From header", "reason": "550 5.6.0 No Sending Domain found in From header", "subaccount_id": "0"}),
        event("gen_event", {"type": "gen_fail", "event_id": "3000000000000000003", "timestamp": str(BASE + 32), "recv_method": "rest", "rcpt_to": "grace@example.net", "campaign_id": "welcome", "template_id": "welcome-v2", "template_version": "3", "friendly_from": "news@example.com", "msg_from": "bounces@bounces.example.com", "error_code": "554", "raw_reason": "554 5.3.3 [internal] Error while rendering part html: substitution failed", "reason": "554 5.3.3 [internal] Error while rendering part html: substitution failed", "subaccount_id": "0"}),
    ]


def write(path: Path, lines: list[str], *, compress: bool) -> None:
    data = ("\n".join(lines) + "\n").encode()
    if compress:
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)


def main() -> None:
    (ROOT / "batches").mkdir(parents=True, exist_ok=True)
    (ROOT / "broken").mkdir(parents=True, exist_ok=True)
    write(ROOT / "batches" / "01-lifecycle.ndjson", lifecycle(), compress=False)
    write(ROOT / "batches" / "02-after-delivery.ndjson", after_delivery(), compress=False)
    write(ROOT / "batches" / "03-rejections.ndjson.gz", rejections(), compress=True)
    broken = ROOT / "broken"
    (broken / "truncated.ndjson.gz").write_bytes(bytes.fromhex("1f8b0800"))
    (broken / "empty.ndjson.gz").write_bytes(gzip.compress(b"", mtime=0))
    (broken / "not-gzip.ndjson.gz").write_bytes(b'{"msys":{}}\n')
    good = json.loads(lifecycle()[0])
    good["msys"]["message_event"]["event_id"] = "4000000000000000001"
    unknown_grouping = {"msys": {"not_an_event_group": good["msys"]["message_event"]}}
    write(
        broken / "partly-invalid.ndjson.gz",
        [
            json.dumps(good),
            json.dumps(unknown_grouping),
            "{}",
            "{not json",
            event("message_event", {"type": "delivery", "event_id": "4000000000000000002", "timestamp": str(BASE), "delv_method": "esmtp"}),
            event("message_event", {"type": "delivery", "event_id": "4000000000000000003", "message_id": message_id(5), "timestamp": str(BASE), "delv_method": "esmtp", "rcpt_hash": "3n3GkUp0Nu4Y1r0Bjb9lHlJVxWs="}),
        ],
        compress=True,
    )


if __name__ == "__main__":
    main()
