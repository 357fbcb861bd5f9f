"""Prompt templates for in-context augmentation. Placeholders are the literal strings ``{text}``
(the document or sentence) and ``{corpus}`` (the training set, global augmentation only); nothing
else in a template is interpreted, so braces elsewhere are safe."""
from __future__ import annotations

__all__ = ["LOCAL_TEMPLATE", "GLOBAL_TEMPLATE", "render"]

LOCAL_TEMPLATE = """\
Read the text below and write out what it says in other ways. List rephrasings of each statement, \
reversals of each relation (if A is taller than B, then B is shorter than A), and inferences that \
follow directly from it. Write one complete, self-contained sentence per line and nothing else. \
Do not add facts that do not follow from the text.

Example
Text: The Nile is longer than the Danube. The Danube flows into the Black Sea.
Inferences:
The Danube is shorter than the Nile.
The Nile's length exceeds the Danube's.
The Black Sea receives the water of the Danube.
The Danube ends in the Black Sea.

Text: {text}
Inferences:
"""

GLOBAL_TEMPLATE = """\
Here is a collection of documents.

{corpus}

Now consider this document:
{text}

Think about how this document relates to the other documents in the collection. Write the \
inferences that link it to them: conclusions that follow from combining it with other documents \
(chains of relations, syllogisms, reversals involving several documents). Write one complete, \
self-contained sentence per line and nothing else. Do not add facts that do not follow.
Inferences:
"""


def check_template(template: str, placeholders) -> str:
    if not isinstance(template, str):
        raise ValueError(f"template must be a str, got {type(template).__name__}")
    missing = [p for p in placeholders if "{" + p + "}" not in template]
    if missing:
        raise ValueError(f"template must contain the placeholder(s) {', '.join('{' + p + '}' for p in missing)}")
    return template


def render(template: str, **values: str) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]`` (plain replacement, no format())."""
    out = template
    # replace longest names first so {text} inside an inserted corpus is never re-expanded
    parts = out.split("{corpus}") if "corpus" in values else [out]
    parts = [p.replace("{text}", values["text"]) if "text" in values else p for p in parts]
    return values.get("corpus", "{corpus}").join(parts) if "corpus" in values else parts[0]
