"""`RedisStore`: state in a real redis-server, shared by processes and hosts.

Every read-modify-write is one Lua script, so it is atomic on the server. Flow liveness is decided
against the injected clock (``now`` is passed to the scripts); redis key TTLs only collect garbage.
Locks are ``SET key owner NX PX lease``, released by a compare-and-delete script and renewed by a
compare-and-``PEXPIRE`` script while held.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from .base import (
    OUTCOME_RETENTION_S,
    Clock,
    LeaseLocks,
    PendingFlow,
    TokenRecord,
    dumps,
    registration_digest,
)

# KEYS[1] token hash {v, d}; ARGV[1] expected version ('' = only if absent), ARGV[2] data ('' = delete)
_CAS = """
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local d = redis.call('HGET', KEYS[1], 'd')
local present = d and d ~= ''
if ARGV[1] == '' then
  if present then return -1 end
elseif (not present) or v ~= tonumber(ARGV[1]) then
  return -1
end
if (not present) and ARGV[2] == '' then return v end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
return v + 1
"""

# KEYS[1] registration hash {cid, d}; ARGV[1] data, ARGV[2] client_id, ARGV[3] '1' if_absent
_PUT_REG = """
if ARGV[3] == '1' then
  local d = redis.call('HGET', KEYS[1], 'd')
  if d then return d end
end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'cid', ARGV[2])
return ARGV[1]
"""

# KEYS[1] registration hash; ARGV[1] client_id
_DEL_REG = """
if redis.call('HGET', KEYS[1], 'cid') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] flowkey hash {state, d, exp}, KEYS[2] flow hash {d, exp, fk, taken, fin}
# ARGV[1] state, ARGV[2] data, ARGV[3] expires_at, ARGV[4] now, ARGV[5] gc ttl ms, ARGV[6] flow_key
_CLAIM = """
local now = tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'd', 'exp')
if h[1] and tonumber(h[2]) > now then return h[1] end
local f = redis.call('HMGET', KEYS[2], 'd', 'exp', 'fin')
if f[1] and f[3] ~= '1' and tonumber(f[2]) > now then return f[1] end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'd', ARGV[2], 'exp', ARGV[3], 'fk', ARGV[6], 'taken', '0', 'fin', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'd', ARGV[2], 'exp', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return ARGV[2]
"""

# KEYS[1] flow hash; ARGV[1] now
_TAKE = """
local f = redis.call('HMGET', KEYS[1], 'd', 'exp', 'taken', 'fin')
if f[1] and f[3] ~= '1' and f[4] ~= '1' and tonumber(f[2]) > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'taken', '1')
  return f[1]
end
return false
"""

# KEYS[1] flow hash, KEYS[2] outcome, KEYS[3] flowkey hash (may be a dummy); ARGV[1] state,
# ARGV[2] outcome data, ARGV[3] retention ms
_FINISH = """
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'fin', '1') end
if redis.call('HGET', KEYS[3], 'state') == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""

# KEYS[1] lock; ARGV[1] owner
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] lock; ARGV[1] owner, ARGV[2] lease ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

DEFAULT_PREFIX = "mcp-oauth:"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore(LeaseLocks):
    """All keys live under ``prefix`` (so several stores, or test workers, can share one server)."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, *, now: Clock = time.time) -> None:
        self.url = url
        self.prefix = prefix
        self._now = now
        self._r: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._cas = self._r.register_script(_CAS)
        self._put_reg = self._r.register_script(_PUT_REG)
        self._del_reg = self._r.register_script(_DEL_REG)
        self._claim = self._r.register_script(_CLAIM)
        self._take = self._r.register_script(_TAKE)
        self._finish = self._r.register_script(_FINISH)
        self._release = self._r.register_script(_RELEASE)
        self._renew = self._r.register_script(_RENEW)

    def _k(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    # tokens
    async def get_tokens(self, key: str) -> TokenRecord | None:
        v, d = await self._r.hmget(self._k("tok", key), ["v", "d"])
        if not d:
            return None
        return TokenRecord.from_dict({**json.loads(d), "version": int(v)})

    async def cas_tokens(self, key: str, expected_version: int | None, new: TokenRecord | None) -> bool:
        args = [
            "" if expected_version is None else str(expected_version),
            "" if new is None else dumps(new.to_dict()),
        ]
        version = int(await self._cas(keys=[self._k("tok", key)], args=args))
        if version < 0:
            return False
        if new is not None:
            new.version = version
        return True

    # registrations
    async def get_registration(self, issuer: str, redirect_uris: Sequence[str]) -> dict[str, Any] | None:
        d = await self._r.hget(self._k("reg", registration_digest(issuer, redirect_uris)), "d")
        return None if d is None else json.loads(d)

    async def put_registration(
        self, issuer: str, redirect_uris: Sequence[str], reg: dict[str, Any], *, if_absent: bool = True
    ) -> dict[str, Any]:
        k = self._k("reg", registration_digest(issuer, redirect_uris))
        stored = await self._put_reg(
            keys=[k], args=[dumps(reg), str(reg.get("client_id", "")), "1" if if_absent else "0"]
        )
        return json.loads(stored)

    async def delete_registration(self, issuer: str, redirect_uris: Sequence[str], client_id: str) -> bool:
        k = self._k("reg", registration_digest(issuer, redirect_uris))
        return bool(await self._del_reg(keys=[k], args=[client_id]))

    # flows
    async def claim_flow(self, flow: PendingFlow) -> PendingFlow:
        now = self._now()
        gc_ms = _ms(max(flow.expires_at - now, 0.0) + OUTCOME_RETENTION_S)
        data = dumps(flow.to_dict())
        winner = await self._claim(
            keys=[self._k("flowkey", flow.flow_key), self._k("flow", flow.state)],
            args=[flow.state, data, repr(flow.expires_at), repr(now), gc_ms, flow.flow_key],
        )
        return flow if winner == data else PendingFlow.from_dict(json.loads(winner))

    async def get_flow(self, state: str) -> PendingFlow | None:
        d, exp, fin = await self._r.hmget(self._k("flow", state), ["d", "exp", "fin"])
        if d is None or fin == "1" or float(exp) <= self._now():
            return None
        return PendingFlow.from_dict(json.loads(d))

    async def take_flow(self, state: str) -> PendingFlow | None:
        d = await self._take(keys=[self._k("flow", state)], args=[repr(self._now())])
        return None if d is None else PendingFlow.from_dict(json.loads(d))

    async def finish_flow(self, state: str, outcome: dict[str, Any]) -> None:
        fk = await self._r.hget(self._k("flow", state), "fk")  # a flow's flow_key never changes
        flowkey = self._k("flowkey", fk) if fk is not None else self._k("flowkey-none", state)
        await self._finish(
            keys=[self._k("flow", state), self._k("outcome", state), flowkey],
            args=[state, dumps(outcome), _ms(OUTCOME_RETENTION_S)],
        )

    async def flow_outcome(self, state: str) -> dict[str, Any] | None:
        d = await self._r.get(self._k("outcome", state))
        return None if d is None else json.loads(d)

    async def pending_flow(self, flow_key: str) -> PendingFlow | None:
        d, exp = await self._r.hmget(self._k("flowkey", flow_key), ["d", "exp"])
        if d is None or float(exp) <= self._now():
            return None
        return PendingFlow.from_dict(json.loads(d))

    # locks (LeaseLocks primitives; leases are redis PX, on the server's real clock)
    async def _lock_try(self, name: str, owner: str, lease_s: float) -> bool:
        return bool(await self._r.set(self._k("lock", name), owner, nx=True, px=_ms(lease_s)))

    async def _lock_renew(self, name: str, owner: str, lease_s: float) -> bool:
        return bool(await self._renew(keys=[self._k("lock", name)], args=[owner, _ms(lease_s)]))

    async def _lock_release(self, name: str, owner: str) -> bool:
        return bool(await self._release(keys=[self._k("lock", name)], args=[owner]))

    async def break_locks(self) -> int:
        """Harness only: delete every lock key under this prefix, as a failover that loses them would (C10)."""
        keys = [k async for k in self._r.scan_iter(match=self._k("lock", "*"))]
        return int(await self._r.delete(*keys)) if keys else 0

    async def close(self) -> None:
        await self._r.aclose()
