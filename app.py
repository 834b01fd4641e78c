#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` / ``cdk deploy``. Works offline, with no credentials.

Configuration that cannot be deployed (an unknown context key, a bad value, an upload prefix too long for
the event rule, a Powertools release without a known layer) stops synthesis with one line per problem on
stderr and exit status 1, not a traceback.
"""

import sys

import aws_cdk as cdk

from infra.nag import add_nag_checks
from infra.settings import SettingsError, TrackerSettings
from infra.stack import OmicsJobTrackerStack


def main() -> int:
    app = cdk.App()
    try:
        settings = TrackerSettings.from_context(app.node)
        add_nag_checks(OmicsJobTrackerStack(app, settings.stack_name, settings=settings))
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
