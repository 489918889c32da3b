# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What the Jinja filters `int` and `unique` do, for filters that took over expressions written with them.

The roles' checks and facts were Jinja before they were filters; these keep their results the same.
"""

from __future__ import annotations


def to_int(value, default=0):
    """Jinja's `int`: an integer, a float's integer part, else `default`."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def unique(values):
    """Ansible's `unique`: first occurrences in order, strings compared without case."""
    # A list, not a set: a wrong entry may be a dict or a list, which a set cannot hold.
    seen = []
    result = []
    for value in values:
        key = value.lower() if isinstance(value, str) else value
        if key not in seen:
            seen.append(key)
            result.append(value)
    return result
