"""HTTPS on the same port with --tls-cert/--tls-key, as ingest clients that force https:// need."""

from __future__ import annotations

import ssl

import aiohttp
import trustme

from tests.ingest_helpers import INGEST_HEADERS, gz, message_event


async def test_https_ingest_and_search(tmp_path, start_server):
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    server = await start_server(tls_cert=str(cert_file), tls_key=str(key_file))
    assert server.url.startswith("https://127.0.0.1:")

    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context)) as session:
        async with session.post(server.url + "/api/v1/ingest/events", data=gz([message_event("reception", "1")]), headers=INGEST_HEADERS) as response:
            assert response.status == 200
        async with session.get(server.url + "/__emulator/health") as response:
            assert response.status == 200
