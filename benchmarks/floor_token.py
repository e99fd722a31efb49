"""The floor of ``scopedauth token``'s own design: the least a process can do to print the token.

Imports jeepney, makes the same three Secret Service calls over a plain session on the user's
session bus (SearchItems on the default collection, OpenSession, GetSecrets), parses the stored
JSON record and prints its access token. No error handling, no expiry check, no fallback:
``benchmarks/run.py`` times ``scopedauth token`` against this, alternating runs.

    python benchmarks/floor_token.py SERVICE USERNAME
"""

import json
import sys

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

BUS = "org.freedesktop.secrets"
service_iface = DBusAddress("/org/freedesktop/secrets", bus_name=BUS, interface="org.freedesktop.Secret.Service")
default = DBusAddress(
    "/org/freedesktop/secrets/aliases/default", bus_name=BUS, interface="org.freedesktop.Secret.Collection"
)

with open_dbus_connection(bus="SESSION") as conn:
    query = {"service": sys.argv[1], "username": sys.argv[2]}
    (paths,) = conn.send_and_get_reply(new_method_call(default, "SearchItems", "a{ss}", (query,))).body
    _, session = conn.send_and_get_reply(new_method_call(service_iface, "OpenSession", "sv", ("plain", ("s", "")))).body
    (secrets,) = conn.send_and_get_reply(new_method_call(service_iface, "GetSecrets", "aoo", (paths, session))).body
    record = json.loads(bytes(secrets[paths[0]][2]).decode("utf-8"))
    sys.stdout.write(record["access_token"] + "\n")
