"""PowerMTA configuration that points an MTA at one emulator instance."""

from __future__ import annotations


def pmta_config(*, upload_url: str, api_key: str, smtp_host: str, smtp_port: int, sink_domains: tuple[str, ...]) -> str:
    """Return a PowerMTA snippet: a ``<signals>`` block uploading to ``upload_url`` and routes to the sink.

    ``enable-signals`` is set globally here; PowerMTA (5.0r4 and later) also
    takes it inside ``<virtual-mta>``, ``<virtual-mta-pool>`` or ``<domain>``
    blocks to stream only part of the traffic.
    """
    lines = [
        "# SparkPost Signals: upload accounting events to the emulator.",
        "<signals>",
        f"    api-key {api_key}",
        f"    upload-url {upload_url}",
        # Upload recipients in clear text, so events can be searched by address.
        "    privacy-policy retain",
        "</signals>",
        "enable-signals true",
        "",
        "# Deliver the sink's domains (and their subdomains) to the emulator's SMTP sink.",
    ]
    for domain in sink_domains:
        for pattern in (domain, f"*.{domain}"):
            lines += [
                f"<domain {pattern}>",
                f"    route [{smtp_host}]:{smtp_port}",
                "</domain>",
            ]
    return "\n".join(lines) + "\n"
