"""In-context augmentation of fine-tuning data (Lampinen et al. 2025).

``local_augment`` and ``global_augment`` turn a model's in-context inferences about each training
document into new training examples; ``OpenAIChat`` talks to any OpenAI-compatible server;
``LocalChat`` runs a local transformers chat model (the ``lm`` extra);
``split_sentences`` / ``sentence_examples`` cut documents into examples; ``reversal_dataset`` and
``syllogism_dataset`` build the paper's controlled nonsense-word test sets.
"""
from .client import GenerationError, OpenAIChat
from .datasets import COMPARATIVES, ENGLISH_WORDS, nonsense_words, reversal_dataset, syllogism_dataset
from .local_model import LocalChat
from .icl import NEAR_THRESHOLD, global_augment, local_augment, parse_inferences, sentence_examples
from .prompts import GLOBAL_TEMPLATE, LOCAL_TEMPLATE
from .sentences import split_sentences

__all__ = ["local_augment", "global_augment", "parse_inferences", "sentence_examples", "split_sentences",
           "OpenAIChat", "LocalChat", "GenerationError", "LOCAL_TEMPLATE", "GLOBAL_TEMPLATE", "NEAR_THRESHOLD",
           "reversal_dataset", "syllogism_dataset", "nonsense_words", "COMPARATIVES", "ENGLISH_WORDS"]
