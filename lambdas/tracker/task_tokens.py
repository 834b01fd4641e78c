"""Waking an execution parked on a task token (its WaitFor… state wrote the token to the history table)."""

from __future__ import annotations

import json
from typing import Any


class TaskTokens:
    def __init__(self, sfn: Any) -> None:
        self._sfn = sfn
        # The token is no longer waited on: the wait timed out, or another change woke the execution first.
        self._gone = (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist)

    def wake(self, task_token: str, output: dict[str, Any]) -> bool:
        """End the waiting task with `output`; False if it had ended (fine: the execution goes on either way)."""
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except self._gone:
            return False
        return True
