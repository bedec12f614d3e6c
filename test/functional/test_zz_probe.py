import os, time, json
from test_protocol import _stream_until_closed
def test_probe(daemon):
    print("rss0", daemon.rss_kib())
    with daemon.raw() as c:
        sent, how = _stream_until_closed(c.sock, b'{"jsonrpc":"2.0","id":1,"method":"', b"a" * (1 << 20), 100 << 20)
        print("unterminated", sent, how, c.wait_closed(5), c.buf[:100])
    print("rss1", daemon.rss_kib())
    with daemon.raw() as c:
        sent, how = _stream_until_closed(c.sock, b"", b" \n\t" * (1 << 18), 100 << 20)
        print("ws", sent, how, c.wait_closed(1), c.buf[:100])
    print("rss2", daemon.rss_kib())
    hz = os.sysconf("SC_CLK_TCK")
    time.sleep(2)
    c0=daemon.cpu_ticks(); time.sleep(3); c1=daemon.cpu_ticks()
    print("cpu ticks in 3s", c1-c0, hz)
