"""Choice of behaviour for each envelope recipient.

The behaviour comes from the envelope recipient (never the ``To:`` header):
the domain is the part after the last ``@``, compared case-insensitively,
and the label right after the ``@`` names the behaviour, so
``any@oob.bouncy-sink.test`` and ``any@OOB.x.y.bouncy-sink.test`` behave alike.
A local part of the form ``reply-550-5.1.1-user_unknown`` forces that exact
reply, on any sink domain (see :func:`parse_forced_reply`).

Every random draw comes from the generator handed to :class:`Policy`, so the
same seed and the same sequence of recipients give the same behaviours.
"""

from __future__ import annotations

import dataclasses
import random
import re

from emulator.sink import catalogue
from emulator.sink.options import MixShares

BEHAVIOURS = ("accept", "bounce", "tempfail", "greylist", "oob", "fbl", "openclick")
MIXED = "mixed"
FORCED = "reply"
RELAY_DENIED = "550 5.7.1 Relaying denied"
NO_DOMAIN = "501 5.1.3 Recipient address must include a domain"

INVALID_FORCED_REPLY = "553 5.1.3 Invalid forced reply code {code} in {local_part}: use a code from 400 to 599"

# Any run of digits is taken as the code, so an out-of-range one is rejected
# with a clear reply instead of the address silently getting the default behaviour.
_FORCED_RE = re.compile(
    r"^reply(?P<data>-data)?-(?P<code>[0-9]+)"
    r"(?:-(?P<enhanced>[245]\.[0-9]{1,3}\.[0-9]{1,3}))?"
    r"(?:-(?P<text>.*))?$",
    re.IGNORECASE | re.DOTALL,
)


@dataclasses.dataclass
class Plan:
    """Plan of the sink for one recipient of one transaction."""

    behaviour: str
    # The rejection line, such as "550 5.1.1 ...", or None when the recipient is accepted.
    reply: str | None = None
    # "rcpt" or "data": when the rejection is given.
    stage: str = "rcpt"
    oob: bool = False
    fbl: bool = False
    opens: int = 0
    clicks: int = 0
    # For the mixed behaviour: which outcome the draw picked.
    outcome: str = "accept"

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ForcedReply:
    code: int
    enhanced: str
    text: str
    stage: str


def sink_domain(address: str, domains: tuple[str, ...]) -> tuple[str, str] | None:
    """Return ``(domain, label)`` when ``address`` is for a sink domain, else None.

    ``label`` is the first label after the ``@``, or "" for the bare sink domain.
    """
    _, at, domain = address.rpartition("@")
    if not at:
        return None
    domain = domain.strip().rstrip(".").lower()
    for base in domains:
        if domain == base:
            return domain, ""
        if domain.endswith("." + base):
            return domain, domain.split(".", 1)[0]
    return None


class InvalidForcedReply(ValueError):
    """A ``reply-CODE`` local part whose code is not a 4xx or 5xx reply code."""


def parse_forced_reply(local_part: str) -> ForcedReply | None:
    """Parse ``reply[-data]-CODE[-X.Y.Z][-TEXT]`` (``_`` in TEXT stands for a space).

    Raises :class:`InvalidForcedReply` when CODE is not three digits from 400 to 599.
    """
    match = _FORCED_RE.match(local_part.strip('"'))
    if match is None:
        return None
    if len(match["code"]) != 3 or not 400 <= int(match["code"]) <= 599:
        raise InvalidForcedReply(match["code"])
    code = int(match["code"])
    enhanced = match["enhanced"] or f"{code // 100}.0.0"
    text = (match["text"] or "").replace("_", " ").strip()
    if not text:
        text = "Requested action not taken" if code >= 500 else "Requested action aborted, try again later"
    return ForcedReply(code, enhanced, text, "data" if match["data"] else "rcpt")


class Policy:
    """Decides a :class:`Plan` per recipient; keeps the greylist state."""

    def __init__(self, mix: MixShares, rng: random.Random) -> None:
        self.mix = mix
        self.rng = rng
        self._greylist_seen: set[tuple[str, str]] = set()

    def reset(self) -> None:
        self._greylist_seen.clear()

    def decide(self, recipient: str, label: str, context: dict[str, str]) -> Plan:
        """Return the plan for ``recipient`` whose sink label is ``label``."""
        local_part = recipient.rpartition("@")[0]
        try:
            forced = parse_forced_reply(local_part)
        except InvalidForcedReply as exc:
            line = INVALID_FORCED_REPLY.format(code=exc.args[0], local_part=local_part.strip('"'))
            return Plan(FORCED, reply=line, outcome="bounce")
        if forced is not None:
            line = catalogue.format_reply(forced.code, forced.enhanced, forced.text)
            return Plan(FORCED, reply=line, stage=forced.stage, outcome="bounce")
        if label == "accept":
            return Plan("accept")
        if label == "bounce":
            reply = self.rng.choice(catalogue.PERMANENT)
            return Plan("bounce", reply=catalogue.render(reply, context, self.rng), stage=reply.stage, outcome="bounce")
        if label == "tempfail":
            reply = self.rng.choice(catalogue.TEMPORARY)
            return Plan("tempfail", reply=catalogue.render(reply, context, self.rng), outcome="defer")
        if label == "greylist":
            return self._greylist(recipient, context)
        if label == "oob":
            return Plan("oob", oob=True, outcome="oob")
        if label == "fbl":
            return Plan("fbl", fbl=True, outcome="fbl")
        if label == "openclick":
            return Plan("openclick", opens=1, clicks=1, outcome="engage")
        return self._mixed(context)

    def _greylist(self, recipient: str, context: dict[str, str]) -> Plan:
        pair = (context.get("sender", "").lower(), recipient.lower())
        if pair in self._greylist_seen:
            return Plan("greylist", outcome="accept")
        self._greylist_seen.add(pair)
        line = catalogue.render(catalogue.GREYLIST_REPLY, context, self.rng)
        return Plan("greylist", reply=line, outcome="defer")

    def _mixed(self, context: dict[str, str]) -> Plan:
        # Independent draws in a fixed order, like the public sink: in-band reply,
        # then OOB, then FBL, then engagement.  Shares are percentages.
        mix = self.mix
        draw = self.rng.random
        if draw() * 100 < mix.bounce:
            reply = self.rng.choice(catalogue.REPLIES)
            outcome = "bounce" if reply.permanent else "defer"
            line = catalogue.render(reply, context, self.rng)
            return Plan(MIXED, reply=line, stage=reply.stage, outcome=outcome)
        if draw() * 100 < mix.oob:
            return Plan(MIXED, oob=True, outcome="oob")
        if draw() * 100 < mix.fbl:
            return Plan(MIXED, fbl=True, outcome="fbl")
        if mix.open > 0 and draw() * 100 < mix.open:
            opens = 2 if draw() < mix.open_again / mix.open else 1
            clicks = 0
            if draw() < mix.click / mix.open:
                clicks = 2 if mix.click > 0 and draw() < mix.click_again / mix.click else 1
            return Plan(MIXED, opens=opens, clicks=clicks, outcome="engage")
        return Plan(MIXED)
