# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Whole-string checks of values that managed hosts or inventories hand to the filters before they reach a file."""

from __future__ import annotations

import ipaddress
import re

# DNS labels joined by dots: inventory names, TLS names of servers, scrape addresses.
HOSTNAME_RE = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")

# OpenAI model ids the gateway routes by and the engines serve: no spaces, quotes or control characters.
MODEL_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")


def valid_model_id(value):
    """A model id as the gateway routes it (whole string)."""
    return bool(MODEL_ID_RE.fullmatch(str(value)))


def valid_ip(value):
    """An IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(str(value))
        return True
    except ValueError:
        return False


def valid_hostname(value):
    return bool(HOSTNAME_RE.fullmatch(str(value)))


def valid_address(value):
    """An IP address or a DNS host name, nothing else (no spaces, newlines, ports or URLs)."""
    return valid_ip(value) or valid_hostname(value)


def valid_port(value):
    """An integer 1-65535, written as exactly that integer (no sign, padding, spaces or newline)."""
    if isinstance(value, bool):
        return False
    try:
        port = int(str(value))
    except (TypeError, ValueError):
        return False
    return str(port) == str(value) and 1 <= port <= 65535
