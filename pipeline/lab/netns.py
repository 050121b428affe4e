"""A private network of namespaces: one target, normal clients, one attacker.

    switch ns "<p>-sw"  : bridge br0
    target   "<p>-target"     10.77.0.10   (the web apps, the capture)
    clients  "<p>-client-N"   10.77.0.21…  (simulated users)
             "<p>-<kind>"     10.77.0.31…  (one per benign client kind: browser, curl, wget, ...)
    attackers "<p>-attacker"  10.77.0.66, "<p>-attacker-2" .67 …  (attack tools, one at a time each)

Every host has one veth into the switch's bridge, so all traffic crosses
the target's interface with real private addresses. Ground truth follows
from the address: a packet to or from an attacker is an attack packet,
one to or from a client is not, and each client kind has its own address. Nothing touches the root namespace's
interfaces or routes; ``close()`` deletes every namespace it made.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field

SUBNET = "10.77.0"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


@dataclass
class Host:
    name: str  # role: target, client-1, attacker
    ns: str
    ip: str
    role: str  # target | client | attacker
    kind: str = ""  # a client's kind (simulated-users, browser, curl, ...)


@dataclass
class Lab:
    """Create with ``Lab.create()`` (root), use ``exec``/``popen`` to run inside a host, then ``close()``."""

    prefix: str = "anx"
    clients: int = 2
    client_kinds: tuple[str, ...] = ()
    attackers: int = 1
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def switch(self) -> str:
        return f"{self.prefix}-sw"

    @classmethod
    def create(cls, prefix: str = "anx", clients: int = 2, client_kinds: tuple[str, ...] = (),
               attackers: int = 1) -> "Lab":
        """Build the namespaces: ``clients`` hosts of simulated users, one host per entry of
        ``client_kinds``, and ``attackers`` attacker hosts (tools run one at a time on each)."""
        if os.geteuid() != 0:
            raise PermissionError("the namespace lab needs root (ip netns)")
        if not shutil.which("ip"):
            raise FileNotFoundError("the ip command is missing (apt-get install iproute2)")
        if not 0 <= clients <= 9 or len(client_kinds) > 30 or not 1 <= attackers <= 30:
            raise ValueError("clients: 0-9 simulated-user hosts, at most 30 client kinds, 1-30 attackers")
        lab = cls(prefix=prefix, clients=clients, client_kinds=tuple(client_kinds), attackers=attackers)
        lab.close()  # leftovers of an interrupted run
        try:
            lab._build()
        except BaseException:
            lab.close()
            raise
        return lab

    def _build(self) -> None:
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        _ip("-n", self.switch, "link", "set", "lo", "up")
        roles = [("target", "target", 10, "")] \
            + [(f"client-{i + 1}", "client", 21 + i, "simulated-users") for i in range(self.clients)] \
            + [(kind, "client", 31 + i, kind) for i, kind in enumerate(self.client_kinds)] \
            + [("attacker" if i == 0 else f"attacker-{i + 1}", "attacker", 66 + i, "") for i in range(self.attackers)]
        for k, (name, role, octet, kind) in enumerate(roles):
            ns = f"{self.prefix}-{name}"
            host = Host(name=name, ns=ns, ip=f"{SUBNET}.{octet}", role=role, kind=kind)
            _ip("netns", "add", ns)
            # veth pair created inside the host namespace, its peer moved to the switch
            peer = f"{self.prefix}p{k}"
            _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer)
            _ip("-n", ns, "link", "set", peer, "netns", self.switch)
            _ip("-n", self.switch, "link", "set", peer, "master", "br0")
            _ip("-n", self.switch, "link", "set", peer, "up")
            _ip("-n", ns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            self.hosts[name] = host

    def by_role(self, role: str) -> list[Host]:
        return [h for h in self.hosts.values() if h.role == role]

    def cmd(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` run inside ``host``'s namespace."""
        return ["ip", "netns", "exec", self.hosts[host].ns, *argv]

    def popen(self, host: str, argv: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen(self.cmd(host, argv), start_new_session=True, **kw)

    def run(self, host: str, argv: list[str], timeout: float | None = None, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(host, argv), timeout=timeout, **kw)

    def addresses(self) -> dict[str, dict]:
        """``{ip: {"host", "role", "kind", "namespace"}}``: the ground truth for labelling."""
        return {h.ip: {"host": h.name, "role": h.role, "kind": h.kind, "namespace": h.ns} for h in self.hosts.values()}

    def close(self) -> None:
        """Delete every namespace with this lab's prefix (killing what still runs inside)."""
        listed = _ip("netns", "list", check=False).stdout.split("\n")
        for line in listed:
            ns = line.split(" ")[0]
            if ns.startswith(f"{self.prefix}-"):
                pids = _ip("netns", "pids", ns, check=False).stdout.split()
                for pid in pids:
                    try:
                        os.kill(int(pid), 9)
                    except (ProcessLookupError, ValueError):
                        pass
                _ip("netns", "del", ns, check=False)

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
