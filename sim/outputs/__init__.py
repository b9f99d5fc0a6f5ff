"""The run folder: its files (:mod:`sim.outputs.folder`), its record files of requests and
propagation (:mod:`sim.outputs.records`), its store of finished runs (:mod:`sim.outputs.store`),
and a folder read back (:mod:`sim.outputs.reread`)."""

from sim.outputs.folder import SCHEMA_VERSION, summary_document, write_report, write_run_folder
from sim.outputs.reread import read_results
from sim.outputs.store import (
    INCOMPLETE,
    OUTPUT_FILES,
    Manifest,
    OutputFolderError,
    RunStore,
    StoreMismatch,
    check_output_folder,
    scenario_hash,
    staging,
)

__all__ = [
    "INCOMPLETE",
    "OUTPUT_FILES",
    "SCHEMA_VERSION",
    "Manifest",
    "OutputFolderError",
    "RunStore",
    "StoreMismatch",
    "check_output_folder",
    "read_results",
    "scenario_hash",
    "staging",
    "summary_document",
    "write_report",
    "write_run_folder",
]
