"""Waking an execution parked on a task token: the state machine's WaitForChangeOrTimeout and WaitForTurn
write the token to the history table (``waitToken``); whoever changes what the execution waits for wakes it."""

from __future__ import annotations

import json
from typing import Any


class TaskTokens:
    def __init__(self, sfn: Any) -> None:
        self._sfn = sfn

    def wake(self, task_token: str, output: dict[str, Any]) -> bool:
        """End the waiting task with `output`; False if the token is no longer waited on (the wait timed out,
        or another change woke it first), which is fine: the execution goes on at once either way."""
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except (
            self._sfn.exceptions.TaskTimedOut,
            self._sfn.exceptions.InvalidToken,
            self._sfn.exceptions.TaskDoesNotExist,
        ):
            return False
        return True
