"""The one retry rule of every HTTP client here: which statuses may pass, how long to wait, ``Retry-After``.

CMR, the credentials endpoints, the door and the preflight all retry the same statuses with the same backoff
(exponential with full jitter, as AWS's "Exponential Backoff And Jitter" advises), honouring the server's
``Retry-After`` (RFC 9110 section 10.2.3: seconds or an HTTP date).
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "retry_after_seconds"]

#: Answers after which the same request may succeed: timeout, throttling, and the server's own failures.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait (never negative), or None when it says nothing usable.

    :param value: the header's value: a number of seconds or an HTTP date.
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when else None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter.

    The defaults outlast a storm in which most requests fail: in the sandbox's combined fault run 70 % of
    requests are answered 429, 5xx or cut off, and twenty tries leave one request in about 1,250 failed
    (0.7 ** 20); a short longest wait keeps such a storm from stretching each request to minutes, while a
    service that is down is still given up on after about two and a half minutes.

    :param attempts: tries per request, the first included.
    :param base_seconds: the first backoff.
    :param max_seconds: the longest backoff of our own choosing.
    :param max_retry_after_seconds: the longest ``Retry-After`` honoured (a longer one is waited this long).
    """

    attempts: int = 20
    base_seconds: float = 0.5
    max_seconds: float = 15.0
    max_retry_after_seconds: float = 120.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before try ``attempt + 1``.

        :param attempt: tries made so far (1 after the first failure).
        :param retry_after: the server's ``Retry-After`` header, honoured when present.
        """
        seconds = retry_after_seconds(retry_after)
        if seconds is not None:
            return min(seconds, self.max_retry_after_seconds)
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))
