"""Which Azure rule blocks a cell: NSG rules evaluated against the plan, offline.

Input is what an administrator can export (`az network nsg|nic|vnet|route-table list
-o json`), never a live Azure call. Pure core: `parse` (JSON → values), `evaluate`
(Azure's NSG semantics for one flow), `predict` (a prediction per plan cell), `compare`
(prediction vs measured verdict → a finding); `load` reads the files.
"""

from netcheck.azure.nsg.compare import NsgFinding, compare, compare_cells
from netcheck.azure.nsg.evaluate import Outcome, Stage
from netcheck.azure.nsg.load import load_export
from netcheck.azure.nsg.model import AzureExport
from netcheck.azure.nsg.parse import AzureExportError
from netcheck.azure.nsg.predict import CellPrediction, Predictions, predict_plan

__all__ = [
    "AzureExport",
    "AzureExportError",
    "CellPrediction",
    "NsgFinding",
    "Outcome",
    "Predictions",
    "Stage",
    "compare",
    "compare_cells",
    "load_export",
    "predict_plan",
]
