"""Lua scripts load from package data and survive Redis forgetting them."""

import uuid

from redis.asyncio import Redis

from common.redis_scripts import LuaScript


async def test_script_runs_and_reloads_after_script_flush(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        script = LuaScript(client, "tests.integration.common.sample_lua", "add_and_get")
        key = f"test:{{{uuid.uuid4().hex}}}:counter"
        assert await script([key], [2]) == 2
        await client.script_flush()
        assert await script([key], [3]) == 5
        assert "tonumber(ARGV[1])" in script.text
    finally:
        await client.aclose()
