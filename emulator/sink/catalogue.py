"""Catalogue of in-band replies in the style of real mailbox providers.

The wording was written for this project after studying the reply list of
SparkPost's public Bouncy Sink (``etc/pmta/blacklist.dat``, Apache-2.0) and
the per-provider replies of ``tuck1s/smtp-traffic-gen`` (``demo_bounces.csv``,
Apache-2.0).  It keeps their shapes: provider-specific texts, addresses in
angle brackets, client IPs in square brackets, and the odd lines whose
enhanced code disagrees with the basic code (``550 4.2.2``, ``450 5.7.1``),
because the basic code decides and senders must cope.

Placeholders, substituted by :func:`render`: ``{rcpt}``, ``{rcpt_user}``,
``{rcpt_domain}``, ``{sender}``, ``{client_ip}``, ``{hex}`` (random hex),
``{queue_id}`` (random queue id) and ``{mx}`` (a host name of the recipient domain).
"""

from __future__ import annotations

import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class Reply:
    """One SMTP reply: basic code, enhanced status (may be empty), text and the stage it is given at."""

    code: int
    enhanced: str
    text: str
    # "rcpt" for recipient problems, "data" for content and reputation blocks.
    stage: str = "rcpt"

    @property
    def permanent(self) -> bool:
        return 500 <= self.code <= 599


R, D = "rcpt", "data"

REPLIES: tuple[Reply, ...] = (
    # Unknown or disabled recipients.
    Reply(550, "5.1.1", "The email account that you tried to reach does not exist. Please check the "
          "address for typos. {hex} - gsmtp", R),
    Reply(550, "5.1.1", "<{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table", R),
    Reply(550, "5.1.1", "<{rcpt}>... User unknown", R),
    Reply(550, "5.1.1", "Requested action not taken: mailbox unavailable", R),
    Reply(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient {rcpt} not found by SMTP address lookup", R),
    Reply(554, "5.1.1", "<{rcpt}>: Recipient address rejected: no such user here", R),
    Reply(553, "5.1.1", "sorry, no mailbox here by that name (#5.1.1)", R),
    Reply(550, "5.1.0", "<{rcpt}>: Address rejected", R),
    Reply(550, "5.0.0", "<{rcpt}>... No such user", R),
    Reply(550, "5.1.1", "Not our Customer", R),
    Reply(550, "5.2.1", "The email account that you tried to reach is disabled. {hex} - gsmtp", R),
    Reply(554, "5.2.1", "[{rcpt_user}]: This mailbox has been deactivated", R),
    Reply(550, "5.2.0", "<{rcpt}> - Account closed, please remove", R),
    Reply(511, "5.1.1", "5.7.1 <{rcpt}>: Recipient address rejected: account expired", R),
    # Mailbox full.
    Reply(552, "5.2.2", "The email account that you tried to reach is over quota and inactive. {hex} - gsmtp", R),
    Reply(552, "5.2.2", "<{rcpt}>: Recipient address rejected: Mailbox full", R),
    Reply(550, "4.2.2", "<{rcpt}>... user is over quota", R),
    Reply(522, "5.7.1", "Mailbox of {rcpt_user} has exceeded its storage limit", R),
    # Policy, sender and relaying.
    Reply(550, "5.7.1", "<{rcpt}>: Relay access denied", R),
    Reply(553, "5.1.8", "<{sender}>: Sender address rejected: Domain not found", R),
    Reply(550, "5.7.1", "Service unavailable; client host [{client_ip}] is not permitted to send to {rcpt_domain}", R),
    Reply(530, "5.7.0", "Authentication required", R),
    Reply(550, "5.7.606", "Access denied, banned sending IP [{client_ip}]. To request removal from this list "
          "please contact the postmaster of {rcpt_domain}", R),
    Reply(554, "5.7.1", "<{rcpt}>: Recipient address rejected: Access denied", R),
    Reply(553, "5.7.1", "<{sender}>: Sender address rejected: not owned by user", R),
    # Reputation and block lists.
    Reply(554, "5.7.1", "Service unavailable; Client host [{client_ip}] blocked using zen.spamhaus.example; "
          "see https://check.spamhaus.example/query/ip/{client_ip}", D),
    Reply(550, "5.7.1", "[{client_ip} 19] Our system has detected that this message is likely suspicious due "
          "to the very low reputation of the sending domain. {hex} - gsmtp", D),
    Reply(554, "5.7.1", "{mx} {client_ip} found on one or more DNSBLs, see the postmaster pages of {rcpt_domain}", D),
    Reply(550, "5.7.1", "Mail from {client_ip} refused, listed by the recipient's reputation service", D),
    Reply(450, "5.7.1", "Mail from {client_ip} blocked using a network reputation service", R),
    # Content.
    Reply(550, "5.7.1", "Message rejected as spam by content filtering", D),
    Reply(554, "5.7.1", "{queue_id}: Message content rejected, UBE, id={hex}", D),
    Reply(550, "5.7.350", "Remote server returned message detected as spam", D),
    Reply(554, "5.6.0", "Message rejected: the message headers contain invalid characters", D),
    Reply(552, "5.3.4", "Message size exceeds fixed limit", D),
    Reply(550, "5.7.1", "Unsolicited mail is refused. Please visit the postmaster page of {rcpt_domain}. {hex}", D),
    # Recipient syntax. Protocol-sequence errors (500, 502, 503) are left out: an MTA
    # treats them as its own fault, not as a verdict on the recipient.
    Reply(501, "5.1.3", "Bad recipient address syntax", R),
    # Temporary failures.
    Reply(421, "4.7.0", "[{client_ip}] Our system has detected an unusual rate of unsolicited mail from your "
          "IP address. Try again later. {hex} - gsmtp", R),
    Reply(421, "4.3.2", "Service not available, closing transmission channel", R),
    Reply(421, "4.4.5", "Too many connections to this host", R),
    Reply(450, "4.2.1", "The user you are trying to contact is receiving mail too quickly. Please resend "
          "later. {hex} - gsmtp", R),
    Reply(450, "4.1.1", "<{rcpt}>: Recipient address rejected: unverified address: host {mx} said: "
          "550 user unknown", R),
    Reply(451, "4.3.0", "Mail server temporarily rejected message. {hex} - gsmtp", R),
    Reply(451, "4.7.1", "Greylisting in action, please come back later", R),
    Reply(452, "4.2.2", "The email account that you tried to reach is over quota. {hex} - gsmtp", R),
    Reply(452, "4.3.1", "Insufficient system storage", R),
    Reply(451, "4.7.500", "Server busy. Please try again later from [{client_ip}]. (S77714)", R),
    Reply(450, "4.7.1", "Client host rejected: cannot find your hostname, [{client_ip}]", R),
)

PERMANENT = tuple(reply for reply in REPLIES if reply.permanent)
TEMPORARY = tuple(reply for reply in REPLIES if not reply.permanent)

GREYLIST_REPLY = Reply(451, "4.7.1", "<{rcpt}>: Recipient address rejected: Greylisted, please try again later", R)
USER_UNKNOWN = Reply(550, "5.1.1", "<{rcpt}>: Recipient address rejected: User unknown", R)


def render(reply: Reply, context: dict[str, str], rng: random.Random) -> str:
    """Return the full reply line (``550 5.1.1 text``) with placeholders substituted."""
    values = dict(context)
    values["hex"] = f"{rng.getrandbits(48):012x}"
    values["queue_id"] = f"{rng.getrandbits(40):010X}"
    text = reply.text
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return format_reply(reply.code, reply.enhanced, text)


def format_reply(code: int, enhanced: str, text: str) -> str:
    """Join a reply's parts into one line, with no CR or LF left in the text."""
    text = " ".join(text.replace("\r", " ").replace("\n", " ").split())
    parts = [str(code)]
    if enhanced:
        parts.append(enhanced)
    if text:
        parts.append(text)
    return " ".join(parts)
