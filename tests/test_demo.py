"""`--demo`: each demo has a store of its own, gone when the demo ends."""

from __future__ import annotations

import stat

from pf_tui.demo import demo_session


def test_each_demo_has_its_own_private_store() -> None:
    with demo_session(agents=2, motion=False) as first:
        store = first.store.path
        assert store.parent.exists()
        assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700  # a journal is nobody else's
        with demo_session(agents=2, motion=False) as second:
            assert second.store.path != store
    assert not store.parent.exists()  # an earlier demo's journal never meets a new simulator
