"""Interop: redis-py's RedisCluster (a client nobody here wrote) against a running clustersim cluster.

Usage: python3 tests/interop/redis_py.py PORT [KEYS]

Connects through PORT, once with redis-py's default protocol (RESP3 since redis-py 8) and once with
protocol=2, writes KEYS keys (default 1,000) and reads every one back. Prints one line per protocol and exits 1
on the first wrong answer.
"""
import sys

import redis
from redis.cluster import RedisCluster


def run(port, keys, protocol):
    kwargs = {} if protocol is None else {"protocol": protocol}
    rc = RedisCluster(host="127.0.0.1", port=port, **kwargs)
    try:
        hello = rc.get_default_node().redis_connection.execute_command("HELLO")
        proto = hello[b"proto"] if isinstance(hello, dict) else dict(zip(hello[::2], hello[1::2]))[b"proto"]
        expected = 3 if protocol is None else protocol
        if proto != expected:
            sys.exit(f"FAIL redis-py protocol={protocol}: the connection speaks RESP{proto}, expected RESP{expected}")
        tag = f"p{proto}"
        for i in range(keys):
            if rc.set(f"{tag}:key:{i}", f"value:{i}") is not True:
                sys.exit(f"FAIL redis-py RESP{proto}: SET {tag}:key:{i} did not answer OK")
        wrong = [i for i in range(keys) if rc.get(f"{tag}:key:{i}") != f"value:{i}".encode()]
        if wrong:
            sys.exit(f"FAIL redis-py RESP{proto}: {len(wrong)} of {keys} keys read back wrong (first: {tag}:key:{wrong[0]})")
        masters = sorted(n.port for n in rc.get_primaries())
        print(f"ok   redis-py {redis.__version__} RedisCluster RESP{proto}: {keys} keys written and read back across masters {masters}")
    finally:
        rc.close()


if __name__ == "__main__":
    port = int(sys.argv[1])
    keys = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    run(port, keys, None)
    run(port, keys, 2)
