"""zipsift: select and curate fine-tuning data on CPUs.

ZIP-FIT compression alignment (``ZipFit``, ``alignment``, ``ncd_matrix``) with an exact,
multithreaded native core; streaming readers and atomic writers in ``zipsift.io``.
"""
__version__ = "0.1.0"

from .ncd import TargetSet, alignment, build_info, codecs, compressed_sizes, ncd_matrix
from .topk import ScoredRecord
from .zipfit import ZipFit

__all__ = [
    "__version__",
    "codecs",
    "build_info",
    "compressed_sizes",
    "ncd_matrix",
    "alignment",
    "TargetSet",
    "ZipFit",
    "ScoredRecord",
]
