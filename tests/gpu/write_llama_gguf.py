#!/usr/bin/env python3
"""Write a llama-architecture GGUF with random weights (seeded, so the file is reproducible).

Used by the molecule scenario (tiny shapes, F32, seconds) and by the GPU check (llama2-7B shapes, F16, then
quantised with llama-quantize). Every token string is unique: 3 specials, the 256 byte tokens, then words.
Usage: write_llama_gguf.py OUT [--preset tiny|llama2-7b] [--name NAME] [--seed N] [--ctx N] [--f16]
"""

from __future__ import annotations

import argparse

import numpy as np

import gguf

PRESETS = {
    "tiny": {"vocab": 512, "embd": 64, "layers": 2, "heads": 4, "heads_kv": 2, "ff": 128, "ctx": 512},
    "llama2-7b": {"vocab": 32000, "embd": 4096, "layers": 32, "heads": 32, "heads_kv": 32, "ff": 11008, "ctx": 4096},
}


def vocabulary(size):
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    word = 0
    while len(tokens) < size:
        tokens.append("\u2581w%d" % word)
        types.append(gguf.TokenType.NORMAL)
        word += 1
    assert len(set(tokens)) == len(tokens), "token strings must be unique"
    scores = [0.0] * 259 + [-float(i) for i in range(len(tokens) - 259)]
    return tokens, scores, types


def write(path, shape, name, seed, f16):
    rng = np.random.default_rng(seed)
    dtype = np.float16 if f16 else np.float32

    def weights(*dims):
        return (rng.standard_normal(dims, dtype=np.float32) * 0.02).astype(dtype)

    def norm(n):
        return np.ones(n, dtype=np.float32)

    embd, heads, heads_kv = shape["embd"], shape["heads"], shape["heads_kv"]
    embd_kv = embd // heads * heads_kv
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(name)
    writer.add_context_length(shape["ctx"])
    writer.add_embedding_length(embd)
    writer.add_block_count(shape["layers"])
    writer.add_feed_forward_length(shape["ff"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(heads_kv)
    writer.add_rope_dimension_count(embd // heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    tokens, scores, types = vocabulary(shape["vocab"])
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    # numpy shapes are GGML's ne reversed: (rows, columns).
    writer.add_tensor("token_embd.weight", weights(shape["vocab"], embd))
    for layer in range(shape["layers"]):
        prefix = "blk.%d." % layer
        writer.add_tensor(prefix + "attn_norm.weight", norm(embd))
        writer.add_tensor(prefix + "attn_q.weight", weights(embd, embd))
        writer.add_tensor(prefix + "attn_k.weight", weights(embd_kv, embd))
        writer.add_tensor(prefix + "attn_v.weight", weights(embd_kv, embd))
        writer.add_tensor(prefix + "attn_output.weight", weights(embd, embd))
        writer.add_tensor(prefix + "ffn_norm.weight", norm(embd))
        writer.add_tensor(prefix + "ffn_gate.weight", weights(shape["ff"], embd))
        writer.add_tensor(prefix + "ffn_up.weight", weights(shape["ff"], embd))
        writer.add_tensor(prefix + "ffn_down.weight", weights(embd, shape["ff"]))
    writer.add_tensor("output_norm.weight", norm(embd))
    writer.add_tensor("output.weight", weights(shape["vocab"], embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--name", default="random-llama")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ctx", type=int, default=0, help="trained context length (default: the preset's)")
    parser.add_argument("--f16", action="store_true", help="F16 weights (default F32)")
    args = parser.parse_args()
    shape = dict(PRESETS[args.preset])
    if args.ctx:
        shape["ctx"] = args.ctx
    write(args.out, shape, args.name, args.seed, args.f16)


if __name__ == "__main__":
    main()
