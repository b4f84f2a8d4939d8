"""The KV cache across turns: a chat's next turn prefills only its own tokens and answers as a
fresh prefill of the whole chat would; Stop lands between prefill chunks; a chat too long for
the context drops its oldest turns. SmolLM2 in the page on the path the device runs by default
(on SwiftShader the op graph), and a tiny model on the fused path with its decoding on the GPU."""


from conftest import assert_close, decode

SETUP = """
from pyapp.runtime.page import app
from pyapp.runtime.model.model import Model
from pyapp.runtime.model.sampling import Sampling
from pyapp.runtime.page.session import ChatSession
from e2e import b64
m0 = app.page.model
m = Model(m0.device, m0.cfg, m0.weights, m0.tok, max_context=ARGS.get("cmax", 256), prefill_rows=16,
          fused=ARGS["fused"])
await m.prepare()

async def quiet(piece, count):
    pass
"""


def test_the_second_turn_prefills_only_its_own_tokens(model_app):
    r = model_app.py(SETUP + """
chat = ChatSession(m)
ids1, r1 = await chat.turn("What is the capital of France?", "chat", 6, Sampling(), quiet)
kept = list(m.cached_ids)
ids2, r2 = await chat.turn("And of Italy?", "chat", 6, Sampling(), quiet)
again = await m.generate(ids2, Sampling(), 6, record_logits=True, reuse_cache=True)
fresh = await m.generate(ids2, Sampling(), 6, record_logits=True)
RESULT = {"ids1": ids1, "gen1": r1.generated_ids, "kept": kept, "ids2": ids2, "reused": r2.reused_tokens,
          "prefilled": r2.prefilled_tokens, "gen2": r2.generated_ids, "again_reused": again.reused_tokens,
          "again": again.generated_ids, "fresh": fresh.generated_ids, "fresh_reused": fresh.reused_tokens,
          "again_logits": [b64(x) for x in again.logits], "fresh_logits": [b64(x) for x in fresh.logits]}
""", fused=None)
    ids1, ids2, kept = r["ids1"], r["ids2"], r["kept"]
    assert kept == (ids1 + r["gen1"])[:len(kept)] and len(kept) == len(ids1) + len(r["gen1"]) - 1
    shared = next(i for i, (a, b) in enumerate(zip(kept + [-1], ids2)) if a != b)
    assert shared > len(ids1)  # the first turn's prompt and most of its answer are reused
    assert r["reused"] == shared and r["prefilled"] == len(ids2) - shared < len(ids2) // 2
    assert r["again_reused"] == len(ids2) - 1 and r["fresh_reused"] == 0  # all but the last token cached
    assert r["gen2"] == r["fresh"] == r["again"]
    for i, (got, want) in enumerate(zip(r["again_logits"], r["fresh_logits"])):
        assert_close(decode(got), decode(want), what=f"cached prefix vs fresh prefill, step {i}")


def test_reuse_on_the_fused_path_with_decoding_on_the_gpu(tiny_mounted):
    """Batches of GPU-fed steps run past a stop; only the steps up to the last kept token count."""
    r = tiny_mounted.py("""
        from pyapp.runtime.page import app
        from pyapp.runtime.page import bundle
        from pyapp.runtime.model.sampling import Sampling
        from e2e import b64
        m = (await bundle.open_model(app.page.device, "/files/tiny_kquant/", kernel_style="lanes", fused=True)).model
        ids1 = [5, 17, 30, 8, 12, 44, 3]
        g1 = await m.generate(ids1, Sampling(), 5, reuse_cache=True)
        ids2 = ids1 + g1.generated_ids + [9, 21, 7]
        g2 = await m.generate(ids2, Sampling(), 9, reuse_cache=True)
        fresh = await m.generate(ids2, Sampling(), 9)
        logged = await m.generate(ids2, Sampling(), 9, record_logits=True, reuse_cache=True)
        logged_fresh = await m.generate(ids2, Sampling(), 9, record_logits=True)
        RESULT = {"fused": m.fused, "n1": len(g1.generated_ids), "reused": g2.reused_tokens, "g2": g2.generated_ids,
                  "fresh": fresh.generated_ids, "logged": logged.generated_ids,
                  "logits": [[b64(a), b64(b)] for a, b in zip(logged.logits, logged_fresh.logits)]}
    """)
    assert r["fused"] and r["n1"] == 5 and r["reused"] == 7 + 5 - 1
    assert r["g2"] == r["fresh"] == r["logged"]
    for i, (got, want) in enumerate(r["logits"]):
        assert_close(decode(got), decode(want), what=f"cached prefix vs fresh prefill, step {i}")


def test_stop_lands_between_prefill_chunks_and_leaves_a_valid_cache(model_app):
    """should_stop is asked after each chunk; at most the chunk already queued runs after it, and
    the Generation counts the tokens that really ran."""
    # (the page's e2e test stops a long prompt with two chunks in flight: test_chat_page.py)
    r = model_app.py(SETUP + """
ids = m.tok.encode("Once upon a time, " * 20)
asked = []
stopped = await m.generate(ids, Sampling(), 4, should_stop=lambda: asked.append(1) or True, reuse_cache=True)
chunks = m.prefill_graph.executions
after = await m.generate(ids[:40], Sampling(), 4, record_logits=True, reuse_cache=True)
fresh = await m.generate(ids[:40], Sampling(), 4, record_logits=True)
RESULT = {"n": len(ids), "reason": stopped.stop_reason, "generated": stopped.generated_ids, "chunks": chunks,
          "prefilled": stopped.prefilled_tokens, "timed": m.prefill_chunk,
          "asked": len(asked), "after_reused": after.reused_tokens, "after": after.generated_ids,
          "fresh": fresh.generated_ids, "logits": [[b64(a), b64(b)] for a, b in zip(after.logits, fresh.logits)]}
""", fused=None)
    assert r["n"] > 5 * 16 and r["reason"] == "stopped" and r["generated"] == []
    # a model that timed no chunk yet runs its first (8 rows) alone: asked after it, nothing queued
    assert r["asked"] == 1 and r["chunks"] == 1 and r["prefilled"] == 8
    assert r["timed"] >= 2  # the next chunk's rows, from the first one's time
    assert r["after_reused"] == r["prefilled"] and r["after"] == r["fresh"]  # the chunk's keys and values hold
    for i, (got, want) in enumerate(r["logits"]):
        assert_close(decode(got), decode(want), what=f"after a stopped prefill, step {i}")


def test_a_chat_past_the_context_drops_its_oldest_turns_and_says_so(model_app):
    r = model_app.py(SETUP + """
chat = ChatSession(m)
turns = []
for q in ["Name three colors, please, with a word about each.", "Name three animals, please.",
          "Name three fruits, please.", "Name three rivers, please."]:
    ids, g = await chat.turn(q, "chat", 8, Sampling(), quiet)
    turns.append({"n": len(ids), "notice": chat.notice, "first": chat.messages[0]["content"],
                  "roles": [x["role"] for x in chat.messages], "gen": g.generated_ids})
last = await m.generate(ids, Sampling(), 8)
RESULT = {"turns": turns, "fresh": last.generated_ids}
""", fused=None, cmax=80)
    turns = r["turns"]
    assert all(t["n"] <= 80 - 8 for t in turns)  # room left for each answer
    dropped = [t for t in turns if "oldest turn" in t["notice"]]
    assert dropped and "fit the context of 80 tokens" in dropped[0]["notice"]
    assert turns[-1]["first"] != "Name three colors, please, with a word about each."
    assert turns[-1]["roles"][-1] == "assistant" and turns[-1]["roles"].count("user") < 4
    assert turns[-1]["gen"] == r["fresh"]
