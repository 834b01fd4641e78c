"""The executions that are RUNNING, kept as moto starts and ends them, so nobody has to scan for them.

moto keeps every execution it ever ran in one list per state machine and finds the running ones by
scanning it (``_get_executions``). The simulated clock asks how many are running each time it looks
whether time may move, and the cloud's drain asked every execution's status every 20 ms: with a
thousand executions that scanning and polling was most of the work. Here the patched ``Execution``
reports its start, its worker's ``terminated()`` its end (the moment moto sets the final status), and
waiting for an end is a condition wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class RunningExecutions:
    def __init__(self, on_end: Callable[[], None] = lambda: None) -> None:
        self._arns: set[str] = set()
        self._changed = threading.Condition()
        self._on_end = on_end  # e.g. the simulated clock's recheck: one actor fewer

    def started(self, execution_arn: str) -> None:
        with self._changed:
            self._arns.add(execution_arn)

    def ended(self, execution_arn: str) -> None:
        with self._changed:
            if execution_arn not in self._arns:  # e.g. an execution of an earlier cloud
                return
            self._arns.discard(execution_arn)
            self._changed.notify_all()
        self._on_end()

    def __len__(self) -> int:
        return len(self._arns)

    def __contains__(self, execution_arn: object) -> bool:
        return execution_arn in self._arns

    def wait_until_none(self, timeout: float) -> bool:
        """Wait (real time) until none is running; False if some still are after `timeout`."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._arns, timeout=timeout)

    def wait_until_ended(self, execution_arn: str, timeout: float) -> bool:
        """Wait (real time) until `execution_arn` is not running (ended, or never started here)."""
        with self._changed:
            return self._changed.wait_for(lambda: execution_arn not in self._arns, timeout=timeout)
