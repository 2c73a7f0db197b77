"""DMP wire protocol: SOAP 1.2/MTOM, VIHF, XAdES, TD0.2, ITI-41, ITI-18, ITI-57 (no FHIR here).

Public vocabulary for callers: `dmp.types` and `dmp.errors` (stdlib-only leaves); adapters:
`dmp.client.SoapDmp` and `dmp.memory.InMemoryDmp`. See docs/dmp-connector.md.
"""
