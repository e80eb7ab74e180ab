"""Per-VM utilization from libvirt, on libvirt's built-in test driver (no daemon) and on fakes."""

from __future__ import annotations

import logging
from pathlib import Path

import libvirt
import pytest

from neat.local_manager.libvirt_source import LibvirtSource, vcpu_utilization
from neat.local_manager.loop import HostCapacity, VmSample

DEFAULT_TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"  # the domain 'test' of test:///default
WEB, DB, OFF = (
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
)

NODE_XML = f"""<node>
  <cpu>
    <mhz>2000</mhz><model>x86_64</model><active>4</active>
    <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>
  </cpu>
  <memory>8192000</memory>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>web</name><uuid>{WEB}</uuid><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db</name><uuid>{DB}</uuid><memory>2097152</memory><vcpu>4</vcpu><os><type>hvm</type></os>
    <test:transient/>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>off</name><uuid>{OFF}</uuid><memory>1048576</memory><vcpu>2</vcpu><os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
"""


class Ticks:
    """A monotonic clock that moves ``step_ns`` (10 s) each time it is read."""

    def __init__(self, step_ns: int = 10_000_000_000) -> None:
        self.now = 0
        self.step_ns = step_ns

    def __call__(self) -> int:
        self.now += self.step_ns
        return self.now


@pytest.fixture
def node_uri(tmp_path: Path) -> str:
    path = tmp_path / "node.xml"
    path.write_text(NODE_XML)
    return f"test://{path}"


# -- the arithmetic ---------------------------------------------------------------------------------


def test_vcpu_utilization_by_hand():
    """1.5 s of CPU in 1 s on 2 vCPUs is 0.75; 3 s in 1 s on 4 vCPUs is 0.75; on one vCPU 0.5 s is 0.5."""
    assert vcpu_utilization(1_500_000_000, 1_000_000_000, 2) == 0.75
    assert vcpu_utilization(3_000_000_000, 1_000_000_000, 4) == 0.75
    assert vcpu_utilization(500_000_000, 1_000_000_000, 1) == 0.5


def test_vcpu_utilization_is_clipped_to_one():
    """Emulator threads can push a domain's CPU time a little over its vCPUs' share."""
    assert vcpu_utilization(2_100_000_000, 1_000_000_000, 2) == 1.0
    assert vcpu_utilization(0, 1_000_000_000, 2) == 0.0


# -- the test driver ----------------------------------------------------------------------------------


def test_default_test_driver_first_reading_is_the_baseline_then_one_sample():
    """test:///default runs one domain 'test' with 2 vCPUs whose CPU time stands still: 0 % busy."""
    with LibvirtSource("test:///default", monotonic_ns=Ticks()) as source:
        assert source.read_vms() == []
        (sample,) = source.read_vms()
        cpu_time = source.connection().lookupByUUIDString(DEFAULT_TEST_UUID).getCPUStats(True)[0]["cpu_time"]
    assert sample == VmSample(DEFAULT_TEST_UUID, 0.0, cpu_time, 2)


def test_default_test_driver_capacity():
    """virNodeGetInfo of the test driver: 16 CPUs at 1400 MHz -> 22400 MHz."""
    with LibvirtSource("test:///default") as source:
        assert source.host_capacity() == HostCapacity(cpu_mhz=22400.0, cpu_cores=16)


def test_node_file_with_several_domains_reads_only_the_running_ones(node_uri):
    with LibvirtSource(node_uri, monotonic_ns=Ticks()) as source:
        source.read_vms()
        samples = {s.uuid: s for s in source.read_vms()}
        assert source.host_capacity() == HostCapacity(cpu_mhz=8000.0, cpu_cores=4)
    assert sorted(samples) == [WEB, DB]
    assert samples[WEB].vcpus == 1
    assert samples[DB].vcpus == 4
    assert all(s.utilization == 0.0 for s in samples.values())


def test_a_domain_that_stopped_is_dropped_and_a_started_one_gets_a_new_baseline(node_uri, caplog):
    caplog.set_level(logging.INFO, logger="neat.local_manager.libvirt_source")
    conn = libvirt.open(node_uri)  # the test driver keeps a node file's state per connection
    source = LibvirtSource(node_uri, monotonic_ns=Ticks(), connect=lambda uri: conn)
    source.read_vms()
    conn.lookupByName("db").destroy()  # transient: it is gone
    assert [s.uuid for s in source.read_vms()] == [WEB]
    assert f"domain {DB} is no longer running here" in caplog.text
    conn.lookupByName("off").create()
    assert [s.uuid for s in source.read_vms()] == [WEB]  # 'off' is read for its baseline only
    assert sorted(s.uuid for s in source.read_vms()) == [WEB, OFF]
    source.close()


class VanishAfterListing:
    """A connection whose domain 'db' is destroyed between the listing and the reading."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self.conn = conn
        self.vanish = False

    def listAllDomains(self, flags: int) -> list:
        domains = self.conn.listAllDomains(flags)
        if self.vanish:
            self.conn.lookupByName("db").destroy()
        return domains

    def close(self) -> None:
        self.conn.close()


def test_a_domain_vanishing_during_the_reading_is_skipped_and_logged(node_uri, caplog):
    caplog.set_level(logging.INFO, logger="neat.local_manager.libvirt_source")
    conn = VanishAfterListing(libvirt.open(node_uri))
    source = LibvirtSource(node_uri, monotonic_ns=Ticks(), connect=lambda uri: conn)
    source.read_vms()
    conn.vanish = True
    assert [s.uuid for s in source.read_vms()] == [WEB]
    assert "a domain vanished while being read" in caplog.text
    source.close()


def test_an_unreachable_uri_raises_connection_error(tmp_path):
    source = LibvirtSource(f"test://{tmp_path}/missing.xml")
    with pytest.raises(ConnectionError, match=r"cannot open libvirt URI 'test://.*/missing\.xml'"):
        source.read_vms()


def test_the_default_connection_is_read_only():
    with LibvirtSource("test:///default") as source:
        assert source.connection().isAlive()
        with pytest.raises(libvirt.libvirtError):
            source.connection().lookupByName("test").suspend()


# -- fakes, for counters the test driver cannot move ---------------------------------------------------


class NoDomain(libvirt.libvirtError):
    def __init__(self) -> None:
        super().__init__("Domain not found")

    def get_error_code(self) -> int:
        return libvirt.VIR_ERR_NO_DOMAIN


class Unsupported(libvirt.libvirtError):
    def __init__(self) -> None:
        super().__init__("this function is not supported by the connection driver")

    def get_error_code(self) -> int:
        return libvirt.VIR_ERR_NO_SUPPORT


class FakeDomain:
    """A domain whose CPU time follows a script, read through getCPUStats or only through info()."""

    def __init__(self, uuid: str, vcpus: int, cpu_times: list[int], *, stats: bool = True) -> None:
        self.uuid, self.vcpus, self.cpu_times, self.stats = uuid, vcpus, list(cpu_times), stats
        self.current = 0

    def UUIDString(self) -> str:
        return self.uuid

    def info(self) -> list[int]:
        self.current = self.cpu_times.pop(0)
        return [1, 1024, 1024, self.vcpus, self.current]

    def getCPUStats(self, total: bool) -> list[dict[str, int]]:
        if not self.stats:
            raise Unsupported()
        return [{"cpu_time": self.current, "user_time": 0, "system_time": 0}]


class FakeConnection:
    def __init__(self, *domains: FakeDomain) -> None:
        self.domains = list(domains)
        self.fail_listing = 0
        self.closed = 0

    def listAllDomains(self, flags: int) -> list[FakeDomain]:
        assert flags == libvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING
        if self.fail_listing:
            self.fail_listing -= 1
            raise libvirt.libvirtError("Cannot recv data: Connection reset by peer")
        return list(self.domains)

    def close(self) -> None:
        self.closed += 1


def test_cpu_time_deltas_by_hand():
    """10 s between readings. 'a' (2 vCPUs): 5 s of CPU -> 0.25, then 20 s -> 1.0. 'b' (1 vCPU),
    read through info() only: 2.5 s -> 0.25, then 0 -> 0."""
    a = FakeDomain("a", 2, [0, 5_000_000_000, 25_000_000_000])
    b = FakeDomain("b", 1, [100, 2_500_000_100, 2_500_000_100], stats=False)
    conn = FakeConnection(a, b)
    clock = Ticks(step_ns=0)
    source = LibvirtSource("fake:///", monotonic_ns=clock, connect=lambda uri: conn)
    assert source.read_vms() == []
    clock.now += 10_000_000_000
    assert source.read_vms() == [VmSample("a", 0.25, 5_000_000_000, 2), VmSample("b", 0.25, 2_500_000_100, 1)]
    clock.now += 10_000_000_000
    assert source.read_vms() == [VmSample("a", 1.0, 25_000_000_000, 2), VmSample("b", 0.0, 2_500_000_100, 1)]


def test_a_counter_going_backwards_is_skipped_for_one_interval(caplog):
    """'a' restarted between the 2nd and 3rd readings: 8 s -> 1 s is skipped; 1 s -> 3.5 s in 10 s on
    one vCPU is 0.25."""
    a = FakeDomain("a", 1, [0, 8_000_000_000, 1_000_000_000, 3_500_000_000])
    conn = FakeConnection(a)
    source = LibvirtSource("fake:///", monotonic_ns=Ticks(), connect=lambda uri: conn)
    source.read_vms()
    assert [s.utilization for s in source.read_vms()] == [0.8]
    assert source.read_vms() == []
    assert "domain a: CPU time went backwards (8000000000 -> 1000000000 ns" in caplog.text
    assert source.read_vms() == [VmSample("a", 0.25, 3_500_000_000, 1)]


def test_a_reading_in_the_same_nanosecond_is_skipped(caplog):
    caplog.set_level(logging.INFO, logger="neat.local_manager.libvirt_source")
    conn = FakeConnection(FakeDomain("a", 1, [0, 10, 20]))
    source = LibvirtSource("fake:///", monotonic_ns=lambda: 42, connect=lambda uri: conn)
    source.read_vms()
    assert source.read_vms() == []
    assert "no time passed" in caplog.text


def test_a_domain_that_vanishes_on_info_is_skipped():
    class Vanishing(FakeDomain):
        def info(self) -> list[int]:
            raise NoDomain()

    conn = FakeConnection(FakeDomain("a", 1, [0, 1_000_000_000]), Vanishing("b", 1, []))
    source = LibvirtSource("fake:///", monotonic_ns=Ticks(), connect=lambda uri: conn)
    source.read_vms()
    assert [s.uuid for s in source.read_vms()] == ["a"]


def test_a_listing_error_closes_the_connection_and_the_next_reading_reopens_it():
    conn = FakeConnection(FakeDomain("a", 1, [0, 1_000_000_000, 2_000_000_000]))
    opened = []

    def connect(uri: str) -> FakeConnection:
        opened.append(uri)
        return conn

    source = LibvirtSource("fake:///", monotonic_ns=Ticks(), connect=connect)
    source.read_vms()
    conn.fail_listing = 1
    with pytest.raises(libvirt.libvirtError, match="Connection reset"):
        source.read_vms()
    assert conn.closed == 1
    assert source.read_vms() == [VmSample("a", 0.1, 1_000_000_000, 1)]  # the baseline survived
    assert opened == ["fake:///", "fake:///"]


def test_a_switch_between_getcpustats_and_info_takes_a_new_baseline(caplog):
    """The two counters need not agree (the test driver's info() is the wall clock): never subtract one
    from the other."""
    caplog.set_level(logging.INFO, logger="neat.local_manager.libvirt_source")
    a = FakeDomain("a", 1, [0, 1_000_000_000, 2_000_000_000])
    conn = FakeConnection(a)
    source = LibvirtSource("fake:///", monotonic_ns=Ticks(), connect=lambda uri: conn)
    source.read_vms()
    a.stats = False
    assert source.read_vms() == []
    assert "CPU time read by info, before by getCPUStats; new baseline" in caplog.text
    assert source.read_vms() == [VmSample("a", 0.1, 2_000_000_000, 1)]
