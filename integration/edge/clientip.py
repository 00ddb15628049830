"""The client's IP address: REMOTE_ADDR, unless the request came through a proxy we trust.

A client can write anything into X-Forwarded-For, so the header is read only when REMOTE_ADDR is one
of settings.TRUSTED_PROXIES (addresses or networks), and then from the right: each trusted proxy
appends the address it saw, so the first hop that is not one of ours is the client. Rate-limit
buckets are keyed on this value, and a client-sent X-Forwarded-For never changes it.
"""

import functools
import ipaddress

from django.conf import settings

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted(address, networks: tuple[_Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_ip(request) -> str:
    """The address rate limits and logs attribute a request to."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _is_trusted(_parse(remote), networks):
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    nearest = remote
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # Garbage from further out: blame the last hop we can vouch for.
            return nearest
        if not _is_trusted(address, networks):
            return str(address)
        nearest = str(address)
    return nearest


def bucket_ip(request) -> str:
    """client_ip for rate limiting: an IPv6 client usually owns a whole /64, so it is one bucket."""
    ip = client_ip(request)
    address = _parse(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return ip
