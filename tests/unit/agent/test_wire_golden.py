"""Golden wire lines of protocol v1: the exact bytes of every message type.

Pinned before the generic codec replaced the hand-written ``to_dict`` /
``from_dict``: encoding each message must give these bytes, decoding them must
give the message back, and a line with only the required fields must decode to
the documented defaults. A change here is a protocol change (v1 peers are
deployed), never a refactoring detail.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Tuple

import pytest
from netcheck_agent import protocol as p

# (message, its exact line)
GOLDEN: List[Tuple[Any, bytes]] = [
    (
        p.Hello(1, "0.9.1", "cs01", 4242, "3.9.18", "linux", {"tcp_info": True, "scapy": False}),
        b'{"type":"hello","protocol":1,"agent_version":"0.9.1","host":"cs01","pid":4242,"python":"3.9.18","platform":"linux","capabilities":{"tcp_info":true,"scapy":false}}\n',
    ),
    (
        p.Hello(2, "0.9.1", "", 0, "3.12.1", "windows"),
        b'{"type":"hello","protocol":2,"agent_version":"0.9.1","host":"","pid":0,"python":"3.12.1","platform":"windows","capabilities":{}}\n',
    ),
    (
        p.Error("b1", "bad_message", "probes[0].port: must be an integer"),
        b'{"type":"error","ref":"b1","code":"bad_message","message":"probes[0].port: must be an integer"}\n',
    ),
    (
        p.Error(None, "internal", ""),
        b'{"type":"error","ref":null,"code":"internal","message":""}\n',
    ),
    (
        p.Bye(),
        b'{"type":"bye"}\n',
    ),
    (
        p.ProbeBatch(
            "b1",
            (
                p.ProbeRequest(
                    "cs01->mt01:9443",
                    "tcp_connect",
                    "127.0.0.11",
                    9443,
                    "127.0.0.10",
                    3,
                    200,
                    750,
                    "00ff",
                    dst_host="mt01",
                ),
                p.ProbeRequest("c2", "tcp_connect", "::1", 22),
            ),
            64,
        ),
        b'{"type":"probe_batch","batch":"b1","concurrency":64,"probes":[{"cell":"cs01->mt01:9443","kind":"tcp_connect","dst":"127.0.0.11","port":9443,"src":"127.0.0.10","samples":3,"interval_ms":200,"timeout_ms":750,"nonce":"00ff","dst_host":"mt01"},{"cell":"c2","kind":"tcp_connect","dst":"::1","port":22,"src":null,"samples":1,"interval_ms":0,"timeout_ms":1000,"nonce":null}]}\n',
    ),
    (
        p.ProbeBatch(
            "b2",
            (
                p.ProbeRequest(
                    "c3",
                    "tls",
                    "198.18.1.4",
                    443,
                    params={"sni": "ps01", "http": True, "n": 3, "x": 1.5},
                ),
            ),
        ),
        b'{"type":"probe_batch","batch":"b2","concurrency":256,"probes":[{"cell":"c3","kind":"tls","dst":"198.18.1.4","port":443,"src":null,"samples":1,"interval_ms":0,"timeout_ms":1000,"nonce":null,"params":{"sni":"ps01","http":true,"n":3,"x":1.5}}]}\n',
    ),
    (
        p.ProbeBatch("empty", ()),
        b'{"type":"probe_batch","batch":"empty","concurrency":256,"probes":[]}\n',
    ),
    (
        p.Result(
            "b1",
            "c1",
            (
                p.Sample("open", 123, "tcp_info", None, "", True, 1700000000.25),
                p.Sample("refused", errno=111, detail="ECONNREFUSED", t=1.0),
            ),
        ),
        b'{"type":"result","batch":"b1","cell":"c1","samples":[{"outcome":"open","rtt_us":123,"rtt_source":"tcp_info","errno":null,"detail":"","proven":true,"t":1700000000.25},{"outcome":"refused","rtt_us":null,"rtt_source":null,"errno":111,"detail":"ECONNREFUSED","proven":false,"t":1.0}]}\n',
    ),
    (
        p.Result(
            "b1",
            "c2",
            (
                p.Sample(
                    "open",
                    10,
                    "monotonic",
                    t=2.5,
                    facts={
                        "answers": ["a", ""],
                        "offset_ms": -1.5,
                        "ok": True,
                        "none": None,
                        "n": 7,
                        "s": "v",
                    },
                ),
            ),
        ),
        b'{"type":"result","batch":"b1","cell":"c2","samples":[{"outcome":"open","rtt_us":10,"rtt_source":"monotonic","errno":null,"detail":"","proven":false,"t":2.5,"facts":{"answers":["a",""],"offset_ms":-1.5,"ok":true,"none":null,"n":7,"s":"v"}}]}\n',
    ),
    (
        p.Result("b1", "c3", ()),
        b'{"type":"result","batch":"b1","cell":"c3","samples":[]}\n',
    ),
    (
        p.BatchDone("b1", 2),
        b'{"type":"batch_done","batch":"b1","cells":2}\n',
    ),
    (
        p.RespondersStart(
            "r1",
            "abcd",
            (p.ListenSpec("127.0.0.11", 443), p.ListenSpec("::1", 0)),
            2.5,
            10,
            "mt01",
        ),
        b'{"type":"responders_start","id":"r1","nonce":"abcd","ttl_s":2.5,"max_conns":10,"host":"mt01","listen":[{"address":"127.0.0.11","port":443},{"address":"::1","port":0}]}\n',
    ),
    (
        p.RespondersStart("r2", "00ff", ()),
        b'{"type":"responders_start","id":"r2","nonce":"00ff","ttl_s":60,"max_conns":10000,"host":"","listen":[]}\n',
    ),
    (
        p.RespondersReady(
            "r1",
            (p.ListenSpec("127.0.0.11", 443),),
            (
                p.ListenRefused("127.0.0.12", 9443, "in_use", "EADDRINUSE"),
                p.ListenRefused("127.0.0.13", 1, "error"),
            ),
        ),
        b'{"type":"responders_ready","id":"r1","listening":[{"address":"127.0.0.11","port":443}],"refused":[{"address":"127.0.0.12","port":9443,"reason":"in_use","detail":"EADDRINUSE"},{"address":"127.0.0.13","port":1,"reason":"error","detail":""}]}\n',
    ),
    (
        p.RespondersReady("r1", ()),
        b'{"type":"responders_ready","id":"r1","listening":[],"refused":[]}\n',
    ),
    (
        p.RespondersStop("r1"),
        b'{"type":"responders_stop","id":"r1"}\n',
    ),
    (
        p.RespondersStopped("r1", 5, 4, "ttl"),
        b'{"type":"responders_stopped","id":"r1","connections":5,"proven":4,"reason":"ttl"}\n',
    ),
    (
        p.RespondersStopped("r1", 0, 0),
        b'{"type":"responders_stopped","id":"r1","connections":0,"proven":0,"reason":"requested"}\n',
    ),
    (
        p.FactsRequest("f1", "/var/retention"),
        b'{"type":"facts_request","id":"f1","retention_path":"/var/retention"}\n',
    ),
    (
        p.FactsRequest("f2"),
        b'{"type":"facts_request","id":"f2","retention_path":null}\n',
    ),
    (
        p.Facts(
            "f1",
            "linux",
            "ubuntu",
            "Ubuntu 22.04.4 LTS",
            "22.04",
            p.VolumeFacts(
                "/var/retention",
                True,
                True,
                "ext4",
                "/var",
                False,
                "/dev/sdb1",
                10**12,
                5 * 10**11,
                "ok",
            ),
            True,
            "open-vm-tools 12.1",
        ),
        b'{"type":"facts","id":"f1","os_family":"linux","os_id":"ubuntu","os_name":"Ubuntu 22.04.4 LTS","os_version":"22.04","retention":{"path":"/var/retention","exists":true,"is_dir":true,"filesystem":"ext4","mount_point":"/var","is_mount":false,"device":"/dev/sdb1","total_bytes":1000000000000,"free_bytes":500000000000,"detail":"ok"},"vmware_tools":true,"vmware_tools_detail":"open-vm-tools 12.1"}\n',
    ),
    (
        p.Facts("f2", "windows", "", "", "", p.VolumeFacts("R:", False)),
        b'{"type":"facts","id":"f2","os_family":"windows","os_id":"","os_name":"","os_version":"","retention":{"path":"R:","exists":false,"is_dir":false,"filesystem":null,"mount_point":null,"is_mount":null,"device":null,"total_bytes":null,"free_bytes":null,"detail":""},"vmware_tools":null,"vmware_tools_detail":""}\n',
    ),
    (
        p.Facts("f3", "linux", "rhel", "RHEL 9", "9.3"),
        b'{"type":"facts","id":"f3","os_family":"linux","os_id":"rhel","os_name":"RHEL 9","os_version":"9.3","retention":null,"vmware_tools":null,"vmware_tools_detail":""}\n',
    ),
    (
        p.NicFactsRequest("n1", ("198.18.1.4", "::1")),
        b'{"type":"nic_facts_request","id":"n1","destinations":["198.18.1.4","::1"]}\n',
    ),
    (
        p.NicFactsRequest("n2"),
        b'{"type":"nic_facts_request","id":"n2","destinations":[]}\n',
    ),
    (
        p.NicFacts(
            "n1",
            "linux",
            (
                p.InterfaceFacts(
                    "eth0",
                    2,
                    ("198.18.2.10/24", "fe80::1/64"),
                    1500,
                    True,
                    True,
                    2,
                    "ether",
                    "02:00:00:00:00:01",
                ),
                p.InterfaceFacts("lo"),
            ),
            (
                p.RouteChoice("198.18.1.4", "198.18.2.10", "eth0", "udp_connect"),
                p.RouteChoice("198.18.9.9", None, None, "udp_connect", "no route"),
            ),
            1,
            "partial",
        ),
        b'{"type":"nic_facts","id":"n1","os_family":"linux","interfaces":[{"name":"eth0","index":2,"addresses":["198.18.2.10/24","fe80::1/64"],"mtu":1500,"up":true,"default_route":true,"rp_filter":2,"kind":"ether","mac":"02:00:00:00:00:01"},{"name":"lo","index":null,"addresses":[],"mtu":null,"up":null,"default_route":null,"rp_filter":null,"kind":"","mac":null}],"routes":[{"dst":"198.18.1.4","src":"198.18.2.10","iface":"eth0","method":"udp_connect","detail":""},{"dst":"198.18.9.9","src":null,"iface":null,"method":"udp_connect","detail":"no route"}],"rp_filter_all":1,"detail":"partial"}\n',
    ),
    (
        p.NicFacts("n2", "windows"),
        b'{"type":"nic_facts","id":"n2","os_family":"windows","interfaces":[],"routes":[],"rp_filter_all":null,"detail":""}\n',
    ),
    (
        p.ArpCheckRequest(
            "a1", (p.ArpTarget("198.18.2.10", "eth0"), p.ArpTarget("198.18.3.10")), 900, 3
        ),
        b'{"type":"arp_check_request","id":"a1","targets":[{"address":"198.18.2.10","iface":"eth0"},{"address":"198.18.3.10","iface":null}],"timeout_ms":900,"probes":3}\n',
    ),
    (
        p.ArpCheckRequest("a2", ()),
        b'{"type":"arp_check_request","id":"a2","targets":[],"timeout_ms":1500,"probes":2}\n',
    ),
    (
        p.ArpCheck(
            "a1",
            (
                p.ArpResult(
                    "198.18.2.10",
                    "eth0",
                    "duplicate",
                    "02:00:00:00:00:01",
                    ("02:00:00:00:00:09",),
                    "two answered",
                ),
                p.ArpResult("198.18.3.10", None, "not_run"),
            ),
        ),
        b'{"type":"arp_check","id":"a1","results":[{"address":"198.18.2.10","iface":"eth0","status":"duplicate","own_mac":"02:00:00:00:00:01","macs":["02:00:00:00:00:09"],"detail":"two answered"},{"address":"198.18.3.10","iface":null,"status":"not_run","own_mac":null,"macs":[],"detail":""}]}\n',
    ),
    (
        p.CaptureStart("c1", ("198.18.1.4", "fe80::2"), 30, 200),
        b'{"type":"capture_start","id":"c1","peers":["198.18.1.4","fe80::2"],"max_seconds":30,"max_packets":200}\n',
    ),
    (
        p.CaptureStart("c2", ()),
        b'{"type":"capture_start","id":"c2","peers":[],"max_seconds":120,"max_packets":5000}\n',
    ),
    (
        p.CaptureReady("c1", "capturing", ("eth0", "eth1"), "tcpdump"),
        b'{"type":"capture_ready","id":"c1","status":"capturing","ifaces":["eth0","eth1"],"detail":"tcpdump"}\n',
    ),
    (
        p.CaptureReady("c2", "not_run"),
        b'{"type":"capture_ready","id":"c2","status":"not_run","ifaces":[],"detail":""}\n',
    ),
    (
        p.CaptureStop("c1"),
        b'{"type":"capture_stop","id":"c1"}\n',
    ),
    (
        p.CaptureResult(
            "c1",
            "captured",
            (
                p.CapturedPacket(
                    "eth1", "198.18.1.4", "198.18.2.10", 443, 50000, "SA", 1700000000.5
                ),
            ),
            True,
            "max_packets",
        ),
        b'{"type":"capture_result","id":"c1","status":"captured","packets":[{"iface":"eth1","src":"198.18.1.4","dst":"198.18.2.10","sport":443,"dport":50000,"flags":"SA","t":1700000000.5}],"truncated":true,"detail":"max_packets"}\n',
    ),
    (
        p.CaptureResult("c2", "error"),
        b'{"type":"capture_result","id":"c2","status":"error","packets":[],"truncated":false,"detail":""}\n',
    ),
    (
        p.DiagRequest(
            "d1",
            "traceroute",
            "198.18.2.20",
            9443,
            "198.18.1.4",
            "udp",
            12,
            2,
            3,
            50,
            500,
            9000,
            9000,
            64,
            "recverr",
        ),
        b'{"type":"diag_request","id":"d1","kind":"traceroute","dst":"198.18.2.20","port":9443,"src":"198.18.1.4","proto":"udp","max_ttl":12,"probes_per_hop":2,"count":3,"interval_ms":50,"timeout_ms":500,"deadline_ms":9000,"max_mtu":9000,"max_packets":64,"prefer":"recverr"}\n',
    ),
    (
        p.DiagRequest("d2", "echo", "::1"),
        b'{"type":"diag_request","id":"d2","kind":"echo","dst":"::1","port":0,"src":null,"proto":"tcp","max_ttl":30,"probes_per_hop":1,"count":5,"interval_ms":100,"timeout_ms":1000,"deadline_ms":20000,"max_mtu":1500,"max_packets":128,"prefer":"auto"}\n',
    ),
    (
        p.DiagResult(
            "d1",
            "traceroute",
            "scapy",
            "hops",
            (
                p.Hop(1, "time-exceeded", "198.18.1.1", 320, 11, 0, "time-exceeded"),
                p.Hop(2),
                p.Hop(3, "unreachable", "198.18.2.20", 900, 3, 4, "frag-needed", 1400, 1500),
            ),
            True,
            3,
            2,
            1400,
            "eth0",
            1500,
            3,
            42,
        ),
        b'{"type":"diag_result","id":"d1","kind":"traceroute","method":"scapy","detail":"hops","hops":[{"ttl":1,"reply":"time-exceeded","address":"198.18.1.1","rtt_us":320,"icmp_type":11,"icmp_code":0,"icmp":"time-exceeded","mtu":null,"size":null},{"ttl":2,"reply":"none","address":null,"rtt_us":null,"icmp_type":null,"icmp_code":null,"icmp":"","mtu":null,"size":null},{"ttl":3,"reply":"unreachable","address":"198.18.2.20","rtt_us":900,"icmp_type":3,"icmp_code":4,"icmp":"frag-needed","mtu":1400,"size":1500}],"reached":true,"sent":3,"received":2,"pmtu":1400,"iface":"eth0","iface_mtu":1500,"packets":3,"elapsed_ms":42}\n',
    ),
    (
        p.DiagResult("d2", "pmtu", "unavailable", "no raw sockets"),
        b'{"type":"diag_result","id":"d2","kind":"pmtu","method":"unavailable","detail":"no raw sockets","hops":[],"reached":null,"sent":0,"received":0,"pmtu":null,"iface":null,"iface_mtu":null,"packets":0,"elapsed_ms":0}\n',
    ),
    (
        p.BandwidthListen("e1", "127.0.0.1", 0, "ab" * 16, 10**9, 30.0, 4, True, 5.0),
        b'{"type":"bandwidth_listen","id":"e1","address":"127.0.0.1","port":0,"token":"abababababababababababababababab","max_bytes":1000000000,"max_seconds":30.0,"streams":4,"reverse":true,"accept_timeout_s":5.0}\n',
    ),
    (
        p.BandwidthListen("e2", "::1", 5201, "cd" * 20, 1, 0.5),
        b'{"type":"bandwidth_listen","id":"e2","address":"::1","port":5201,"token":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","max_bytes":1,"max_seconds":0.5,"streams":1,"reverse":false,"accept_timeout_s":30.0}\n',
    ),
    (
        p.BandwidthListening("e1", "127.0.0.1", 5201),
        b'{"type":"bandwidth_listening","id":"e1","address":"127.0.0.1","port":5201}\n',
    ),
    (
        p.BandwidthRun("r1", "::1", 5201, "ab" * 16, "::1", 2, 10.5, True, 500, 3000),
        b'{"type":"bandwidth_run","id":"r1","dst":"::1","port":5201,"token":"abababababababababababababababab","src":"::1","streams":2,"duration_s":10.5,"reverse":true,"interval_ms":500,"connect_timeout_ms":3000}\n',
    ),
    (
        p.BandwidthRun("r2", "127.0.0.1", 5202, "ef" * 16),
        b'{"type":"bandwidth_run","id":"r2","dst":"127.0.0.1","port":5202,"token":"efefefefefefefefefefefefefefefef","src":null,"streams":1,"duration_s":10.0,"reverse":false,"interval_ms":1000,"connect_timeout_ms":5000}\n',
    ),
    (
        p.BandwidthInterval("r1", 1.0, 12_500_000, 3),
        b'{"type":"bandwidth_interval","id":"r1","t":1.0,"bytes":12500000,"retrans":3}\n',
    ),
    (
        p.BandwidthInterval("r1", 2, 0),
        b'{"type":"bandwidth_interval","id":"r1","t":2,"bytes":0,"retrans":null}\n',
    ),
    (
        p.BandwidthResult("r1", 10**8, 8.0, 100.0, 5, 2, "peer vanished after 8.0 s", "sender"),
        b'{"type":"bandwidth_result","id":"r1","bytes":100000000,"seconds":8.0,"mbps":100.0,"retransmits":5,"streams":2,"reason":"peer vanished after 8.0 s","source":"sender"}\n',
    ),
    (
        p.BandwidthResult("r2", 0, 0, 0, None, 0, "refused"),
        b'{"type":"bandwidth_result","id":"r2","bytes":0,"seconds":0,"mbps":0,"retransmits":null,"streams":0,"reason":"refused","source":"receiver"}\n',
    ),
    (
        p.BandwidthStop("e1"),
        b'{"type":"bandwidth_stop","id":"e1"}\n',
    ),
    (
        p.BandwidthClosed("e1", 10**8, 8.1, 2, 1, "completed", 7),
        b'{"type":"bandwidth_closed","id":"e1","bytes":100000000,"seconds":8.1,"connections":2,"rejected":1,"reason":"completed","retransmits":7}\n',
    ),
    (
        p.BandwidthClosed("e2", 0, 0.5, 0, 0, "no client within 0.5 s"),
        b'{"type":"bandwidth_closed","id":"e2","bytes":0,"seconds":0.5,"connections":0,"rejected":0,"reason":"no client within 0.5 s","retransmits":null}\n',
    ),
]

# a line with only the required fields, and the full line it decodes to
MINIMAL: List[Tuple[bytes, bytes]] = [
    (
        b'{"type":"hello","protocol":1,"agent_version":"v","host":"h","pid":1,"python":"3","platform":"l"}',
        b'{"type":"hello","protocol":1,"agent_version":"v","host":"h","pid":1,"python":"3","platform":"l","capabilities":{}}\n',
    ),
    (
        b'{"type":"error","code":"internal"}',
        b'{"type":"error","ref":null,"code":"internal","message":""}\n',
    ),
    (
        b'{"type":"bye"}',
        b'{"type":"bye"}\n',
    ),
    (
        b'{"type":"probe_batch","batch":"b","probes":[{"cell":"c","kind":"k","dst":"h","port":1}]}',
        b'{"type":"probe_batch","batch":"b","concurrency":256,"probes":[{"cell":"c","kind":"k","dst":"h","port":1,"src":null,"samples":1,"interval_ms":0,"timeout_ms":1000,"nonce":null}]}\n',
    ),
    (
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"timeout","t":1.5}]}',
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"timeout","rtt_us":null,"rtt_source":null,"errno":null,"detail":"","proven":false,"t":1.5}]}\n',
    ),
    (
        b'{"type":"batch_done","batch":"b","cells":0}',
        b'{"type":"batch_done","batch":"b","cells":0}\n',
    ),
    (
        b'{"type":"responders_start","id":"r","nonce":"ab","listen":[{"address":"::1","port":0}]}',
        b'{"type":"responders_start","id":"r","nonce":"ab","ttl_s":60,"max_conns":10000,"host":"","listen":[{"address":"::1","port":0}]}\n',
    ),
    (
        b'{"type":"responders_ready","id":"r","listening":[],"refused":[{"address":"x","port":1,"reason":"error"}]}',
        b'{"type":"responders_ready","id":"r","listening":[],"refused":[{"address":"x","port":1,"reason":"error","detail":""}]}\n',
    ),
    (
        b'{"type":"responders_stop","id":"r"}',
        b'{"type":"responders_stop","id":"r"}\n',
    ),
    (
        b'{"type":"responders_stopped","id":"r","connections":1,"proven":1}',
        b'{"type":"responders_stopped","id":"r","connections":1,"proven":1,"reason":"requested"}\n',
    ),
    (
        b'{"type":"facts_request","id":"f"}',
        b'{"type":"facts_request","id":"f","retention_path":null}\n',
    ),
    (
        b'{"type":"facts","id":"f","os_family":"linux","retention":{"path":"/x","exists":true}}',
        b'{"type":"facts","id":"f","os_family":"linux","os_id":"","os_name":"","os_version":"","retention":{"path":"/x","exists":true,"is_dir":false,"filesystem":null,"mount_point":null,"is_mount":null,"device":null,"total_bytes":null,"free_bytes":null,"detail":""},"vmware_tools":null,"vmware_tools_detail":""}\n',
    ),
    (
        b'{"type":"facts","id":"f","os_family":"linux"}',
        b'{"type":"facts","id":"f","os_family":"linux","os_id":"","os_name":"","os_version":"","retention":null,"vmware_tools":null,"vmware_tools_detail":""}\n',
    ),
    (
        b'{"type":"nic_facts_request","id":"n"}',
        b'{"type":"nic_facts_request","id":"n","destinations":[]}\n',
    ),
    (
        b'{"type":"nic_facts","id":"n","os_family":"linux","interfaces":[{"name":"eth0"}],"routes":[{"dst":"::1","method":"udp_connect"}]}',
        b'{"type":"nic_facts","id":"n","os_family":"linux","interfaces":[{"name":"eth0","index":null,"addresses":[],"mtu":null,"up":null,"default_route":null,"rp_filter":null,"kind":"","mac":null}],"routes":[{"dst":"::1","src":null,"iface":null,"method":"udp_connect","detail":""}],"rp_filter_all":null,"detail":""}\n',
    ),
    (
        b'{"type":"arp_check_request","id":"a","targets":[{"address":"198.18.2.10"}]}',
        b'{"type":"arp_check_request","id":"a","targets":[{"address":"198.18.2.10","iface":null}],"timeout_ms":1500,"probes":2}\n',
    ),
    (
        b'{"type":"arp_check","id":"a","results":[{"address":"198.18.2.10","status":"clear"}]}',
        b'{"type":"arp_check","id":"a","results":[{"address":"198.18.2.10","iface":null,"status":"clear","own_mac":null,"macs":[],"detail":""}]}\n',
    ),
    (
        b'{"type":"capture_start","id":"c","peers":["198.18.1.4"]}',
        b'{"type":"capture_start","id":"c","peers":["198.18.1.4"],"max_seconds":120,"max_packets":5000}\n',
    ),
    (
        b'{"type":"capture_ready","id":"c","status":"capturing"}',
        b'{"type":"capture_ready","id":"c","status":"capturing","ifaces":[],"detail":""}\n',
    ),
    (
        b'{"type":"capture_stop","id":"c"}',
        b'{"type":"capture_stop","id":"c"}\n',
    ),
    (
        b'{"type":"capture_result","id":"c","status":"captured","packets":[{"iface":"e","src":"::1","dst":"::1","sport":1,"dport":2,"flags":"S","t":0}]}',
        b'{"type":"capture_result","id":"c","status":"captured","packets":[{"iface":"e","src":"::1","dst":"::1","sport":1,"dport":2,"flags":"S","t":0}],"truncated":false,"detail":""}\n',
    ),
    (
        b'{"type":"diag_request","id":"d","kind":"echo","dst":"::1"}',
        b'{"type":"diag_request","id":"d","kind":"echo","dst":"::1","port":0,"src":null,"proto":"tcp","max_ttl":30,"probes_per_hop":1,"count":5,"interval_ms":100,"timeout_ms":1000,"deadline_ms":20000,"max_mtu":1500,"max_packets":128,"prefer":"auto"}\n',
    ),
    (
        b'{"type":"diag_result","id":"d","kind":"syn","method":"recverr","hops":[{"ttl":1}]}',
        b'{"type":"diag_result","id":"d","kind":"syn","method":"recverr","detail":"","hops":[{"ttl":1,"reply":"none","address":null,"rtt_us":null,"icmp_type":null,"icmp_code":null,"icmp":"","mtu":null,"size":null}],"reached":null,"sent":0,"received":0,"pmtu":null,"iface":null,"iface_mtu":null,"packets":0,"elapsed_ms":0}\n',
    ),
    (
        b'{"type":"diag_result","id":"d","kind":"syn","method":"recverr"}',
        b'{"type":"diag_result","id":"d","kind":"syn","method":"recverr","detail":"","hops":[],"reached":null,"sent":0,"received":0,"pmtu":null,"iface":null,"iface_mtu":null,"packets":0,"elapsed_ms":0}\n',
    ),
    (
        b'{"type":"bandwidth_listen","id":"e","address":"::1","port":0,"token":"abababababababababababababababab","max_bytes":1,"max_seconds":1}',
        b'{"type":"bandwidth_listen","id":"e","address":"::1","port":0,"token":"abababababababababababababababab","max_bytes":1,"max_seconds":1,"streams":1,"reverse":false,"accept_timeout_s":30.0}\n',
    ),
    (
        b'{"type":"bandwidth_listening","id":"e","address":"::1","port":1}',
        b'{"type":"bandwidth_listening","id":"e","address":"::1","port":1}\n',
    ),
    (
        b'{"type":"bandwidth_run","id":"r","dst":"::1","port":1,"token":"abababababababababababababababab"}',
        b'{"type":"bandwidth_run","id":"r","dst":"::1","port":1,"token":"abababababababababababababababab","src":null,"streams":1,"duration_s":10.0,"reverse":false,"interval_ms":1000,"connect_timeout_ms":5000}\n',
    ),
    (
        b'{"type":"bandwidth_interval","id":"r","t":1,"bytes":0}',
        b'{"type":"bandwidth_interval","id":"r","t":1,"bytes":0,"retrans":null}\n',
    ),
    (
        b'{"type":"bandwidth_result","id":"r","bytes":0,"seconds":0,"mbps":0,"streams":0,"reason":"refused"}',
        b'{"type":"bandwidth_result","id":"r","bytes":0,"seconds":0,"mbps":0,"retransmits":null,"streams":0,"reason":"refused","source":"receiver"}\n',
    ),
    (
        b'{"type":"bandwidth_stop","id":"r"}',
        b'{"type":"bandwidth_stop","id":"r"}\n',
    ),
    (
        b'{"type":"bandwidth_closed","id":"r","bytes":0,"seconds":0,"connections":0,"rejected":0,"reason":"x"}',
        b'{"type":"bandwidth_closed","id":"r","bytes":0,"seconds":0,"connections":0,"rejected":0,"reason":"x","retransmits":null}\n',
    ),
]


@pytest.mark.parametrize(("msg", "line"), GOLDEN, ids=lambda x: type(x).__name__)
def test_encode_gives_the_pinned_bytes(msg: Any, line: bytes) -> None:
    assert p.encode(msg) == line


@pytest.mark.parametrize(("msg", "line"), GOLDEN, ids=lambda x: type(x).__name__)
def test_decode_of_the_pinned_bytes_gives_the_message(msg: Any, line: bytes) -> None:
    decoded = p.decode(line)
    assert decoded == msg
    assert type(decoded) is type(msg)


@pytest.mark.parametrize(("line", "full"), MINIMAL, ids=lambda x: x[9:30].decode())
def test_absent_optional_fields_decode_to_their_defaults(line: bytes, full: bytes) -> None:
    assert p.encode(p.decode(line)) == full
    assert p.decode(full) == p.decode(line)


def _classes(msg: Any, found: set) -> None:
    found.add(type(msg))
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if dataclasses.is_dataclass(item):
                _classes(item, found)


def test_every_message_type_and_nested_type_is_pinned() -> None:
    pinned: set = set()
    for msg, _ in GOLDEN:
        _classes(msg, pinned)
    assert {cls.TYPE for cls in pinned if hasattr(cls, "TYPE")} == set(p.MESSAGE_TYPES)
    nested = {
        p.ProbeRequest,
        p.Sample,
        p.ListenSpec,
        p.ListenRefused,
        p.VolumeFacts,
        p.InterfaceFacts,
        p.RouteChoice,
        p.ArpTarget,
        p.ArpResult,
        p.CapturedPacket,
        p.Hop,
    }
    assert nested <= pinned


@pytest.mark.parametrize(
    ("msg", "secret"),
    [
        (GOLDEN[5][0], "00ff"),  # a probe's nonce
        (GOLDEN[12][0], "abcd"),  # a responder set's nonce
        (GOLDEN[42][0], "ab" * 16),  # bandwidth tokens
        (GOLDEN[45][0], "ab" * 16),
    ],
)
def test_secrets_never_reach_a_repr(msg: Any, secret: str) -> None:
    assert secret not in repr(msg) and "<redacted>" in repr(msg)


# a peer's bad line: the error names the field by its dotted path, with this reason
REJECTED: List[Tuple[bytes, str, str]] = [
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"kind":"k","dst":"h","port":1}]}',
        "probe_batch.probes[0].cell",
        "is required",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"cell":"","kind":"k","dst":"h","port":1}]}',
        "probe_batch.probes[0].cell",
        "must not be empty",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"cell":"c","kind":"k","dst":"h","port":true}]}',
        "probe_batch.probes[0].port",
        "must be an integer, got True",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"cell":"c","kind":"k","dst":"h","port":65536}]}',
        "probe_batch.probes[0].port",
        "must be in 1..65535, got 65536",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"cell":"c","kind":"k","dst":"h","port":1,"samples":10001}]}',
        "probe_batch.probes[0].samples",
        "expected an integer from 1 to 100, got 10001",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"cell":"c","kind":"k","dst":"h","port":1,"nonce":"ABCD"}]}',
        "probe_batch.probes[0].nonce",
        "must be an even-length lower-case hex string",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"cell":"c","kind":"k","dst":"h","port":1,"params":{"a":[1]}}]}',
        "probe_batch.probes[0].params.a",
        "must be a string, number or boolean, got list",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[{"cell":"c","kind":"k","dst":"h","port":1},{"cell":"c","kind":"k","dst":"h","port":2}]}',
        "probe_batch.probes[1].cell",
        "duplicate cell id 'c'",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[1]}',
        "probe_batch.probes[0]",
        "must be an object, got 1",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":{}}',
        "probe_batch.probes",
        "must be a list, got {}",
    ),
    (
        b'{"type":"probe_batch","batch":"b7","probes":[],"concurrency":0}',
        "probe_batch.concurrency",
        "expected an integer from 1 to 4096, got 0",
    ),
    (
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":1},{"outcome":"meh","t":1}]}',
        "result.samples[1].outcome",
        "must be one of ['error', 'handshake_only', 'open', 'refused', 'timeout', 'unreachable'], got 'meh'",
    ),
    (
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":-1}]}',
        "result.samples[0].t",
        "must be in 0.0..100000000000.0, got -1",
    ),
    (
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":1,"errno":2147483649}]}',
        "result.samples[0].errno",
        "must be in -2147483648..2147483648, got 2147483649",
    ),
    (
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":1,"detail":null}]}',
        "result.samples[0].detail",
        "must be a string, got None",
    ),
    (
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":1,"facts":{"x":{}}}]}',
        "result.samples[0].facts.x",
        "must be a string, number or boolean, got dict",
    ),
    (
        b'{"type":"hello","protocol":0,"agent_version":"v","host":"h","pid":1,"python":"3","platform":"l"}',
        "hello.protocol",
        "must be in 1..2147483648, got 0",
    ),
    (
        b'{"type":"hello","protocol":1,"agent_version":"v","host":"h","pid":1,"python":"3","platform":"l","capabilities":{"x":1}}',
        "hello.capabilities.x",
        "must be true or false, got 1",
    ),
    (b'{"type":"error","ref":5,"code":"c"}', "error.ref", "must be a string, got 5"),
    (
        b'{"type":"responders_start","id":"r","nonce":"abc","listen":[]}',
        "responders_start.nonce",
        "must be an even-length lower-case hex string",
    ),
    (
        b'{"type":"responders_start","id":"r","nonce":"ab","listen":[{"address":"localhost","port":1}]}',
        "responders_start.listen[0].address",
        "must be an IP address, got 'localhost'",
    ),
    (
        b'{"type":"responders_start","id":"r","nonce":"ab","listen":[],"ttl_s":0}',
        "responders_start.ttl_s",
        "must be in 0.001..86400, got 0",
    ),
    (
        b'{"type":"responders_ready","id":"r","listening":[],"refused":[{"address":"x","port":1}]}',
        "responders_ready.refused[0].reason",
        "is required",
    ),
    (
        b'{"type":"facts","id":"f","os_family":"linux","retention":[]}',
        "facts.retention",
        "must be an object or null",
    ),
    (
        b'{"type":"facts","id":"f","os_family":"linux","retention":{"path":"/x","exists":"yes"}}',
        "facts.retention.exists",
        "must be true or false, got 'yes'",
    ),
    (
        b'{"type":"facts_request","id":"f","retention_path":""}',
        "facts_request.retention_path",
        "must not be empty",
    ),
    (
        b'{"type":"nic_facts_request","id":"n","destinations":["mt01"]}',
        "nic_facts_request.destinations[0]",
        "must be an IP address, got 'mt01'",
    ),
    (
        b'{"type":"nic_facts","id":"n","os_family":"linux","interfaces":[{"name":"e","rp_filter":3}],"routes":[]}',
        "nic_facts.interfaces[0].rp_filter",
        "must be in 0..2, got 3",
    ),
    (
        b'{"type":"nic_facts","id":"n","os_family":"linux","interfaces":[],"routes":[{"dst":"::1","src":"x","method":"m"}]}',
        "nic_facts.routes[0].src",
        "must be an IP address, got 'x'",
    ),
    (
        b'{"type":"arp_check_request","id":"a","targets":[{"address":"198.18.2.10"}],"timeout_ms":99}',
        "arp_check_request.timeout_ms",
        "must be in 100..10000, got 99",
    ),
    (
        b'{"type":"arp_check","id":"a","results":[{"address":"198.18.2.10","status":"maybe"}]}',
        "arp_check.results[0].status",
        "must be one of ['clear', 'duplicate', 'error', 'not_run'], got 'maybe'",
    ),
    (
        b'{"type":"capture_start","id":"c","peers":["198.18.1.4"],"max_seconds":0}',
        "capture_start.max_seconds",
        "must be in 1..3600, got 0",
    ),
    (
        b'{"type":"capture_ready","id":"c","status":"capturing","ifaces":["",""]}',
        "capture_ready.ifaces[0]",
        "must not be empty",
    ),
    (
        b'{"type":"capture_result","id":"c","status":"captured","packets":[{"iface":"e","src":"::1","dst":"::1","sport":1,"dport":2,"flags":"S","t":-1}]}',
        "capture_result.packets[0].t",
        "must be in 0..1099511627776, got -1",
    ),
    (
        b'{"type":"diag_request","id":"d","kind":"syn","dst":"::1"}',
        "diag_request.port",
        "a syn toward tcp needs a port",
    ),
    (
        b'{"type":"diag_request","id":"d","kind":"ping","dst":"::1"}',
        "diag_request.kind",
        "must be one of ['echo', 'pmtu', 'syn', 'traceroute'], got 'ping'",
    ),
    (
        b'{"type":"diag_result","id":"d","kind":"syn","method":"recverr","hops":[{"ttl":1,"reply":"maybe"}]}',
        "diag_result.hops[0].reply",
        "must be one of ['answer', 'echo-reply', 'local-error', 'none', 'other', 'rst', 'syn-ack', 'time-exceeded', 'unreachable'], got 'maybe'",
    ),
    (
        b'{"type":"bandwidth_listen","id":"e","address":"::1","port":0,"token":"abab","max_bytes":1,"max_seconds":1}',
        "bandwidth_listen.token",
        "must be at least 16 bytes (32 hex digits)",
    ),
    (
        b'{"type":"bandwidth_run","id":"r","dst":"::1","port":1,"token":"abababababababababababababababab","connect_timeout_ms":5}',
        "bandwidth_run.connect_timeout_ms",
        "must be in 10..120000, got 5",
    ),
    (
        b'{"type":"bandwidth_result","id":"r","bytes":0,"seconds":0,"mbps":-1,"streams":0,"reason":"x"}',
        "bandwidth_result.mbps",
        "must be in 0..1000000000.0, got -1",
    ),
    (
        b'{"type":"bandwidth_closed","id":"r","bytes":0,"seconds":0,"connections":0,"rejected":0,"reason":""}',
        "bandwidth_closed.reason",
        "must not be empty",
    ),
]


@pytest.mark.parametrize(("line", "field", "reason"), REJECTED, ids=lambda x: str(x)[:40])
def test_a_bad_line_gives_the_pinned_error(line: bytes, field: str, reason: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode(line)
    assert (info.value.field, info.value.reason) == (field, reason)
    assert str(info.value) == f"{field}: {reason}"
