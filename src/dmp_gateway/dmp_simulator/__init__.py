"""A DMP that judges what it receives: TD0.2, ITI-41, ITI-18, ITI-57 over SOAP 1.2/MTOM, with fault injection.

    from dmp_gateway.dmp_simulator import SimulatorConfig, create_app, run
"""

from dmp_gateway.dmp_simulator.app import create_app
from dmp_gateway.dmp_simulator.config import SimulatorConfig, TlsFiles
from dmp_gateway.dmp_simulator.faults import Fault, FaultPlan
from dmp_gateway.dmp_simulator.server import run

__all__ = ["Fault", "FaultPlan", "SimulatorConfig", "TlsFiles", "create_app", "run"]
