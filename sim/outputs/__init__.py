"""The run folder: its files (:mod:`sim.outputs.folder`) and its store of finished runs
(:mod:`sim.outputs.store`), and a folder read back (:mod:`sim.outputs.reread`)."""

from sim.outputs.folder import SCHEMA_VERSION, summary_document, write_report, write_run_folder
from sim.outputs.reread import read_results
from sim.outputs.store import OUTPUT_FILES, Manifest, RunStore, StoreMismatch, scenario_hash

__all__ = [
    "OUTPUT_FILES",
    "SCHEMA_VERSION",
    "Manifest",
    "RunStore",
    "StoreMismatch",
    "read_results",
    "scenario_hash",
    "summary_document",
    "write_report",
    "write_run_folder",
]
