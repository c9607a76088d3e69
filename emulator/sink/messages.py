"""Bounded in-memory store of the messages the sink received."""

from __future__ import annotations

import collections
import dataclasses
import email.parser
import email.policy
import time
from typing import Any

from emulator.sink.policy import Plan


@dataclasses.dataclass
class RecipientRecord:
    """One envelope recipient of a stored message, its plan and the actions taken so far."""

    address: str
    plan: Plan
    # "accepted", or "bounced" when a DATA-stage reply rejected the whole message.
    status: str = "accepted"
    actions: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "behaviour": self.plan.behaviour,
            "outcome": self.plan.outcome,
            "plan": self.plan.to_dict(),
            "status": self.status,
            "actions": list(self.actions),
        }


@dataclasses.dataclass
class StoredMessage:
    """A message as received: envelope, raw bytes and per-recipient records."""

    id: str
    received_at: float
    peer: str
    helo: str
    mail_from: str
    raw: bytes
    recipients: list[RecipientRecord]
    # The final reply the sink gave after DATA.
    reply: str = "250 OK"

    def headers(self) -> list[tuple[str, str]]:
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        parsed = parser.parsebytes(self.raw)
        return [(name, str(value)) for name, value in parsed.items()]

    def header(self, name: str) -> str | None:
        for key, value in self.headers():
            if key.lower() == name.lower():
                return value
        return None

    def add_action(self, recipient: str, action: str, **details: Any) -> None:
        for record in self.recipients:
            if record.address == recipient:
                record.actions.append({"action": action, "at": time.time(), **details})

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at,
            "peer": self.peer,
            "helo": self.helo,
            "mail_from": self.mail_from,
            "rcpt_to": [record.address for record in self.recipients],
            "subject": self.header("Subject"),
            "message_id": self.header("Message-ID"),
            "size": len(self.raw),
            "reply": self.reply,
            "recipients": [record.to_dict() for record in self.recipients],
        }

    def detail(self) -> dict[str, Any]:
        result = self.summary()
        result["headers"] = [[name, value] for name, value in self.headers()]
        return result


class MessageStore:
    """Keeps at most ``max_messages`` messages, evicting the oldest first."""

    def __init__(self, max_messages: int) -> None:
        self.max_messages = max_messages
        self._messages: collections.OrderedDict[str, StoredMessage] = collections.OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._messages)

    def add(self, message: StoredMessage) -> int:
        """Store ``message``; return how many old messages were evicted to make room."""
        self._messages[message.id] = message
        evicted = 0
        while len(self._messages) > self.max_messages:
            self._messages.popitem(last=False)
            evicted += 1
        self.evictions += evicted
        return evicted

    def get(self, message_id: str) -> StoredMessage | None:
        return self._messages.get(message_id)

    def clear(self) -> None:
        self._messages.clear()
        self.evictions = 0

    def search(self, *, recipient: str | None = None, behaviour: str | None = None) -> list[StoredMessage]:
        """Return stored messages, newest first, filtered by recipient address or behaviour."""
        found = []
        for message in reversed(self._messages.values()):
            records = message.recipients
            if recipient is not None:
                records = [record for record in records if record.address.lower() == recipient.lower()]
            if behaviour is not None:
                records = [record for record in records if record.plan.behaviour == behaviour]
            if records:
                found.append(message)
        return found
