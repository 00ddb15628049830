"""Client IPs: REMOTE_ADDR unless the peer is a trusted proxy; X-Forwarded-For read from the right."""

import pytest
from django.test import RequestFactory

from integration.edge.clientip import bucket_ip, client_ip


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "203.0.113.5", "1.1.1.1", "203.0.113.5"),
        (["10.0.0.0/8"], "203.0.113.5", "1.1.1.1", "203.0.113.5"),
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", "not-an-ip, 10.0.0.9", "10.0.0.9"),
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["10.0.0.2"], "10.0.0.2", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_ip(_request(remote, forwarded)) == expected


def test_an_ipv6_client_is_bucketed_by_its_64(settings):
    settings.TRUSTED_PROXIES = []
    assert bucket_ip(_request("2001:db8:1:2:aaaa::1")) == bucket_ip(_request("2001:db8:1:2:bbbb::9"))
    assert bucket_ip(_request("2001:db8:1:3::1")) != bucket_ip(_request("2001:db8:1:2::1"))
    assert bucket_ip(_request("192.0.2.1")) == "192.0.2.1"
