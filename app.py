#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` / ``cdk deploy``. Works offline, with no credentials."""

import aws_cdk as cdk

from infra.nag import add_nag_checks
from infra.settings import TrackerSettings
from infra.stack import OmicsJobTrackerStack

app = cdk.App()
settings = TrackerSettings.from_context(app.node)
add_nag_checks(OmicsJobTrackerStack(app, settings.stack_name, settings=settings))
app.synth()
