"""Lua scripts shipped as package data, registered once per client, called through typed wrappers.

A script is one atomic operation; its header comment lists its KEYS and ARGV. A service wraps each
script in a small typed function that builds the keys (sharing a hash tag) and parses the reply.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


class LuaScript:
    """One Lua script from a package's `lua/` folder, loaded by SHA with a NOSCRIPT fallback."""

    def __init__(self, client: Redis, package: str, name: str) -> None:
        self.name = name
        self.text = resources.files(package).joinpath("lua", f"{name}.lua").read_text()
        self._script: AsyncScript = client.register_script(self.text)

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        """Runs the script atomically (EVALSHA, reloading it if Redis lost it)."""
        return await self._script(keys=keys, args=args)
