"""Django's Redis cache backend, keeping one redis client per connection pool instead of one per call.

Django's RedisCacheClient builds a new redis.Redis object for every cache operation (about 70 us with
redis-py 6, more than the loopback round trip itself). Every API request makes several (rate-limit
counters, the revocation lookup), so the client is kept: it is thread-safe and only wraps the pool,
which Django already shares (and redis-py resets after a fork).
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(index))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
