"""Forwards [::1]:PORT to 127.0.0.1:PORT, so clients that default to the IPv6 loopback reach
the stack, which listens on 127.0.0.1 only.

`cargo lambda invoke` connects to `[::1]:9000` unless told otherwise, while `cargo lambda
watch` (started by stack.py) binds one address: the IPv4 loopback. Binding `::` instead would
listen on every interface, and the local admin function has no IAM in front of it. This keeps
both loopbacks and nothing else. Started and stopped (by its pid) by stack.py.

Usage: python3 loopback6.py PORT
"""

from __future__ import annotations

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def serve(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "::1", port)
    print(f"forwarding [::1]:{port} -> 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    port = int(sys.argv[1])
    try:
        asyncio.run(serve(port))
    except OSError as e:  # no IPv6 loopback, or the port is taken there
        print(f"not forwarding [::1]:{port}: {e}", file=sys.stderr, flush=True)
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
