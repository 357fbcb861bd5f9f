"""zipsift: select and curate fine-tuning data on CPUs.

ZIP-FIT compression alignment (``ZipFit``, ``alignment``, ``ncd_matrix``) with an exact,
multithreaded native core; compression gain against zstd dictionaries of the targets
(``CompressionGain``); DSIR importance resampling over hashed n-grams (``DSIR``,
``HashedNgrams``); model-free selection-quality proxies (``SelectionEvaluator``); streaming readers
and atomic writers in ``zipsift.io``.
"""
__version__ = "0.1.0"

from .ncd import TargetSet, alignment, build_info, codecs, compressed_sizes, ncd_matrix
from .dsir import DSIR
from .evaluate import SelectionEvaluator
from .ngram import HashedNgrams, hashed_ngram_counts
from .stream import ScoredRecord
from .zipfit import ZipFit
from .gain import CompressionGain

__all__ = [
    "__version__",
    "codecs",
    "build_info",
    "compressed_sizes",
    "ncd_matrix",
    "alignment",
    "TargetSet",
    "ZipFit",
    "CompressionGain",
    "ScoredRecord",
    "DSIR",
    "HashedNgrams",
    "hashed_ngram_counts",
    "SelectionEvaluator",
]
