"""Shared by the three peer programs: reading the lab's config.ini.

This peer is an independent implementation of the lab, written the way the lab's documents
describe it (plain sockets, json, http.server, urllib), so RpcLab can be tested against it.
"""
import configparser


def read_config(path):
    """The [registry] and [server] values the peer needs, with the lab's defaults."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",))
    if path:
        with open(path, encoding="utf-8") as config_file:
            parser.read_file(config_file)

    def number(section, key, default):
        value = parser.get(section, key, fallback="").strip()
        return float(value) if value else default

    return {
        "registry_host": parser.get("registry", "host", fallback="127.0.0.1").strip() or "127.0.0.1",
        "registry_port": int(number("registry", "port", 9999)),
        "heartbeat_interval": number("server", "heartbeat_interval", 5.0),
        "heartbeat_timeout": number("registry", "heartbeat_timeout", 10.0),
        "health_check_interval": number("registry", "health_check_interval", 5.0),
        # The lab's server timeouts: none when the file does not give them (Python's default: wait forever).
        "read_timeout": number("server", "read_timeout", None),
        "write_timeout": number("server", "write_timeout", None),
        # The client's: connecting, and waiting for a reply (one socket timeout covers the wait and the read).
        "connect_timeout": number("client", "connect_timeout", 10.0),
        "call_timeout": number("client", "call_timeout", 10.0),
    }


def url_host(host):
    """An IPv6 literal needs brackets in a URL."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
