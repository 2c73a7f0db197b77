"""The simulator's long-lived parts, built once per app: patients, trust, compiled schemas, fault plan and
counters (state.py), registry.

Schemas are compiled at construction (start-up), never per request; compiled XSDs are shared between
instances of the same process, so tests that build many apps pay for them once.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from dmp_gateway.dmp.xsd import XsdValidator
from dmp_gateway.dmp_simulator.cda import CdaValidator
from dmp_gateway.dmp_simulator.config import SimulatorConfig
from dmp_gateway.dmp_simulator.patients import load_patients
from dmp_gateway.dmp_simulator.registry import Registry
from dmp_gateway.dmp_simulator.state import LocalState, SharedState
from dmp_gateway.dmp_simulator.trust import TrustStore
from dmp_gateway.dmp_simulator.valuesets import ValueSets


@functools.lru_cache(maxsize=8)
def _cda_validator(kit: Path | None, strict: bool) -> CdaValidator:
    return CdaValidator(kit, strict=strict)


@functools.lru_cache(maxsize=4)
def _schemas(root: Path | None) -> XsdValidator | None:
    """The gateway's offline XSD set (dmp/xsd.py), with the two roots the simulator uses compiled now."""
    if root is None:
        return None
    validator = XsdValidator(root)
    validator.xdsb, validator.td02_request  # noqa: B018 - compile at start-up, not on the first request
    return validator


@functools.lru_cache(maxsize=4)
def _value_sets(kit: Path | None) -> ValueSets:
    return ValueSets.load(kit)


class Simulator:
    """State shared by the simulator's endpoints."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.patients = load_patients(config.patients_file)
        self.trust = TrustStore.from_pem_files(*config.trust_anchors)
        self.cda = _cda_validator(config.cda_kit, config.strict_cda)
        self.schemas = _schemas(config.xml_schemas)
        self.value_sets = _value_sets(config.cda_kit)
        #: The fault plan in force and the counters of GET /_sim/stats (shared by the workers when several).
        self.state: LocalState | SharedState = (
            SharedState(config.faults, self._pool) if config.workers > 1 else LocalState(config.faults)
        )
        self._registry: Registry | None = None
        self._opening = asyncio.Lock()

    def now(self) -> datetime:
        return self.config.clock()

    async def ready_registry(self) -> Registry:
        """The registry, opened on first use (the ASGI lifespan opens it too, when the server runs one)."""
        if self._registry is None:
            async with self._opening:
                if self._registry is None:
                    self._registry = await Registry.open(self.config.database_url, max_size=self.config.db_pool_size)
        return self._registry

    async def _pool(self) -> AsyncConnectionPool:
        return (await self.ready_registry()).pool

    async def aclose(self) -> None:
        if self._registry is not None:
            await self._registry.close()
            self._registry = None
