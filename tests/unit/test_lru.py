"""The bounded LRU mapping behind the hot-path memories (lru.py)."""

from dmp_gateway.lru import Lru


def test_the_least_recently_used_entry_goes_first():
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "a" is now the most recent
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c"), len(lru)) == (1, None, 3, 2)


def test_pop_removes_and_returns():
    lru: Lru[str, int] = Lru(4)
    lru.put("a", 1)
    assert (lru.pop("a"), lru.pop("a"), len(lru)) == (1, None, 0)
