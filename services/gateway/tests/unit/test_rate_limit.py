"""Token buckets: a burst, then the steady rate, per client."""

from gateway.adapters.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_steady_rate_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == 1.0  # one request a second
    assert limiter.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0.5
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    clock.now += 3600
    assert [limiter.take("a") for _ in range(4)][-1] > 0  # idle time refills up to the burst only


def test_memory_is_bounded_by_forgetting_the_least_recent_client() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, max_clients=2, clock=Clock())
    limiter.take("a")
    limiter.take("b")
    limiter.take("c")  # "a" is forgotten and starts afresh
    assert limiter.take("a") == 0.0
    assert limiter.take("c") > 0
