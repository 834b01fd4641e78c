"""The project's local cloud: moto + a HealthOmics simulator + the real handlers, on a simulated clock.

It runs the state machine that ``cdk synth`` produced, never a hand-written copy. See README "Local cloud".
"""

from localcloud.cloud import LocalCloud

__all__ = ["LocalCloud"]
