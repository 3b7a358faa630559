"""The seeds' published numbers, quoted once (docs/maths.md §9): for the side-by-side table and
the paper's text, never a target to tune to.

Each row: (document, objective, method, σ < 1 or not, FID, precision, recall, acceptance or None).
The student report's Table 1 (10k samples per configuration; DRS labelled "γ = 2"); the student
slides' DRS table (1k real against 10k generated images).
"""

from __future__ import annotations

from typing import NamedTuple


class PublishedRow(NamedTuple):
    document: str           # a key of repro.analysis.claims.core.DOCUMENTS
    objective: str
    method: str             # as the document names it
    soft_truncation: bool   # DRS combined with soft truncation (σ < 1)
    fid: float
    precision: float
    recall: float
    acceptance: float | None


REPORT_TABLE_1 = (
    PublishedRow("report", "js", "DRS", False, 50.84, 0.9259, 0.8315, 0.8598),
    PublishedRow("report", "js", "DRS + soft trunc.", True, 62.56, 0.9423, 0.8031, 0.8593),
    PublishedRow("report", "bce", "DRS", False, 61.71, 0.9545, 0.7687, 0.8752),
    PublishedRow("report", "bce", "DRS + soft trunc.", True, 103.27, 0.9569, 0.7720, 0.8748),
    PublishedRow("report", "kl", "DRS", False, 24.02, 0.9439, 0.8176, 0.8963),
    PublishedRow("report", "rkl", "DRS", False, 58.33, 0.9372, 0.7398, 0.8878),
)
SLIDES_DRS_TABLE = (
    PublishedRow("slides", "js", "DRS only", False, 47.7, 0.61, 0.61, None),
    PublishedRow("slides", "js", "DRS w/ soft trunc.", True, 59.7, 0.67, 0.53, None),
)
PUBLISHED = REPORT_TABLE_1 + SLIDES_DRS_TABLE
REPORT_BEST_FID = (20.95, -2.0)  # the report's best FID over its γ sweep: KL at γ offset −2 (≈ 6 % acceptance)
