"""Reference material for testing the simulator, and DMP clients against it (not used by the simulator).

`pki` makes a throw-away CA with structure certificates; `messages` builds valid TD0.2, ITI-41, ITI-18 and
ITI-57 requests from the specification (dmp-interfaces.md, xds-metadata.md), as lxml trees that a test may
change in exactly one place before `to_http()`.
"""
