"""Interop: redis-py's RedisCluster keeps writing and reading keys while slots move under it.

Usage: python3 tests/interop/reshard_load.py PORT STOPFILE KEYS
       python3 tests/interop/reshard_load.py --names PREFIX COUNT   (prints the key names it would use)

Writes KEYS keys round after round (half of them in slots 0-99, the ones the reshard moves first), each SET followed by a GET of the same key, until STOPFILE
exists; every round rewrites every key with the round number. The client follows MOVED and ASK itself (that
is the point). At the end every key is read back once more. Prints one summary line; exits 1 if any command
raised (an error reached the application) or any read returned another value than the last one written.

One client-side failure is retried instead of counted: redis-py 8.1.0 follows an `-ASK` to a node it has not
discovered yet with `get_node()`, which returns None, and raises `AttributeError: 'NoneType' object has no
attribute 'redis_connection'` (RedisCluster._execute_command, the `asking` branch). A real Redis 7 cluster
sends the same ASK right after `--cluster add-node`; the command never reached a node, so nothing was written.
The load refreshes the client's topology (`nodes_manager.initialize()`) and retries; the summary counts them.
"""
import os
import sys
import time

from redis.cluster import RedisCluster


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def key_names(count, prefix="load"):
    """`<prefix>:i` names, half of them hashing to slots 0-99."""
    low, high, i = [], [], 0
    while len(low) < count // 2 or len(high) < count - count // 2:
        key = f"{prefix}:{i}"
        (low if crc16(key.encode()) % 16384 < 100 else high).append(key)
        i += 1
    return low[: count // 2] + high[: count - count // 2]


def redis_py_ask_to_unknown_node(e):
    """redis-py's own failure on an ASK to a node it does not know (see the module text)."""
    return isinstance(e, AttributeError) and "redis_connection" in str(e)


def set_and_get(rc, key, value):
    """SET then GET `key`; retries (at most 3 times) after redis-py's ASK-to-unknown-node failure. Returns the
    read value and how many retries it took."""
    for retry in range(4):
        try:
            rc.set(key, value)
            return rc.get(key), retry
        except Exception as e:
            if retry == 3 or not redis_py_ask_to_unknown_node(e):
                raise
            rc.nodes_manager.initialize()
    raise AssertionError("unreachable")


def main(port, stop, keys):
    names = key_names(keys)
    rc = RedisCluster(host="127.0.0.1", port=port, protocol=2)
    errors, wrong, rounds, ops, retried = [], [], 0, 0, 0
    last = {}
    try:
        while not os.path.exists(stop) or rounds == 0:
            for i, key in enumerate(names):
                value = f"r{rounds}:{i}"
                try:
                    got, retries = set_and_get(rc, key, value)
                    last[key] = value
                    retried += retries
                    ops += 2
                    if got != value.encode():
                        wrong.append((key, value, got))
                except Exception as e:  # any error that reached the application
                    errors.append(f"{key}: {type(e).__name__}: {e}")
            rounds += 1
            time.sleep(0.05)  # a steady load, not a busy loop: the nodes share CI's two cores with it
        for key, value in last.items():
            try:
                got = rc.get(key)
                if got != value.encode():
                    wrong.append((key, value, got))
            except Exception as e:
                errors.append(f"final {key}: {type(e).__name__}: {e}")
    finally:
        rc.close()
    if errors or wrong:
        print(f"FAIL redis-py during reshard: {len(errors)} errors, {len(wrong)} wrong reads in {rounds} rounds")
        for e in errors[:5]:
            print(f"  error: {e}")
        for w in wrong[:5]:
            print(f"  wrong: {w}")
        sys.exit(1)
    note = f" ({retried} retried after redis-py's ASK-to-unknown-node failure)" if retried else ""
    print(f"ok   redis-py during reshard: {rounds} rounds, {ops} commands on {keys} keys, no error, every read current{note}")


if __name__ == "__main__":
    if sys.argv[1] == "--names":
        print("\n".join(key_names(int(sys.argv[3]), sys.argv[2])))
    else:
        main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
