"""Read models derived from the log: arrears, breaches, compensation, accountability,
document index.

Every projection is a pure function of (log prefix, as_of). State is folded per
subject (one contract, commitment or complaint stream) plus small global reference
data; results for ``at=N`` use only the facts from leaves below N.
"""

from projections.accountability import accountability_rows
from projections.arrears import arrears_rows, arrears_totals
from projections.breaches import breach_rows
from projections.calendar import BusinessCalendar, period_end
from projections.commitments import apply_commitment
from projections.compensation import compensation_rows
from projections.complaints import apply_complaint
from projections.contracts import apply_contract
from projections.documents import DocumentIndex
from projections.engine import Projector, compute_all
from projections.reference import Reference, ReferenceView
from projections.rules import RULES
from projections.subjects import SubjectState, apply_event, fold, subject_key, subject_parties

__all__ = [
    "RULES",
    "BusinessCalendar",
    "DocumentIndex",
    "Projector",
    "Reference",
    "ReferenceView",
    "SubjectState",
    "accountability_rows",
    "apply_commitment",
    "apply_complaint",
    "apply_contract",
    "apply_event",
    "arrears_rows",
    "arrears_totals",
    "breach_rows",
    "compensation_rows",
    "compute_all",
    "fold",
    "period_end",
    "subject_key",
    "subject_parties",
]
